#!/usr/bin/env bash
# Store v2 before and after in one run (bench/README.md, "Store v2"): builds
# the release relay of this tree (build-release) and of the last commit
# before Store v2 (build-before, from a git worktree), then runs
# bench/store_v2.py. Options go to store_v2.py (--rounds 1 for a short run).
set -euo pipefail
cd "$(dirname "$0")/.."

# The last commit with the layout-2 store (before docs/store.md's design landed).
BEFORE_COMMIT=f4d7744

PY=python3
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; fi

if [ ! -f build-release/build.ninja ]; then
  nice -n 10 meson setup build-release --buildtype=release -Dtests=false
fi
nice -n 10 meson compile -C build-release -j2 vauchi-relay loadgen

if [ ! -d .bench-before ]; then
  git worktree add --detach .bench-before "$BEFORE_COMMIT"
fi
if [ ! -f build-before/build.ninja ]; then
  nice -n 10 meson setup build-before .bench-before --buildtype=release -Dtests=false
fi
nice -n 10 meson compile -C build-before -j2 vauchi-relay

exec "$PY" bench/store_v2.py --build build-release --before build-before "$@"
