#!/usr/bin/env bash
# Installs what imsgw needs on Debian 12 (run as root), and only what is missing, so it is quick
# once everything is there. apt packages by name; npm packages from the committed lock file.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_pkgs=(
  build-essential cmake pkg-config curl
  libwebsockets-dev libwebsockets-evlib-ev libev-dev libglib2.0-dev
  libsofia-sip-ua-dev libsofia-sip-ua-glib-dev
  libjansson-dev libssl-dev libsqlite3-dev libargon2-dev
  libcmocka-dev sip-tester chromium
  clang libclang-rt-14-dev python3-cryptography
  sipvicious
  sqlite3 openssl util-linux
  rtpengine-daemon
  postgresql libpq-dev
  haproxy
  kamailio kamailio-ims-modules kamailio-presence-modules
  systemd
  podman runc debootstrap podman-compose docker-compose netavark aardvark-dns iptables uidmap
  kamailio-websocket-modules valgrind
)
# Node.js: Debian's nodejs + npm unless a Node.js with npm is already installed.
command -v node >/dev/null 2>&1 || apt_pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || apt_pkgs+=(npm)

missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages and not root; run: sudo $0" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm ci only when the lock file changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.imsgw-lock; then
  echo "deps: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.imsgw-lock
fi
