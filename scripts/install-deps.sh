#!/usr/bin/env bash
# Installs the Debian 12 packages needed to build and test vauchi-relay, if any
# is missing. Boost 1.81 comes from the libboost*1.81-dev packages: Debian's
# default Boost 1.74 has no Boost.JSON.
set -euo pipefail

packages=(
  g++ meson ninja-build pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-program-options1.81-dev libboost-test1.81-dev
  libssl-dev libsystemd-dev
  curl systemd
  clang-format  # the formatting check of scripts/test.sh (.clang-format)
  python3-dissononce  # independent Noise implementation for the interop test (tests/noise/interop)
  nginx haproxy  # the TLS proxies of the proxy tests (tests/integration/tls_proxy_test.cpp)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all build dependencies present"
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
# nginx and haproxy would start their system services (port 80) on install:
# the tests run them as their own processes instead. A policy-rc.d that
# answers 101 forbids every service start for the install's duration.
policy=/usr/sbin/policy-rc.d
own_policy=false
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod 755 "$policy"
  own_policy=true
fi
trap 'if [ "$own_policy" = true ]; then $sudo rm -f "$policy"; fi' EXIT
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
