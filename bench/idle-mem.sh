#!/usr/bin/env bash
# Idle memory per registered WebSocket connection, alone (docs/benchmarks.md, "Idle memory per
# connection"): a fresh stub + gateway (WORKERS processes), N connections register once through
# bench/reg_load --mode idle and stay silent; PSS of all gateway processes (smaps_rollup) is read
# before, 2 s after the last registration and again after SETTLE seconds (finished transactions,
# timers and allocator trimming have had their time), each divided by the registered connections.
#   bench/idle-mem.sh [build] ; N=3000 WORKERS=1 SETTLE=40
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
build=${1:-build}
n=${N:-3000}
workers=${WORKERS:-1}
settle=${SETTLE:-40}
bench_setup imsgw-idlemem
# KEEP=DIR: keep the logs
bench_keep() { if [ -n "${KEEP:-}" ]; then rm -rf "$KEEP" && cp -r "$dir" "$KEEP"; fi; }
raise_nofile $((n * 2 + 200))

jwks_port=$(free_port); stub_port=$(free_port); gw_port=$(free_port); gw_sip=$(sip_base "$workers")

start_token_server "$jwks_port" "$n"
start_stub --max-bindings $((n * 2)) --log-format json
# shellcheck disable=SC2086 # GW_ARGS: several gateway flags
start_gw "$gw_port" "$gw_sip" "$n" $((n * 2)) "$dir/gw.log" ${GW_ARGS:-}; gw_pid=$!
wait_healthz "$gw_port"
sleep 1

# PSS (what register-bench.sh reports); ANON=1: Pss_Anon only (heap and stacks: the libraries'
# share of PSS moves with whatever else on the machine maps them).
field=Pss; [ "${ANON:-0}" = 1 ] && field=Pss_Anon
pss() { pss_tree "$gw_pid" "$field"; }
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
