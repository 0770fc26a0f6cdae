# Shared setup of the bench scripts (sourced after `cd` to the repository root, with `build` set):
# a work directory whose processes are stopped on exit, free loopback ports, and the token
# server, IMS stub and gateway each script starts. Loopback only; every wait is bounded.
# shellcheck shell=bash
# shellcheck disable=SC2154 # build, workers and the ports are the sourcing script's

# bench_setup NAME: $dir=/tmp/NAME-XXXXXX and $pids (stopped on exit, then $dir removed). On exit
# bench_keep runs first; by default it copies $dir to /tmp/NAME-last; a script may redefine it.
bench_setup() {
  bench_name=$1
  dir=$(mktemp -d "/tmp/$1-XXXXXX")
  pids=()
  trap bench_cleanup EXIT
}
# shellcheck disable=SC2015 # a failed copy only loses the logs
bench_keep() { rm -rf "/tmp/$bench_name-last" && cp -r "$dir" "/tmp/$bench_name-last" 2>/dev/null || true; }
bench_cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  bench_keep
  rm -rf "$dir"
}

# raise_nofile N: as many descriptors as N, or the hard limit.
raise_nofile() { ulimit -n "$1" 2>/dev/null || ulimit -n "$(ulimit -Hn)"; }

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
# sip_base WORKERS: a free port P such that P+1 .. P+WORKERS-1 are free too (a gateway's worker i
# listens for SIP on its base port + i).
sip_base() {
  local b
  b=$(free_port)
  while ! node -e "const n=require('net');let k=0;for(let i=1;i<$1;i++){const s=n.createServer().on('error',()=>process.exit(1)).listen($b+i,'127.0.0.1',()=>{s.close();if(++k==$1-1)process.exit(0)})}if($1<2)process.exit(0)" 2>/dev/null; do b=$(free_port); done
  echo "$b"
}

# PEER_WRAP: a command the token server and the stub run under (latency-bench's PIN=1 taskset).
# start_token_server PORT USERS [TRIES]: bench/token-server.mjs (JWKS + a token per user in
# $dir/tokens, the stub's HSS in $dir/tokens.hss.json); waits until it is ready (TRIES x 0.1 s).
start_token_server() {
  ${PEER_WRAP:-} node bench/token-server.mjs "$1" "$2" "$dir/tokens" >"$dir/jwks.log" 2>&1 & pids+=($!)
  for _ in $(seq "${3:-300}"); do grep -q ready "$dir/jwks.log" 2>/dev/null && break; sleep 0.1; done
}

# start_stub [ARGS...]: the IMS stub on $stub_port with the token server's HSS; its pid in $!.
start_stub() {
  ${PEER_WRAP:-} "$build/ims-stub/imsgw-ims-stub" --listen "sip:127.0.0.1:$stub_port" --hss-file "$dir/tokens.hss.json" \
    "$@" 2>"$dir/stub.log" & pids+=($!)
}

# start_gw PORT SIP-PORT CONNECTIONS TOKEN-CACHE-SIZE LOG [ARGS...]: a gateway with $workers
# workers towards the stub (TCP) and the token server, room for CONNECTIONS (+100) from one
# source; its pid in $!. GW_BIN: another gateway binary (before/after); GW_WRAP: a command to run
# it under.
start_gw() {
  local port=$1 sip=$2 conns=$3 cache=$4 log=$5
  shift 5
  ${GW_WRAP:-} "${GW_BIN:-$build/gateway/imsgw-gateway}" --port "$port" --sip-listen "sip:127.0.0.1:$sip" \
    --workers "$workers" --next-hop "sip:127.0.0.1:$stub_port;transport=tcp" \
    --authz-server "http://127.0.0.1:$jwks_port" \
    --max-connections $((conns + 100)) --max-connections-per-source $((conns + 100)) \
    --token-cache-size "$cache" "$@" 2>"$log" & pids+=($!)
}

# wait_healthz PORT [TRIES]: until the gateway on PORT answers /healthz (TRIES x 0.1 s).
wait_healthz() {
  for _ in $(seq "${2:-200}"); do curl -sf "http://127.0.0.1:$1/healthz" >/dev/null && break; sleep 0.1; done
}

# pss_tree PID [FIELD]: FIELD (Pss; Pss_Anon…) of PID and its children in KiB (smaps_rollup).
pss_tree() {
  local k=0 p
  for p in "$1" $(pgrep -P "$1" || true); do
    k=$((k + $(awk -v f="${2:-Pss}:" '$1 == f {v = $2} END {print v + 0}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)))
  done
  echo $k
}
