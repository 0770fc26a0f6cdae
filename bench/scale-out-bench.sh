#!/usr/bin/env bash
# Scale-out benchmark (docs/scale-out.md, issue 15): the multi-host topology of tests/scale/ in
# network namespaces (HAProxy, three gateways, two WAFs on one PostgreSQL, the IMS stub) with
# CLIENTS (3000) WebSocket clients through the balancer: a registration storm, one gateway killed
# and its clients back through the balancer, then ROTATIONS (500) refresh-token rotations over the
# two WAFs. Needs root (network namespaces); skipped with a note where they cannot be made.
set -uo pipefail
cd "$(dirname "$0")/.."
build=$(cd "${1:-build}" && pwd)
echo "== scale-out: ${CLIENTS:-3000} clients, 3 gateways, 2 WAFs ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uptime | sed 's/.*load average/load average/'))"
IMSGW_BIN_DIR="$build" timeout 900 tests/scale/netns.sh node tests/scale/bench.mjs
rc=$?
[ "$rc" -eq 77 ] && { echo "scale-out: skipped (see above)"; exit 0; }
exit "$rc"
