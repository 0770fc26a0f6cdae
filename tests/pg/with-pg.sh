#!/usr/bin/env bash
# Runs a command next to a throw-away PostgreSQL cluster: initdb into a temporary directory, the
# server on a Unix socket in it (no TCP port), fsync off, stopped and removed when the command
# ends. PostgreSQL refuses to run as root, so as root the cluster belongs to "nobody".
# The command sees IMSGW_TEST_PG_HOST (the socket directory; user imsgw, trust),
# IMSGW_TEST_PG (a URL of the "postgres" database; tests create their own databases in it) and
# IMSGW_TEST_PG_CTL (a script: "stop" / "start" the server).
set -euo pipefail
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$pgbin" ]; then
  echo "with-pg: PostgreSQL server binaries not found (scripts/deps.sh installs postgresql)" >&2
  exit 1
fi
dir=$(mktemp -d /tmp/imsgw-pg.XXXXXX)
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown nobody "$dir"
stop() {
  as_owner "$pgbin/pg_ctl" -D "$dir/data" -m immediate -w -t 10 stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
# $dir/ctl.sh stop|start: for tests that take the server away and bring it back
opts="-k $dir -c listen_addresses= -c fsync=off -c synchronous_commit=off -c max_connections=100"
runner=""
[ "$(id -u)" -eq 0 ] && runner="runuser -u nobody --"
cat >"$dir/ctl.sh" <<CTL
#!/bin/sh
exec $runner "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -m fast -o "$opts" "\$@" >/dev/null
CTL
chmod 755 "$dir/ctl.sh"
as_owner "$pgbin/initdb" -D "$dir/data" -U imsgw -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
  { cat "$dir/initdb.log" >&2; exit 1; }
"$dir/ctl.sh" start || { cat "$dir/server.log" >&2; exit 1; }
export IMSGW_TEST_PG_HOST="$dir"
export IMSGW_TEST_PG_CTL="$dir/ctl.sh"
export IMSGW_TEST_PG="postgresql:///postgres?host=$dir&user=imsgw"
# unit tests take the key-encryption key from the environment; integration tests from a file
IMSGW_WAF_KEY_ENCRYPTION_KEY=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
export IMSGW_WAF_KEY_ENCRYPTION_KEY
status=0
"$@" || status=$?
exit $status
