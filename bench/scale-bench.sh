#!/usr/bin/env bash
# Scale benchmark (docs/benchmarks.md): CONNECTIONS (50,000) WebSocket clients, each with a fresh
# ES256 token of its own, connect and REGISTER at once through WORKERS (4) gateway workers (one
# process may hold 20,000 descriptors here) to the stub: a registration storm in which every
# REGISTER verifies a signature. Reports the time until all are registered, errors, and memory
# per idle registered connection (PSS of all gateway processes). Three load processes, each
# spreading its connections over 10 loopback source addresses (127.0.0.2-11), since one source
# address has only ~28,000 ephemeral ports. While idle, CHURN (10) % of them per minute close
# and register again. Then the registration storm on its own: STORM (10,000) clients with fresh
# tokens connecting at once, honouring 503 + Retry-After (the gateway's back-pressure towards
# the core), timed until all are registered. Bounded: each phase at most 420 s.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
total=${CONNECTIONS:-50000}
workers=${WORKERS:-4}
churn=${CHURN:-10}
storm=${STORM:-10000}
hold=${HOLD_SECONDS:-60}
loaders=3
per=$(((total + loaders - 1) / loaders))
dir=$(mktemp -d /tmp/imsgw-scale-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf /tmp/imsgw-scale-last && mkdir -p /tmp/imsgw-scale-last &&
    cp "$dir"/*.log "$dir"/*.out /tmp/imsgw-scale-last/ 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
ulimit -n 24000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
jwks_port=$(free_port); stub_port=$(free_port); gw_port=$(free_port)
gw_sip=$(free_port)
while ! node -e "const n=require('net');let k=0;for(let i=1;i<$workers;i++){const s=n.createServer().on('error',()=>process.exit(1)).listen($gw_sip+i,'127.0.0.1',()=>{s.close();if(++k==$workers-1)process.exit(0)})}" 2>/dev/null; do gw_sip=$(free_port); done

echo "== scale: $total connections, $workers gateway workers ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uptime | sed 's/.*load average/load average/'))"
node bench/token-server.mjs "$jwks_port" $((total + storm)) "$dir/tokens" >"$dir/jwks.log" 2>&1 & pids+=($!)
for _ in $(seq 1200); do grep -q ready "$dir/jwks.log" 2>/dev/null && break; sleep 0.1; done
"$build/ims-stub/imsgw-ims-stub" --listen "sip:127.0.0.1:$stub_port" --hss-file "$dir/tokens.hss.json" \
  --max-bindings $((total * 2)) --log-format json 2>"$dir/stub.log" & pids+=($!)
"$build/gateway/imsgw-gateway" --port "$gw_port" --sip-listen "sip:127.0.0.1:$gw_sip" --workers "$workers" \
  --next-hop "sip:127.0.0.1:$stub_port;transport=tcp" --authz-server "http://127.0.0.1:$jwks_port" \
  --max-connections 18000 --max-connections-per-source 20000 --token-cache-size $(((total + storm) * 2)) \
  2>"$dir/gw.log" & gw_pid=$!; pids+=($gw_pid)
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$gw_port/healthz" >/dev/null && break; sleep 0.1; done
sleep 2 # every worker up (each publishes its counters every second)

pss() { local k=0; for p in "$gw_pid" $(pgrep -P "$gw_pid"); do k=$((k + $(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0))); done; echo $k; }
metric() { curl -s "http://127.0.0.1:$gw_port/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
before=$(pss)
# Loader l is users bench<l*per>.. with their own tokens (--first): every REGISTER is a first
# sight of its token, so every one is an ES256 verification.
start=$(date +%s.%N)
loads=()
for l in $(seq 0 $((loaders - 1))); do
  n=$((total - l * per < per ? total - l * per : per))
  timeout 420 "$build/bench/reg_load" --url "ws://127.0.0.1:$gw_port/sip" --tokens "$dir/tokens" \
    --first $((l * per)) --connections "$n" --duration "$hold" --mode idle --churn "$churn" --sources 10 \
    >"$dir/load.$l.out" 2>&1 & pids+=($!); loads+=($!)
done
done_at=""
for _ in $(seq 3000); do
  if [ "$(grep -l registered "$dir"/load.*.out 2>/dev/null | wc -l)" -eq "$loaders" ]; then
    done_at=$(date +%s.%N); break
  fi
  sleep 0.1
done
sleep 3
after=$(pss)
regs=$(metric imsgw_registrations); conns=$(metric imsgw_ws_connections)
ok=$(curl -s "http://127.0.0.1:$gw_port/metrics" | awk -F' ' '/^imsgw_register_total\{outcome="ok"\}/ {print $2}')
bad=$(curl -s "http://127.0.0.1:$gw_port/metrics" | awk '/^imsgw_register_total\{/ && !/outcome="ok"/ {s += $2} END {print s + 0}')
cat "$dir"/load.*.out | grep -v "^reg_load: connection" | sed 's/^/load: /'
echo "load errors: $(cat "$dir"/load.*.out | grep -c '^reg_load: connection' || true)"
curl -s "http://127.0.0.1:$gw_port/metrics" | grep '^imsgw_worker_ws_connections' | tr '\n' ' '; echo
echo "connections=$conns registrations=$regs register_ok=$ok register_other=$bad"
if [ -n "$done_at" ]; then
  awk -v s="$start" -v e="$done_at" -v n="$total" -v r="${regs:-0}" 'BEGIN { printf "connect: %d clients with fresh tokens done in %.1f s, %d registered (%.0f registrations/s)\n", n, e - s, r, r / (e - s) }'
else
  echo "connect: the load tools did not finish within their bound"
fi
awk -v b="$before" -v a="$after" -v n="${regs:-0}" 'BEGIN { printf "gateway PSS %d -> %d KiB: %.1f KiB per idle registered connection\n", b, a, (n > 0 ? (a - b) / n : 0) }'

# Churn: each load tool reports its reconnections when its idle period ends.
echo "-- churn: $churn % of the connections per minute reconnect and register again, for ${hold} s"
for p in "${loads[@]}"; do wait "$p" 2>/dev/null || true; done
grep -h '^churn' "$dir"/load.*.out | sed 's/^/load: /' || echo "churn: no report (load tools stopped early)"

echo "-- registration storm: $storm clients with fresh tokens connect at once (Retry-After honoured)"
sleep 5 # the connections above are closed
shed_before=$(curl -s "http://127.0.0.1:$gw_port/metrics" | awk '/^imsgw_register_total\{outcome="overloaded"\}/ {print $2}')
start=$(date +%s.%N)
timeout 420 "$build/bench/reg_load" --url "ws://127.0.0.1:$gw_port/sip" --tokens "$dir/tokens" \
  --first "$total" --connections "$storm" --duration 5 --mode idle --sources 10 >"$dir/storm.out" 2>&1 & storm_pid=$!; pids+=($storm_pid)
done_at=""
for _ in $(seq 4200); do
  grep -q registered "$dir/storm.out" 2>/dev/null && { done_at=$(date +%s.%N); break; }
  sleep 0.1
done
wait "$storm_pid" 2>/dev/null || true
shed_after=$(curl -s "http://127.0.0.1:$gw_port/metrics" | awk '/^imsgw_register_total\{outcome="overloaded"\}/ {print $2}')
grep -v '^reg_load: connection' "$dir/storm.out" | sed 's/^/storm load: /'
echo "storm load errors: $(grep -c '^reg_load: connection' "$dir/storm.out" || true); 503 + Retry-After from the gateway: $((${shed_after:-0} - ${shed_before:-0}))"
if [ -n "$done_at" ]; then
  awk -v s="$start" -v e="$done_at" -v n="$storm" 'BEGIN { printf "storm: %d clients drained in %.1f s (%.0f registrations/s)\n", n, e - s, n / (e - s) }'
else
  echo "storm: the load tool did not finish within its bound"
fi
