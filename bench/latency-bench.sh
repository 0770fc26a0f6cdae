#!/usr/bin/env bash
# Latency added by the gateway at half of its maximum throughput (issue 13; docs/benchmarks.md).
# Gateway (WORKERS processes, ES256 tokens, cache on) -> IMS stub over TCP, driven by bench/reg_load:
# one closed-loop run on CONNECTIONS finds the rate (skipped when RATE is given), then RUNS open-loop
# runs at half of it (latency counted from each REGISTER's intended send time: no coordinated
# omission). Each run reports the whole path's p50/p99 (load tool -> gateway -> stub -> back) beside
# what the gateway itself added: imsgw_register_gateway_seconds{leg="total"} from /metrics (kernel
# receive timestamps, the stub's time excluded), as the difference of two snapshots taken one
# WARMUP seconds (default 3) after the open loop started (its warm-up at the same rate: the 1,000
# fresh registrations and their reg-event SUBSCRIBEs to the core are a transient, a registration
# storm measured by scale-bench, not the steady state at half load) and at its end. IDLE more connections register
# first and stay open, silent, during the runs (loop cost per connection). Loopback only, bounded.
# PIN (default 1 with 2 or more cores; PIN=0: off): the gateway gets the upper half of the cores
# (taskset) and the stub, the token server and the load tool the lower half, so the gateway's
# share is its own work, not run-queue wait behind its test peers (WORKERS then defaults to the
# gateway's cores). Other processes on the machine are not pinned: run it on a quiet machine.
# BUSY_POLL (default "0 200 fifo"): one gateway (and its closed-loop rate, unless RATE is given)
# per value: a number is its busy-poll-us (0 lets the worker's loop sleep as soon as it has no
# work; 200 keeps it polling 200 us after work, gateway/gw_busypoll.c, so its vCPU is still
# running when the next message comes); fifo runs it at SCHED_FIFO 1 (chrt, skipped where not
# allowed) without polling, so that no normal thread (the machine's own daemons and kernel
# threads) preempts it on its core. AWAKE (default "0 peers"), RUNS for each: 0 leaves the cores as the
# machine has them; peers keeps the cores of the load tool and the stub (PIN=1's lower half) from
# going idle by a spinner at SCHED_IDLE each (it yields at once to any other process, as the
# kernel's haltpoll or idle=poll would keep the CPU from halting), so that the load tool's sender
# wakes on time and REGISTERs arrive at the rate's spacing instead of in bursts, while the
# gateway's core stays as the machine has it; all (or 1) keeps every core awake; both: 0 and all.
# On a virtual machine a halted vCPU can take milliseconds to run again once woken (the host must
# schedule it; docs/benchmarks.md, session 14); each run prints the host's steal time per core
# over its window (/proc/stat), which counts the host's own use of the vCPU's time.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
build=${1:-build}
runs=${RUNS:-3}
secs=${SECONDS_PER_RUN:-5}
warmup=${WARMUP:-3}
pin_gw="" pin_rest="" cores=$(nproc)
[ "$cores" -ge 2 ] || PIN=0
if [ "${PIN:-1}" != 0 ]; then
  pin_gw="taskset -c $((cores / 2))-$((cores - 1))" pin_rest="taskset -c 0-$((cores / 2 - 1))"
  cores=$((cores - cores / 2))
fi
workers=${WORKERS:-$cores}
conns=${CONNECTIONS:-1000}
idle=${IDLE:-0}
bench_setup imsgw-latbench
raise_nofile 24000

jwks_port=$(free_port); stub_port=$(free_port); gw_port=$(free_port); gw_sip=$(sip_base "$workers")
total=$((conns + idle))
echo "== latency added by the gateway ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uptime | sed 's/.*load average/load average/'))"
echo "   $workers worker(s) + stub; $conns loaded connections, $idle idle registered ones; $runs runs x ${secs}s${pin_gw:+; gateway on cores ${pin_gw#taskset -c }, the rest on ${pin_rest#taskset -c }}"

PEER_WRAP=$pin_rest gw_wrap_user=${GW_WRAP:-}
start_token_server "$jwks_port" "$total"
start_stub --max-bindings $((total * 2)) --log-format json
url="ws://127.0.0.1:$gw_port/sip"
load() { $pin_rest timeout $((secs + 120)) "$build/bench/reg_load" --url "$url" --tokens "$dir/tokens" --connections "$conns" "$@"; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }

