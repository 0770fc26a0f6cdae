#!/usr/bin/env bash
# REGISTER benchmark: gateway + IMS stub on loopback, driven by reg_load over SIP WebSocket.
# Reports REGISTER/s and latency percentiles at 10 and 1,000 connections, and memory per idle
# registered connection at 10,000 connections. Bounded: every step has a time limit.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
idle_conns=${IDLE_CONNECTIONS:-10000}
dir=$(mktemp -d /tmp/imsgw-bench-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf /tmp/imsgw-bench-last && cp -r "$dir" /tmp/imsgw-bench-last 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
ulimit -n 24000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
jwks_port=$(free_port); stub_port=$(free_port); gw_port=$(free_port); gw_sip=$(free_port)

node bench/token-server.mjs "$jwks_port" "$idle_conns" "$dir/tokens" >"$dir/jwks.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do grep -q ready "$dir/jwks.log" 2>/dev/null && break; sleep 0.1; done

"$build/ims-stub/imsgw-ims-stub" --listen "sip:127.0.0.1:$stub_port" --hss-file "$dir/tokens.hss.json" \
  --max-bindings $((idle_conns * 2)) --log-format json 2>"$dir/stub.log" & pids+=($!)
"$build/gateway/imsgw-gateway" --port "$gw_port" --sip-listen "sip:127.0.0.1:$gw_sip" \
  --next-hop "sip:127.0.0.1:$stub_port;transport=tcp" --authz-server "http://127.0.0.1:$jwks_port" \
  --max-connections $((idle_conns + 100)) --max-connections-per-source $((idle_conns + 100)) \
  --token-cache-size $((idle_conns * 2)) 2>"$dir/gw.log" & gw_pid=$!; pids+=($gw_pid)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$gw_port/healthz" >/dev/null && break; sleep 0.1; done

url="ws://127.0.0.1:$gw_port/sip"
echo "== REGISTER throughput (closed loop, gateway + stub + load client on $(nproc) cores, ES256 tokens, validated once then cached)"
for n in 10 1000; do
  timeout 120 "$build/bench/reg_load" --url "$url" --tokens "$dir/tokens" --connections "$n" --duration 5
done

echo "== memory per idle registered connection ($idle_conns connections)"
rss() { awk '/VmRSS/ {print $2}' "/proc/$gw_pid/status"; }
before=$(rss)
timeout 300 "$build/bench/reg_load" --url "$url" --tokens "$dir/tokens" --connections "$idle_conns" \
  --duration 20 --mode idle >"$dir/idle.out" 2>&1 & load=$!; pids+=($load)
for _ in $(seq 600); do grep -q registered "$dir/idle.out" && break; sleep 0.2; done
sleep 1
after=$(rss)
cat "$dir/idle.out"
open=$(curl -s "http://127.0.0.1:$gw_port/metrics" | awk '/^imsgw_ws_connections / {print $2}')
regs=$(curl -s "http://127.0.0.1:$gw_port/metrics" | awk '/^imsgw_registrations / {print $2}')
echo "gateway RSS before=${before} KiB after=${after} KiB open_connections=${open} registrations=${regs}"
awk -v b="$before" -v a="$after" -v n="$regs" 'BEGIN { if (n > 0) printf "memory_per_idle_registered_connection=%.1f KiB\n", (a - b) / n }'
kill -TERM "$load" 2>/dev/null || true
