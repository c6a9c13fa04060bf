#!/usr/bin/env bash
# One command to try the relay: install what is missing, build (release), and
# start it in the foreground on 127.0.0.1:8080 with its store in ./data.
# Extra arguments go to vauchi-relay (e.g. --workers 4); Ctrl-C drains and stops.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
if [ ! -d build-release ]; then
  meson setup build-release --buildtype=release -Dtests=false
fi
meson compile -C build-release -j2 vauchi-relay
exec build-release/supervisor/vauchi-relay --data-dir "${RELAY_DATA_DIR:-./data}" "$@"
