#!/usr/bin/env bash
# Drives a real imsgw-ims-stub over real sockets with SIPp: every scenario below over TCP and
# UDP, then checks the stub's log and its clean exit on SIGTERM. Also checks the command line
# (--help, --version, bad settings, bad hss-file → exit 2 with one line). Blocks:
#   registrar (TNA) and requests the stub refuses itself;
#   native IMS clients: MD5 Digest REGISTER, a call alice → bob through the stub (INVITE, ACK,
#   MESSAGE, BYE), CANCEL before answer (487), Timer C (480), parallel forking to two
#   contacts (one answers, the other is CANCELled), wrong password (403);
#   the gateway path: bob registered by "the gateway" on two flows of one instance, both
#   answering 430 → the stub tries both reg-ids, drops them, and the caller gets 480.
# Every SIPp run is bounded (-timeout and timeout(1)); everything is on 127.0.0.1.
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
    grep -q "stats transactions=0 " "$work/stub.log" ||
        fail "transactions in progress at stop: $(grep 'stats transactions' "$work/stub.log" | tail -n 1)"
}

# sipp_fg what scenario transport [sipp args...]: one SIPp run against the stub, must exit 0.
sipp_fg() {
    local what=$1 scenario=$2 transport=$3 lport
    shift 3
    lport=$(free_port)
    (cd "$work" && timeout 30 sipp -sf "$here/$scenario" -m 1 -timeout 10s -timeout_error \
        -nostdin -trace_err -trace_logs -t "$transport" -i 127.0.0.1 -p "$lport" "$@" \
        "127.0.0.1:$port" >"$work/sipp.out" 2>&1)
    sipp_result $? "$what"
}