# gateway_up BUSY_POLL_US [WRAP]: a gateway (the previous one and its idle users stopped), its idle
# users registered, and $rate (RATE, or half of its closed loop)
gw_pid="" idle_pid=""
gateway_up() {
  for p in $idle_pid $gw_pid; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  # shellcheck disable=SC2086 # GW_ARGS: several gateway flags
  GW_WRAP="$pin_gw ${2:-} $gw_wrap_user" start_gw "$gw_port" "$gw_sip" "$total" $((total * 2)) "$dir/gw-$1${2:+-rt}.log" \
    --busy-poll-us "$1" ${GW_ARGS:-}
  gw_pid=$!
  wait_healthz "$gw_port"
  if [ "$idle" -gt 0 ]; then # the idle users are the ones after the loaded ones
    $pin_rest timeout 900 "$build/bench/reg_load" --url "$url" --tokens "$dir/tokens" --first "$conns" \
      --connections "$idle" --duration 600 --mode idle >"$dir/idle.out" & pids+=($!)
    idle_pid=$!
    for _ in $(seq 1200); do grep -q registered "$dir/idle.out" 2>/dev/null && break; sleep 0.25; done
    echo "   idle: $(head -1 "$dir/idle.out")"
    sleep "${IDLE_SETTLE:-10}" # the reg-event SUBSCRIBEs of the burst are answered meanwhile
  fi
  rate=${RATE:-}
  if [ -z "$rate" ]; then
    local max
    max=$(load --duration "$secs" | field registers_per_s)
    rate=$((max / 2))
    echo "   closed loop: $max REGISTER/s; open loop at half: $rate /s"
  fi
}

quantile() { awk -v leg="$3" -v q="$4" -f bench/gw-latency.awk "$1" "$2"; } # BEFORE AFTER LEG Q
snap() { curl -sf "http://127.0.0.1:$gw_port/metrics" >"$1"; grep '^cpu[0-9]' /proc/stat >"$1.stat"; }
# steal A B: per core, the share of the window the host kept the vCPU from running while it had
# work (the 8th time of /proc/stat's cpuN lines, in USER_HZ ticks)
steal() {
  awk -v hz="$(getconf CLK_TCK)" -v s="$secs" 'FNR == NR { a[$1] = $9; next }
    { printf "%s%s %.1f %%", n++ ? ", " : "", $1, 100 * ($9 - a[$1]) / hz / (s - 0.1) }' "$1.stat" "$2.stat"
}
# keep_awake FIRST LAST: a spinner on each of the cores FIRST..LAST at SCHED_IDLE, for as long as
# one set of runs can take at most (stopped after the set, or on exit)
awake_pids=()
awake_stop() {
  [ ${#awake_pids[@]} -gt 0 ] || return 0
  kill "${awake_pids[@]}" 2>/dev/null || true
  wait "${awake_pids[@]}" 2>/dev/null || true
  awake_pids=()
}
trap 'awake_stop; bench_cleanup' EXIT
keep_awake() {
  local c
  for c in $(seq "$1" "$2"); do
    chrt -i 0 taskset -c "$c" timeout $((runs * (secs + warmup + 140) + 30)) bash -c 'while :; do :; done' &
    awake_pids+=($!)
  done
}

# "late max": the most REGISTERs the load tool had due and not yet sent at one time (reg_load's
# backlog_max): they go out together, a burst the gateway then works through in order. Its
# sender thread runs at SCHED_FIFO when allowed, so it falls behind mostly when the core is not
# the guest's to run on (the host's steal time, or a halted vCPU waking slowly).
modes=""
for a in ${AWAKE:-0 peers}; do
  case $a in
    0 | peers | all) modes+=" $a" ;;
    1) modes+=" all" ;;
    both) modes+=" 0 all" ;;
    *) echo "AWAKE: 0, peers, all (1) or both, not $a" >&2; exit 2 ;;
  esac
