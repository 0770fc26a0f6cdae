#!/usr/bin/env bash
# Container helpers for podman on Debian 12 (docs/deploy.md). Subcommands:
#   base      builds docker.io/library/debian:bookworm from the machine's own Debian mirror
#             (debootstrap + podman import) unless it exists: FROM debian:bookworm then
#             resolves locally, no Docker Hub needed.
#   build [DIR]  base, then the imsgw image from DIR (default: this checkout); podman caches the
#             layers, so only what changed is rebuilt.
#   compose   ARGS...: podman-compose with the project's containers.conf.
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
}

case "${1:-}" in
base) base ;;
build) shift; build "$@" ;;
compose) shift; exec podman-compose -p "${IMSGW_PROJECT:-imsgw}" -f docker/compose.yml "$@" ;;
*) echo "usage: $0 base|build|compose ARGS..." >&2; exit 2 ;;
esac
