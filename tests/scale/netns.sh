#!/usr/bin/env bash
# Several hosts on one machine (issue 15): one network namespace per host, each with a veth link
# into a bridge that lives in a namespace of its own, and addresses (10.99.0.0/24) that exist only
# inside those namespaces. Starts PostgreSQL on its host, then runs the command on the clients'
# host; the command (tests/scale/*.mjs) starts HAProxy, the gateways, the WAFs and the IMS stub
# in their namespaces and writes their PIDs to $IMSGW_SCALE_DIR/pids. Whatever happens, the trap
# kills those PIDs, stops PostgreSQL and deletes every namespace. Needs root; exit 77 (skipped)
# where namespaces or the programs are missing.
#
#   host     address     namespace
#   lb       10.99.0.2   HAProxy: :8080 TCP to the gateways (PROXY v2), :8443 HTTPS to the WAFs
#   gw1..3   10.99.0.3-5 imsgw-gateway
#   waf1..2  10.99.0.6-7 imsgw-waf
#   pg       10.99.0.8   PostgreSQL 15
#   ims      10.99.0.9   imsgw-ims-stub (S-CSCF)
#   cl       10.99.0.10  the clients (the command runs here)
set -euo pipefail
skip() { echo "scale: $*: skipped" >&2; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root for network namespaces"
command -v haproxy >/dev/null || skip "haproxy not installed (scripts/deps.sh)"
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$pgbin" ] || skip "PostgreSQL not installed (scripts/deps.sh)"

id="imsgw-scale-$$"
hosts=(lb gw1 gw2 gw3 waf1 waf2 pg ims cl)
dir=$(mktemp -d /tmp/imsgw-scale.XXXXXX)
chmod 711 "$dir" # PostgreSQL runs as nobody below it
made=()

teardown() {
  set +e
  if [ -s "$dir/pids" ]; then
    # a gateway's workers first (they are its children, and would outlive it)
    while read -r pid; do pkill -KILL -P "$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null; done <"$dir/pids"
  fi
  if [ -d "$dir/pg/data" ]; then
    runuser -u nobody -- "$pgbin/pg_ctl" -D "$dir/pg/data" -m immediate -w -t 10 stop >/dev/null 2>&1
  fi
  for ns in "${made[@]}"; do ip netns del "$ns" 2>/dev/null; done
  rm -rf "$dir"
}
trap teardown EXIT
trap 'exit 130' INT TERM

ip netns add "$id-sw" 2>/dev/null || skip "cannot create network namespaces"
made+=("$id-sw")
ip -n "$id-sw" link add br0 type bridge
ip -n "$id-sw" link set br0 up
n=2
for h in "${hosts[@]}"; do
  ns="$id-$h"
  ip netns add "$ns"
  made+=("$ns")
  # both ends are named inside their own namespaces: nothing appears in the machine's namespace
  ip -n "$id-sw" link add "$h" type veth peer name eth0 netns "$ns"
  ip -n "$id-sw" link set "$h" master br0 up
  ip -n "$ns" addr add "10.99.0.$n/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  n=$((n + 1))
done

# PostgreSQL on its host, reachable from the WAFs' hosts only (trust inside the test network).
mkdir -p "$dir/pg"
chown nobody "$dir/pg"
runuser -u nobody -- "$pgbin/initdb" -D "$dir/pg/data" -U imsgw -A trust -E UTF8 --no-sync \
  >"$dir/pg/initdb.log" 2>&1 || { cat "$dir/pg/initdb.log" >&2; exit 1; }
echo "host all imsgw 10.99.0.0/24 trust" >>"$dir/pg/data/pg_hba.conf"
ip netns exec "$id-pg" runuser -u nobody -- "$pgbin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" \
  -w -t 30 -o "-k $dir/pg -c listen_addresses=10.99.0.8 -c fsync=off -c synchronous_commit=off \
  -c max_connections=100" start >/dev/null || { cat "$dir/pg/server.log" >&2; exit 1; }

# The WAF's issuer must be https (the WAF refuses plain http off loopback): HAProxy terminates TLS
# for it with a certificate made here for its address, trusted by the gateways (waf-ca-file) and
# by Node (NODE_EXTRA_CA_CERTS).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=scale-lb \
  -addext subjectAltName=IP:10.99.0.2 -addext basicConstraints=critical,CA:TRUE \
  -keyout "$dir/lb-key.pem" -out "$dir/lb-cert.pem" 2>/dev/null
cat "$dir/lb-cert.pem" "$dir/lb-key.pem" >"$dir/lb.pem"
export NODE_EXTRA_CA_CERTS="$dir/lb-cert.pem"

export IMSGW_SCALE_NS="$id" IMSGW_SCALE_DIR="$dir"
export IMSGW_SCALE_PG="postgresql://imsgw@10.99.0.8:5432/postgres"
status=0
ip netns exec "$id-cl" "$@" || status=$?
exit $status
