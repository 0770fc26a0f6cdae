#!/usr/bin/env bash
# Container helpers for podman on Debian 12 (docs/deploy.md). Subcommands:
#   base      builds docker.io/library/debian:bookworm from the machine's own Debian mirror
#             (debootstrap + podman import) unless it exists: FROM debian:bookworm then
#             resolves locally, no Docker Hub needed.
#   build [DIR]  base, then the imsgw image from DIR (default: this checkout); podman caches the
#             layers, so only what changed is rebuilt.
#   compose   ARGS...: podman-compose with the project's containers.conf.
#   up        build, then the demo stack up (make compose): prints the URL and demo users.
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF="$PWD/docker/podman/containers.conf"
IMAGE=${IMSGW_IMAGE:-localhost/imsgw:latest}
BASE=docker.io/library/debian:bookworm

# The first URIs of the apt sources: the mirror this machine already trusts.
mirror() {
  local m
  m=$(grep -hE '^\s*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2; exit}')
  [ -n "$m" ] || m=$(grep -hE '^\s*deb\s' /etc/apt/sources.list 2>/dev/null | awk '{print $2; exit}')
  echo "${m:-http://deb.debian.org/debian}"
}

base() {
  podman image exists "$BASE" && return 0
  local dir
  dir=$(mktemp -d /var/tmp/imsgw-debootstrap.XXXXXX)
  trap 'rm -rf "$dir"' RETURN
  echo "containers: debootstrap bookworm from $(mirror) (once; cached as $BASE)"
  debootstrap --variant=minbase bookworm "$dir" "$(mirror)" >"$dir.log" 2>&1 ||
    { tail -20 "$dir.log" >&2; rm -f "$dir.log"; return 1; }
  rm -f "$dir.log"
  # The mirror inside the image is the same one, so apt-get in a build works offline from Hub.
  rm -rf "$dir/var/cache/apt/archives/"*.deb "$dir/var/lib/apt/lists/"*
  tar -C "$dir" -c . | podman import - "$BASE" >/dev/null
}

# The build context: a directory (default: this checkout, minus .dockerignore's entries).
build() {
  local ctx=${1:-.}
  base
  # The web client's vendored JsSIP, made from the npm lock file on the host (see Dockerfile).
  node scripts/build-wic.mjs
  if [ "$ctx" != . ]; then
    mkdir -p "$ctx/wwsf-static/vendor"
    cp wwsf-static/vendor/jssip.js "$ctx/wwsf-static/vendor/"
  fi
  podman build --pull=never --network host --layers -f "$ctx/docker/Dockerfile" -t "$IMAGE" "$ctx"
  # The previous image of the tag is now dangling: drop it (cached layers in use are kept).
  podman image prune -f >/dev/null
}

up() {
  build
  local log
  log=$(mktemp)
  podman-compose -p "${IMSGW_PROJECT:-imsgw}" -f docker/compose.yml up -d >"$log" 2>&1 ||
    { cat "$log" >&2; rm -f "$log"; return 1; }
  rm -f "$log"
  local i
  for i in $(seq 120); do
    curl -fsk --max-time 2 https://127.0.0.1:8443/healthz >/dev/null 2>&1 && break
    sleep 1
  done
  cat <<MSG

  imsgw demo stack is running (podman-compose project ${IMSGW_PROJECT:-imsgw}).
  Open:      https://localhost:8443/   (demo certificate: accept it here and once at https://localhost:9443/)
  Demo users (IMPU sip:NAME@ims.test):
$(podman exec "${IMSGW_PROJECT:-imsgw}_waf_1" cat /var/lib/imsgw/waf/demo-credentials.txt |
    sed 's/^\([^ ]*\) \(.*\)$/    \1  password: \2/')
  Stop:      scripts/containers.sh compose down   (-v also drops the WAF's data)

MSG
}

case "${1:-}" in
up) up ;;
base) base ;;
build) shift; build "$@" ;;
compose) shift; exec podman-compose -p "${IMSGW_PROJECT:-imsgw}" -f docker/compose.yml "$@" ;;
*) echo "usage: $0 base|build [DIR]|up|compose ARGS..." >&2; exit 2 ;;
esac
