#!/usr/bin/env bash
# The benchmark (bench/README.md) in one command: builds the release binaries (the
# relay, the floor server and the load generator), runs every scenario against
# the floor and the relay with --workers 1 and 2, and writes
# bench/results/RESULTS.md and the plots. bench/README.md explains it.
#
#   bench/run.sh            full run: 3 rounds, medians (about 20 minutes on 2 cores)
#   bench/run.sh --quick    smoke run, one round, a few seconds per scenario
#   bench/run.sh --rounds 1 one round of the full run (about 7 minutes)
#   bench/run.sh --help     every option of bench/run.py
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's interpreter. The scripts need only its standard library: the plots
# are written as SVG (bench/svg_plot.py), since python3-matplotlib would pull
# in libboost-dev 1.74, which conflicts with libboost1.81-dev.
PY=python3
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; fi

if [ ! -f build-release/build.ninja ]; then
  echo "bench: configuring build-release"
  nice -n 10 meson setup build-release --buildtype=release -Dtests=false
fi
echo "bench: building the relay, the floor and the load generator (release)"
nice -n 10 meson compile -C build-release -j2 vauchi-relay echo_floor loadgen

exec "$PY" bench/run.py --build build-release "$@"
