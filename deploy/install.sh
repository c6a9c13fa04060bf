#!/usr/bin/env bash
# Installs vauchi-relay as a systemd service on Debian 12: builds a release
# binary, creates the static user, installs the unit and an environment file
# (kept if present), and enables and starts the service.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
meson setup build-install --buildtype=release -Dtests=false --prefix=/usr/local 2>/dev/null ||
  meson configure build-install --buildtype=release -Dtests=false --prefix=/usr/local
meson compile -C build-install -j2
meson install -C build-install

getent group vauchi-relay >/dev/null || groupadd --system vauchi-relay
getent passwd vauchi-relay >/dev/null ||
  useradd --system --gid vauchi-relay --home-dir /var/lib/vauchi-relay --shell /usr/sbin/nologin vauchi-relay
install -d -m 0755 /etc/vauchi-relay
[ -f /etc/vauchi-relay/vauchi-relay.env ] ||
  install -m 0640 -g vauchi-relay deploy/vauchi-relay.env.example /etc/vauchi-relay/vauchi-relay.env

systemctl daemon-reload
systemctl enable --now vauchi-relay.service
systemctl --no-pager status vauchi-relay.service || true
