#!/usr/bin/env bash
# The systemd units of docker/systemd/ pass `systemd-analyze verify` (which works without systemd
# as PID 1: it parses the units, checks every key and that ExecStart names an executable) with no
# message at all — an unknown key or a bad value is only a warning there, so any output fails —
# and keep the hardening docs/deploy.md promises. ExecStart is pointed at this build's binaries.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for unit in "$src"/docker/systemd/*.service; do
  name=$(basename "$unit" .service)
  case $name in
  imsgw-waf) bin=$build/waf/imsgw-waf ;;
  imsgw-gateway) bin=$build/gateway/imsgw-gateway ;;
  imsgw-ims-stub) bin=$build/ims-stub/imsgw-ims-stub ;;
  *) echo "unexpected unit $name" >&2; exit 1 ;;
  esac
  sed "s|/usr/bin/$name|$bin|" "$unit" >"$tmp/$name.service"
  for key in DynamicUser=yes NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes \
    PrivateTmp=yes RestrictAddressFamilies= SystemCallFilter=@system-service CapabilityBoundingSet=; do
    grep -q "^$key" "$unit" || { echo "$name: missing $key" >&2; exit 1; }
  done
done
grep -q '^StateDirectory=imsgw-waf' "$src/docker/systemd/imsgw-waf.service" ||
  { echo "imsgw-waf: missing StateDirectory" >&2; exit 1; }
out=$(systemd-analyze verify "$tmp"/*.service 2>&1) || { echo "$out" >&2; exit 1; }
[ -z "$out" ] || { echo "systemd-analyze verify reported:" >&2; echo "$out" >&2; exit 1; }
echo "systemd units verified: $(ls "$tmp" | tr '\n' ' ')"
