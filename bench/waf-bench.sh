#!/usr/bin/env bash
# make bench (WAF part): refresh-grant tokens/s, sign-ins/s at the default argon2id cost, and the
# machine's ES256 signing limit for comparison. Loopback only, about 20 s in all.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
echo "== imsgw-waf bench ($(nproc) cores) =="
IMSGW_BIN_DIR="$(cd "$build" && pwd)" timeout 120 node bench/waf-bench.mjs
# openssl speed prints sign/s and verify/s; keep the P-256 line.
sign=$(timeout 30 openssl speed -seconds 2 ecdsap256 2>/dev/null | awk '/256 bits ecdsa \(nistp256\)/ {print $(NF-1)}')
echo "ES256 sign limit (openssl speed ecdsap256, 1 core): ${sign:-?} signs/s"