done
for bp in ${BUSY_POLL:-0 200 fifo}; do
  if [ "$bp" = fifo ]; then
    if ! chrt -f 1 true 2>/dev/null; then
      echo "   == SCHED_FIFO: not allowed here (needs root or CAP_SYS_NICE); skipped"
      continue
    fi
    echo "   == the gateway at SCHED_FIFO 1 (chrt), busy-poll-us 0: normal threads no longer preempt it"
    gateway_up 0 "chrt -f 1"
  else
    echo "   == busy-poll-us $bp: $([ "$bp" = 0 ] && echo "the worker's loop sleeps as soon as it has no work" || echo "the worker's loop polls $bp us after work before it sleeps")"
    gateway_up "$bp"
  fi
  for mode in $modes; do
    if [ "$mode" = all ]; then
      echo "   -- the cores kept awake (a SCHED_IDLE spinner on each)"
      keep_awake 0 $(($(nproc) - 1))
    elif [ "$mode" = peers ]; then
      [ -n "$pin_rest" ] || { echo "AWAKE=peers needs PIN=1" >&2; exit 2; }
      echo "   -- the peers' cores (${pin_rest#taskset -c }) kept awake by a SCHED_IDLE spinner each, the gateway's as the machine has it"
      keep_awake 0 $(($(nproc) / 2 - 1))
    else
      echo "   -- the cores as the machine has them (idle ones halt)"
    fi
    # the floor: a sleeping thread's wake-up lateness on each core at the open loop's spacing, with
    # gateway and stub up and idle (bench/wake_probe.c)
    for c in $(seq 0 $(($(nproc) - 1))); do
      echo "   timer wake-ups on core $c, idle: $(taskset -c "$c" "$build/bench/wake_probe" --seconds 2 \
        --interval-us "$(awk -v r="$rate" 'BEGIN { print 1e6 / r }')" | tr '_' ' ')"
    done
    printf '%-4s %9s %12s %12s %14s %14s %10s %10s %9s\n' run "REG/s" "path p50 ms" "path p99 ms" "gw p50 ms" "gw p99 ms" "gw n" failures "late max"
    for r in $(seq "$runs"); do
      load --duration "$secs" --mode open --rate "$rate" --warmup "$warmup" >"$dir/open.out" &
      lp=$!
      for _ in $(seq 1200); do grep -q "open loop started" "$dir/open.out" 2>/dev/null && break; sleep 0.05; done
      sleep "$warmup"; snap "$dir/a"
      sleep "$(awk -v s="$secs" 'BEGIN { print s - 0.1 }')"; snap "$dir/b"
      wait "$lp" || true
      out=$(tail -1 "$dir/open.out")
      [ -n "${DEBUG:-}" ] && grep -E "gateway_seconds_count" "$dir/a" "$dir/b" && cat "$dir/open.out"
      n=$(( $(awk '/^imsgw_register_gateway_seconds_count\{leg="total"\}/ {print $2}' "$dir/b") - \
            $(awk '/^imsgw_register_gateway_seconds_count\{leg="total"\}/ {print $2}' "$dir/a") ))
      printf '%-4s %9s %12s %12s %14s %14s %10s %10s %9s\n' "$r" "$(field registers_per_s <<<"$out")" \
        "$(field p50_ms <<<"$out")" "$(field p99_ms <<<"$out")" \
        "$(quantile "$dir/a" "$dir/b" total 0.5)" "$(quantile "$dir/a" "$dir/b" total 0.99)" "$n" \
        "$(field failures <<<"$out")" "$(field backlog_max <<<"$out")"
      for leg in request response admission; do
        echo "     $leg leg: p50 $(quantile "$dir/a" "$dir/b" $leg 0.5) ms, p99 $(quantile "$dir/a" "$dir/b" $leg 0.99) ms"
      done
      # the workers' loops over the window: on a CPU (of which polling without work, busy-poll-us),
      # and runnable but waiting for one (contention)
      awk -v w="$workers" -v s="$secs" '/^imsgw_loop_cpu_seconds_total/ { c[FILENAME] = $2 }
        /^imsgw_loop_runqueue_wait_seconds_total/ { q[FILENAME] = $2 }
        /^imsgw_loop_busy_poll_seconds_total/ { b[FILENAME] = $2 }
        function pc(x) { return 100 * (x[ARGV[2]] - x[ARGV[1]]) / (w * (s - 0.1)) }
        END { printf "     loops (mean of %d): on a CPU %.0f %% (polling without work %.0f %%), waiting for one %.0f %% of the window\n",
              w, pc(c), pc(b), pc(q) }' "$dir/a" "$dir/b"
      echo "     host steal time over the window: $(steal "$dir/a" "$dir/b"); the load tool's sender: $(sed -n 's/.* sender=\([a-z]*\).*/\1/p' <<<"$out")"
    done
    awake_stop
  done
done
