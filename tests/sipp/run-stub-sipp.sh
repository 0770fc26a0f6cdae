#!/usr/bin/env bash
# Drives a real imsgw-ims-stub over real sockets with SIPp: every scenario below over TCP and
# UDP, then checks the stub's log and its clean exit on SIGTERM. Also checks the command line
# (--help, --version, bad settings, bad hss-file → exit 2 with one line).
# Usage: run-stub-sipp.sh STUB_BINARY | BUILD_DIR
set -u

here=$(cd "$(dirname "$0")" && pwd)
arg=${1:?usage: run-stub-sipp.sh STUB_BINARY|BUILD_DIR}
if [[ -d $arg ]]; then stub=$arg/ims-stub/imsgw-ims-stub; else stub=$arg; fi
[[ -x $stub ]] || { echo "FAIL: $stub is not executable"; exit 1; }
command -v sipp >/dev/null || { echo "FAIL: sipp not installed (apt-get install sip-tester)"; exit 1; }

work=$(mktemp -d /tmp/imsgw-stub-sipp.XXXXXX)
stub_pid=
failures=0
cleanup() {
    if [[ -n $stub_pid ]] && kill -0 "$stub_pid" 2>/dev/null; then kill -KILL "$stub_pid"; fi
    rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# A loopback port free for both TCP and UDP (nta binds both on the same number).
free_port() {
    python3 - <<'EOF'
import socket
for _ in range(100):
    t = socket.socket()
    t.bind(("127.0.0.1", 0))
    port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", port))
    except OSError:
        t.close()
        continue
    print(port)
    break
EOF
}

# Starts the stub on a free port (a few tries: another process may grab the port first).
start_stub() {
    for _ in 1 2 3; do
        port=$(free_port)
        "$stub" --listen "sip:127.0.0.1:$port" "$@" 2>"$work/stub.log" &
        stub_pid=$!
        for _ in $(seq 50); do # up to 5 s
            if ! kill -0 "$stub_pid" 2>/dev/null; then break; fi
            if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
            sleep 0.1
        done
        kill -KILL "$stub_pid" 2>/dev/null
        wait "$stub_pid" 2>/dev/null
        stub_pid=
    done
    echo "FAIL: the stub did not start; its log:"
    cat "$work/stub.log"
    exit 1
}

# Stops the stub with SIGTERM; it must exit 0 within 10 s (under ASan a leak makes it non-zero).
stop_stub() {
    kill -TERM "$stub_pid"
    for _ in $(seq 100); do
        kill -0 "$stub_pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$stub_pid" 2>/dev/null; then
        fail "the stub ignored SIGTERM for 10 s"
        kill -KILL "$stub_pid"
    fi
    wait "$stub_pid"
    local rc=$?
    stub_pid=
    [[ $rc -eq 0 ]] || fail "the stub exited with status $rc after SIGTERM"
}

run_sipp() { # scenario transport
    local scenario=$1 transport=$2 lport
    lport=$(free_port)
    (cd "$work" && timeout 30 sipp -sf "$here/$scenario" -m 1 -timeout 10s -timeout_error \
        -nostdin -trace_err -trace_logs -t "$transport" -i 127.0.0.1 -p "$lport" \
        "127.0.0.1:$port" >"$work/sipp.out" 2>&1)
    local rc=$?
    if [[ $rc -ne 0 ]]; then
        fail "$scenario over $transport: sipp exit status $rc"
        cat "$work"/*_errors.log "$work"/*_logs.log 2>/dev/null | tail -n 40
        tail -n 20 "$work/sipp.out"
    else
        echo "ok: $scenario over $transport"
    fi
    rm -f "$work"/*_errors.log "$work"/*_logs.log
}

expect_lines() { # pattern count what
    local n
    n=$(grep -c -- "$1" "$work/stub.log")
    [[ $n -eq $2 ]] || fail "$3: expected $2 log lines matching '$1', got $n"
}

# --- command line -------------------------------------------------------------------------
"$stub" --help >/dev/null 2>&1 || fail "--help did not exit 0"
"$stub" --version | grep -q imsgw-ims-stub || fail "--version"
check_exit2() { # what args...
    local what=$1
    shift
    "$stub" "$@" >/dev/null 2>"$work/err.txt"
    local rc=$?
    [[ $rc -eq 2 ]] || fail "$what: exit status $rc, expected 2"
    [[ $(wc -l <"$work/err.txt") -eq 1 ]] || fail "$what: expected one line on stderr"
}
check_exit2 "min-expires 0" --min-expires 0
check_exit2 "bad auth-mode" --auth-mode none
check_exit2 "bad trusted peer" --trusted-peers 127.0.0.1,not-an-ip
printf '[\n  {"impi": "a@ims.test", "impu": ["sip:a@ims.test"]}\n  {"impi": "b"}\n]\n' >"$work/bad-hss.json"
check_exit2 "bad hss-file" --hss-file "$work/bad-hss.json"
grep -q "bad-hss.json:3:" "$work/err.txt" || fail "bad hss-file: no file:line in '$(cat "$work/err.txt")'"

# --- TNA registrations over TCP and UDP ---------------------------------------------------
start_stub
for transport in t1 u1; do
    run_sipp stub_register.xml "$transport"
    run_sipp stub_register_403.xml "$transport"
    run_sipp stub_register_guards.xml "$transport"
    run_sipp stub_methods.xml "$transport"
done
stop_stub
# 2 transports × (2 + 1 + 5) REGISTERs, one log line each.
expect_lines "register aor=sip:alice@ims.test from=127.0.0.1 status=200" 4 "accepted REGISTERs"
expect_lines "register aor=sip:alice@ims.test from=127.0.0.1 status=403 reason=not-authenticated" 2 "403 without auth-done"
expect_lines "status=439" 2 "439 responses"
expect_lines "status=423" 2 "423 responses"
expect_lines "status=420" 2 "420 responses"
expect_lines "register aor=" 16 "REGISTER outcomes"
grep -q "not-a-real-token" "$work/stub.log" && fail "a credential reached the log"

# --- a peer that is not trusted gets 403 --------------------------------------------------
start_stub --trusted-peers 192.0.2.1
run_sipp stub_register_403.xml t1
stop_stub
expect_lines "status=403 reason=untrusted-peer" 1 "untrusted peer"

# --- digest mode challenges instead of refusing -------------------------------------------
start_stub --auth-mode digest
run_sipp stub_register_401.xml t1
run_sipp stub_register.xml u1
stop_stub
expect_lines "status=401 reason=challenge" 1 "digest challenge"
expect_lines "status=200" 2 "auth-done needs no challenge in digest mode"

if [[ $failures -ne 0 ]]; then
    echo "--- stub log ---"
    cat "$work/stub.log"
    echo "$failures failure(s)"
    exit 1
fi
echo "all stub SIPp checks passed"
