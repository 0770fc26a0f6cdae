#!/usr/bin/env bash
# Instructions per REGISTER in the gateway (valgrind callgrind): a figure that does not depend on
# the machine's load, for measuring each per-REGISTER cost reduction (docs/benchmarks.md).
# Gateway under callgrind (one process: --workers 1, as callgrind_control reaches only the one it
# started) + stub + reg_load (10 connections, closed loop, token cache on);
# counters are zeroed after a warm-up, then REGISTERs counted via /metrics. Not part of make bench
# (slow); run: bench/callgrind-register.sh [build] [seconds]; GW_ARGS adds gateway flags (e.g.
# GW_ARGS="--token-cache-size 0": a signature verified per REGISTER). Output: Ir per REGISTER and the top
# functions (inclusive) in /tmp/imsgw-callgrind-last/.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
build=${1:-build}
secs=${2:-10}
bench_setup imsgw-callgrind
jwks_port=$(free_port); stub_port=$(free_port); gw_port=$(free_port); gw_sip=$(free_port)
start_token_server "$jwks_port" 100 100
# shellcheck disable=SC2119 # the stub with its defaults
start_stub
valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out" \
  "${GW_BIN:-$build/gateway/imsgw-gateway}" --port "$gw_port" --sip-listen "sip:127.0.0.1:$gw_sip" --workers 1 \
  --next-hop "sip:127.0.0.1:$stub_port;transport=tcp" --authz-server "http://127.0.0.1:$jwks_port" \
  ${GW_ARGS:-} 2>"$dir/gw.log" & gw_pid=$!; pids+=($gw_pid)
wait_healthz "$gw_port" 300
url="ws://127.0.0.1:$gw_port/sip"
regs() { curl -s "http://127.0.0.1:$gw_port/metrics" | awk '/^imsgw_register_total\{outcome="ok"\}/ {print $2}'; }
timeout 60 "$build/bench/reg_load" --url "$url" --tokens "$dir/tokens" --connections 10 --duration 2 >/dev/null
callgrind_control -z "$gw_pid" >/dev/null
before=$(regs)
timeout $((secs + 60)) "$build/bench/reg_load" --url "$url" --tokens "$dir/tokens" --connections 10 --duration "$secs" >"$dir/load.out"
after=$(regs)
callgrind_control -d "$gw_pid" >/dev/null
sleep 1
out=$(ls -t "$dir"/callgrind.out* | head -1)
# The two /metrics requests are in the count too; they are a few thousand instructions each.
ir=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
n=$((after - before))
# The load tool's 10 connections close when it exits, inside the counted window: a fixed cost
# (~1.2 M instructions each: de-registration, reg-event unsubscribe) that would make runs with
# different REGISTER counts incomparable; also stated without it.
closes=$(callgrind_annotate --inclusive=yes "$out" 2>/dev/null |
  awk '/:lws_close_free_wsi \[/ && !c {gsub(",", "", $1); c = $1} END {print c + 0}')
echo "registers=$n instructions=$ir instructions_per_register=$((ir / n))" \
  "without_connection_closes=$(((ir - ${closes:-0}) / n))"
callgrind_annotate --inclusive=yes "$out" 2>/dev/null | sed -n '1,60p' >"$dir/top-inclusive.txt"
callgrind_annotate "$out" 2>/dev/null | sed -n '1,60p' >"$dir/top-self.txt"
