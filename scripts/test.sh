#!/usr/bin/env bash
# One command for every test: install what is missing, build, and run all unit
# and integration suites twice: a normal build, then an ASan+UBSan build.
# The sanitizer build also compiles the kill points and runs the fault-injection
# suite. Then each libFuzzer target runs for 60 s (scripts/fuzz.sh), and the
# benchmark's smoke run (bench/run.sh --quick) checks that the documented
# benchmark command still works; its figures are not judged here.
# --quick skips the sanitizer pass, the fuzzing and the benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=false
[ "${1:-}" = "--quick" ] && quick=true

scripts/install-deps.sh
# Every docs/…#anchor, PROTOCOL §, DESIGN §, D-n and Q-n cited resolves in docs/.
scripts/check-doc-refs.py
# Every C++ file is formatted as .clang-format says (clang-format -i FILE fixes one).
git ls-files '*.cpp' '*.hpp' | grep -v '^tests/data/' | xargs clang-format --dry-run -Werror

run_suite() {
  local dir=$1; shift
  if [ ! -d "$dir" ]; then
    meson setup "$dir" "$@"
  fi
  echo "=== building $dir"
  meson compile -C "$dir" -j2
  echo "=== testing $dir"
  meson test -C "$dir" --print-errorlogs --num-processes 2
}

run_suite build-test --buildtype=debugoptimized
if ! $quick; then
  # Leak checking stays off: workers leave by _exit() on purpose after fork.
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite build-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false -Dfault_injection=true
  scripts/fuzz.sh
  bench_out=$(mktemp -d)
  bench/run.sh --quick --out "$bench_out"
  rm -rf "$bench_out"
fi
echo "=== all tests passed"