sipp_result() { # rc what
    if [[ $1 -ne 0 ]]; then
        fail "$2: sipp exit status $1"
        cat "$work"/*_errors.log "$work"/*_logs.log 2>/dev/null | tail -n 40
        tail -n 20 "$work/sipp.out"
    else
        echo "ok: $2"
    fi
    rm -f "$work"/*_errors.log "$work"/*_logs.log
}

run_sipp() { # scenario transport
    sipp_fg "$1 over $2" "$1" "$2"
}

# sipp_uas scenario transport lport [args...]: a SIPp waiting for the stub's requests on lport,
# in the background; sipp_uas_wait collects its exit status.
sipp_uas() {
    local scenario=$1 transport=$2 lport=$3
    shift 3
    (cd "$work" && exec timeout 30 sipp -sf "$here/$scenario" -m 1 -timeout 15s -timeout_error \
        -nostdin -trace_err -t "$transport" -i 127.0.0.1 -p "$lport" "$@" \
        >"$work/uas-$lport.out" 2>&1) &
    uas_pid=$!
    uas_out="$work/uas-$lport.out"
    uas_name="$scenario over $transport"
    sleep 0.3 # SIPp binds its port before the caller starts
}
sipp_uas_wait() {
    wait "$uas_pid"
    local rc=$?
    if [[ $rc -ne 0 ]]; then
        fail "$uas_name (callee side): sipp exit status $rc"
        cat "$work"/*_errors.log 2>/dev/null | tail -n 40
        tail -n 20 "$uas_out"
    else
        echo "ok: $uas_name (callee side)"
    fi
    rm -f "$work"/*_errors.log
}

# sipp_user scenario user transport lport password: a native client's (de-)REGISTER with Digest.
sipp_user() {
    (cd "$work" && timeout 30 sipp -sf "$here/$1" -m 1 -timeout 10s -timeout_error -nostdin \
        -trace_err -t "$3" -i 127.0.0.1 -p "$4" -s "$2" -au "$2@ims.test" -ap "$5" \
        "127.0.0.1:$port" >"$work/sipp.out" 2>&1)
}

# sipp_call callee-scenario caller-scenario transport callee-port caller-port
sipp_call() {
    sipp_uas "$1" "$3" "$4"
    (cd "$work" && timeout 30 sipp -sf "$here/$2" -m 1 -timeout 15s -timeout_error -nostdin \
        -trace_err -t "$3" -i 127.0.0.1 -p "$5" "127.0.0.1:$port" >"$work/sipp.out" 2>&1)
    sipp_result $? "$2 over $3"
    sipp_uas_wait
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

# --- TNA registrations and local refusals over TCP and UDP --------------------------------
start_stub
for transport in t1 u1; do
    run_sipp stub_register.xml "$transport"
    run_sipp stub_register_403.xml "$transport"
    run_sipp stub_register_guards.xml "$transport"
    run_sipp stub_methods.xml "$transport"
    run_sipp stub_invite_fail.xml "$transport"
done
stop_stub
# 2 transports × (2 + 1 + 5) REGISTERs, one log line each.
expect_lines "register aor=sip:alice@ims.test from=127.0.0.1 status=200" 4 "accepted REGISTERs"
expect_lines "register aor=sip:alice@ims.test from=127.0.0.1 status=403 reason=not-authenticated" 2 "403 without auth-done"
expect_lines "status=439" 2 "439 responses"
expect_lines "status=423" 2 "423 responses"
expect_lines "status=420" 2 "420 responses"
expect_lines "register aor=" 16 "REGISTER outcomes"
expect_lines "proxy method=MESSAGE from=sip:alice@ims.test to=sip:bob@ims.test status=480 dir=term branches=0 reason=not-registered" 2 "MESSAGE to an unregistered user"
expect_lines "proxy method=MESSAGE from=sip:alice@ims.test to=sip:nobody@ims.test status=404 dir=term branches=0 reason=unknown-user" 2 "MESSAGE to an unknown user"
expect_lines "status=483 dir=- branches=0 reason=too-many-hops" 2 "Max-Forwards 0"
expect_lines "proxy method=CANCEL .* status=481" 2 "CANCEL without INVITE"
expect_lines "proxy method=BYE .* status=403 dir=dialog branches=0 reason=no-route" 2 "in-dialog request not through us"
expect_lines "proxy method=INVITE from=sip:alice@ims.test to=sip:nobody@ims.test status=404" 2 "INVITE to an unknown user"
expect_lines "proxy method=INVITE from=sip:alice@ims.test to=sip:bob@ims.test status=480 dir=term branches=0 reason=not-registered" 2 "INVITE to an unregistered user"
grep -q "not-a-real-token" "$work/stub.log" && fail "a credential reached the log"

# --- a peer that is not trusted gets 403 --------------------------------------------------
start_stub --trusted-peers 192.0.2.1
run_sipp stub_register_403.xml t1
stop_stub
expect_lines "status=403 reason=untrusted-peer" 1 "untrusted peer"

# --- digest mode: TNA still needs no challenge, anything else is challenged ----------------
start_stub --auth-mode digest
run_sipp stub_register_401.xml t1
run_sipp stub_register.xml u1
stop_stub
expect_lines "status=401 reason=challenge" 1 "digest challenge"
expect_lines "status=200" 2 "auth-done needs no challenge in digest mode"

# --- IMS-native clients: Digest REGISTER and calls through the stub -----------------------
printf '%s\n' \
    '[{"impi": "alice@ims.test", "impu": ["sip:alice@ims.test"], "password": "alice-Secret-7f3a"},' \
    ' {"impi": "bob@ims.test", "impu": ["sip:bob@ims.test"], "password": "bob-Secret-91c2"}]' \
    >"$work/hss.json"
start_stub --auth-mode digest --hss-file "$work/hss.json" --timer-c 2000
for transport in u1 t1; do
    # The contacts are the SIPp ports that later wait for requests (bob) or send them (alice).
    bob_port=$(free_port)
    alice_port=$(free_port)
    sipp_user stub_native_register.xml bob "$transport" "$bob_port" bob-Secret-91c2
    sipp_result $? "native Digest REGISTER of bob over $transport"
    sipp_user stub_native_register.xml alice "$transport" "$alice_port" alice-Secret-7f3a
    sipp_result $? "native Digest REGISTER of alice over $transport"
    sipp_call stub_call_uas.xml stub_call_uac.xml "$transport" "$bob_port" "$alice_port"
    sipp_call stub_ring_uas.xml stub_cancel_uac.xml "$transport" "$bob_port" "$alice_port"
    sipp_call stub_ring_uas.xml stub_timerc_uac.xml "$transport" "$bob_port" "$alice_port"
    # Parallel forking: bob on a second contact that answers; the first one rings and must be
    # CANCELled (487, ACK) when the other answers 200.
    bob2_port=$(free_port)
    sipp_user stub_native_register.xml bob "$transport" "$bob2_port" bob-Secret-91c2
    sipp_result $? "second contact of bob over $transport"
    sipp_uas stub_ring_uas.xml "$transport" "$bob_port"
    ring_pid=$uas_pid ring_out=$uas_out ring_name="forked branch: $uas_name"
    sipp_call stub_call_uas.xml stub_call_uac.xml "$transport" "$bob2_port" "$alice_port"
    uas_pid=$ring_pid uas_out=$ring_out uas_name=$ring_name
    sipp_uas_wait
    sipp_user stub_native_unregister.xml bob "$transport" "$bob2_port" bob-Secret-91c2
    sipp_result $? "native de-REGISTER of bob's second contact over $transport"
    sipp_user stub_native_unregister.xml bob "$transport" "$bob_port" bob-Secret-91c2
    sipp_result $? "native de-REGISTER of bob over $transport"
    sipp_user stub_native_unregister.xml alice "$transport" "$alice_port" alice-Secret-7f3a
    sipp_result $? "native de-REGISTER of alice over $transport"
done
# A wrong password: challenged, then refused.
if sipp_user stub_native_register.xml bob u1 "$(free_port)" wrong-password; then
    fail "a wrong Digest password was accepted"
else
    echo "ok: wrong Digest password refused"
fi
rm -f "$work"/*_errors.log
stop_stub
expect_lines "register aor=sip:bob@ims.test from=127.0.0.1 status=401 reason=challenge" 9 "Digest challenges to bob"
expect_lines "register aor=sip:bob@ims.test from=127.0.0.1 status=200" 8 "bob's Digest REGISTERs"
expect_lines "register aor=sip:alice@ims.test from=127.0.0.1 status=200" 4 "alice's Digest REGISTERs"
expect_lines "register aor=sip:bob@ims.test from=127.0.0.1 status=403 reason=bad-digest" 1 "wrong password"
expect_lines "proxy method=INVITE from=sip:alice@ims.test to=sip:bob@ims.test status=200 dir=term branches=1" 2 "calls answered"
expect_lines "proxy method=INVITE from=sip:alice@ims.test to=sip:bob@ims.test status=200 dir=term branches=2" 2 "forked calls answered"
expect_lines "proxy method=MESSAGE from=sip:alice@ims.test to=sip:bob@ims.test status=200 dir=dialog" 4 "in-dialog MESSAGE"
expect_lines "proxy method=BYE from=sip:alice@ims.test to=sip:bob@ims.test status=200 dir=dialog" 4 "BYE"
expect_lines "proxy method=INVITE from=sip:alice@ims.test to=sip:bob@ims.test status=487 dir=term branches=1 reason=cancelled" 2 "CANCEL before answer"
expect_lines "proxy method=INVITE from=sip:alice@ims.test to=sip:bob@ims.test status=480 dir=term branches=1 reason=no-answer" 2 "Timer C"
grep -q -e "Secret-" -e "wrong-password" "$work/stub.log" && fail "a password reached the log"

# --- the gateway path: Path as Route, 430 → the other reg-id, then 480 ---------------------
start_stub
gw_port=$(free_port)
for regid in 1 2; do
    sipp_fg "gateway flow REGISTER reg-id $regid" stub_gw_register.xml t1 \
        -key regid "$regid" -key gwport "$gw_port"
done
sipp_uas stub_gw_430_uas.xml t1 "$gw_port"
sipp_fg "originating INVITE via Service-Route" stub_orig_uac.xml t1
sipp_uas_wait
stop_stub
expect_lines "bindings: flow failed, dropping aor=sip:bob@ims.test reg-id=" 2 "both flows dropped after 430"
expect_lines "proxy method=INVITE from=sip:alice@ims.test to=sip:bob@ims.test status=480 dir=orig branches=1 reason=flow-failed" 1 "480 after 430 on every flow"

if [[ $failures -ne 0 ]]; then
    echo "--- stub log ---"
    cat "$work/stub.log"
    echo "$failures failure(s)"
    exit 1
fi
echo "all stub SIPp checks passed"
