#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang, ASan and UBSan, and runs each
# for a bounded time from its seed corpus (hostile input: README.md, "Hostile clients and memory bounds").
#   scripts/fuzz.sh              60 s per target (what CI runs)
#   FUZZ_SECONDS=3600 scripts/fuzz.sh   longer runs
#   scripts/fuzz.sh codec_fuzzer        one target
# New inputs found are kept in build-fuzz/corpus-*/ (not in the repository);
# a crash leaves build-fuzz/crash-* and fails the script: turn it into a
# regression test (tests/protocol or tests/worker) and fix it.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(codec_fuzzer handler_fuzzer proxy_header_fuzzer forwarded_for_fuzzer)

if ! command -v clang++-14 >/dev/null || [ ! -e /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq clang-14 libclang-rt-14-dev >/dev/null
fi

if [ ! -d build-fuzz ]; then
  CXX=clang++-14 CC=clang-14 meson setup build-fuzz --buildtype=debugoptimized -Dfuzzing=true -Dtests=false \
    -Dsystemd=disabled -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=false
fi
echo "=== building fuzz targets"
meson compile -C build-fuzz -j2 "${targets[@]}"

export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "${targets[@]}"; do
  seeds=fuzz/corpus/${t%_fuzzer}
  work=build-fuzz/corpus-${t%_fuzzer}
  mkdir -p "$work"
  echo "=== fuzzing $t for ${seconds} s (seeds: $seeds)"
  # -max_len: frames beyond 64 KiB add nothing the codec has not seen at 64 KiB.
  log=build-fuzz/$t.log
  status=0
  ./build-fuzz/fuzz/"$t" "$work" "$seeds" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
    -artifact_prefix=build-fuzz/ -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY)" "$log" || true
  if [ "$status" -ne 0 ]; then
    echo "=== $t failed (exit $status); the input is in build-fuzz/ (crash-*, leak-*, timeout-*, oom-*):"
    grep -E "ERROR|SUMMARY|^    #[0-9]+ " "$log" | head -40
    exit 1
  fi
done
echo "=== fuzzing passed"
