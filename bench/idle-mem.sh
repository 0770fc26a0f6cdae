#!/usr/bin/env bash
# Idle memory per registered WebSocket connection, alone (docs/benchmarks.md, "Idle memory per
# connection"): a fresh stub + gateway (WORKERS processes), N connections register once through
# bench/reg_load --mode idle and stay silent; PSS of all gateway processes (smaps_rollup) is read
# before, 2 s after the last registration and again after SETTLE seconds (finished transactions,
# timers and allocator trimming have had their time), each divided by the registered connections.
#   bench/idle-mem.sh [build] ; N=3000 WORKERS=1 SETTLE=40
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
n=${N:-3000}
workers=${WORKERS:-1}
settle=${SETTLE:-40}
dir=$(mktemp -d /tmp/imsgw-idlemem-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then rm -rf "$KEEP" && cp -r "$dir" "$KEEP"; fi # KEEP=DIR: keep the logs
  rm -rf "$dir"
}
trap cleanup EXIT
ulimit -n $((n * 2 + 200)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
jwks_port=$(free_port); stub_port=$(free_port); gw_port=$(free_port); gw_sip=$(free_port)
while ! node -e "const n=require('net');let k=0;for(let i=1;i<$workers;i++){const s=n.createServer().on('error',()=>process.exit(1)).listen($gw_sip+i,'127.0.0.1',()=>{s.close();if(++k==$workers-1)process.exit(0)})}if($workers<2)process.exit(0)" 2>/dev/null; do gw_sip=$(free_port); done

node bench/token-server.mjs "$jwks_port" "$n" "$dir/tokens" >"$dir/jwks.log" 2>&1 & pids+=($!)
for _ in $(seq 300); do grep -q ready "$dir/jwks.log" 2>/dev/null && break; sleep 0.1; done
"$build/ims-stub/imsgw-ims-stub" --listen "sip:127.0.0.1:$stub_port" --hss-file "$dir/tokens.hss.json" \
  --max-bindings $((n * 2)) --log-format json 2>"$dir/stub.log" & pids+=($!)
${GW_WRAP:-} "$build/gateway/imsgw-gateway" --port "$gw_port" --sip-listen "sip:127.0.0.1:$gw_sip" --workers "$workers" \
  --next-hop "sip:127.0.0.1:$stub_port;transport=tcp" --authz-server "http://127.0.0.1:$jwks_port" \
  --max-connections $((n + 100)) --max-connections-per-source $((n + 100)) \
  --token-cache-size $((n * 2)) ${GW_ARGS:-} 2>"$dir/gw.log" & gw_pid=$!; pids+=($gw_pid)
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$gw_port/healthz" >/dev/null && break; sleep 0.1; done
sleep 1

# PSS (what register-bench.sh reports); ANON=1: Pss_Anon only (heap and stacks: the libraries'
# share of PSS moves with whatever else on the machine maps them).
field=Pss; [ "${ANON:-0}" = 1 ] && field=Pss_Anon
pss() { local k=0; for p in $gw_pid $(pgrep -P "$gw_pid" || true); do
  k=$((k + $(awk -v f="$field:" '$1 == f {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0))); done; echo $k; }
before=$(pss)
out="$dir/load.out"
timeout $((settle + 300)) "$build/bench/reg_load" --url "ws://127.0.0.1:$gw_port/sip" --tokens "$dir/tokens" \
  --connections "$n" --duration $((settle + 10)) --mode idle >"$out" 2>&1 & load=$!; pids+=($load)
for _ in $(seq 1500); do grep -qs registered "$out" && break; sleep 0.2; done
regs=$(sed -n 's/registered \([0-9]*\) of.*/\1/p' "$out")
sleep 2
at2=$(pss)
sleep "$settle"
atsettle=$(pss)
awk -v b="$before" -v a="$at2" -v s="$atsettle" -v n="${regs:-0}" -v w="$workers" -v t="$settle" 'BEGIN {
  printf "workers %d, registered %d: '"$field"' %d KiB idle; +2 s %d KiB (%.1f KiB/conn); +%d s %d KiB (%.1f KiB/conn)\n",
    w, n, b, a, (n > 0 ? (a - b) / n : 0), t, s, (n > 0 ? (s - b) / n : 0) }'
# PROBE=1: what glibc holds free (malloc_stats of each gateway process, through gdb), and PSS
# after a malloc_trim(0) from outside: the allocator's retention, not the gateway's state.
if [ "${PROBE:-0}" = 1 ]; then
  for p in $gw_pid $(pgrep -P "$gw_pid" || true); do # malloc_stats() writes to the gateway's stderr
    gdb -q -p "$p" -batch -ex 'call (void)malloc_stats()' -ex 'call (int)malloc_trim(0)' >/dev/null 2>&1 || true
  done
  grep -A2 '^Total (incl. mmap)' "$dir/gw.log" | sed 's/^/  /' || true
  trimmed=$(pss)
  awk -v b="$before" -v s="$trimmed" -v n="${regs:-0}" 'BEGIN {
    printf "after malloc_trim(0): %d KiB (%.1f KiB/conn)\n", s, (n > 0 ? (s - b) / n : 0) }'
fi
