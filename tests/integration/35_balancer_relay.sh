#!/usr/bin/env bash
# The balancer relays TCP faithfully: a 1 MiB object arrives byte for byte,
# a client's half-close is passed on and the answer still comes back, an
# idle connection is closed at --idle-timeout, past --max-conns a new
# connection is closed at once (not queued), two thousand idle connections
# do not stop a request, with every backend dead a client is turned away at
# once rather than left hanging, and SIGTERM lets a download in progress
# finish while refusing new connections.
# timeout: 90
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_make_file "$PP_TMP/www/obj1m" 1048576
pp_start_nginx_origin "$PP_TMP/www" '
        location /slow/ {
            alias '"$PP_TMP"'/www/;
            limit_rate 512k;
        }'
want=$(md5sum <"$PP_TMP/www/obj1m" | cut -d' ' -f1)
n=127.0.0.1:$PP_ORIGIN_PORT

# --- bytes exact through two backends (the same nginx under two names)
pp_start_balancer --backend "a=$n" --backend "b=$n" --algo roundrobin
for i in $(seq 1 10); do
    got=$(curl -sf --max-time 10 "http://$PP_BAL_LISTEN/obj1m" | md5sum | cut -d' ' -f1)
    expect_eq "$got" "$want" "md5 of the object through the balancer ($i)"
done
expect_eq "$(pp_bal_backend a total)" 5 "connections to a (round robin)"
expect_eq "$(pp_bal_backend b total)" 5 "connections to b"
expect_ge "$(pp_bal_backend a bytes_in)" $((5 * 1048576)) "bytes from a"

# --- half-close: the request, then FIN; the answer still comes back whole
pp_raw --half-close --timeout-ms 10000 --send 'GET /obj1m HTTP/1.1\r\nHost: o\r\nConnection: close\r\n\r\n' "$PP_BAL_LISTEN"
expect_eq "$PP_RAW_RC" 0 "rawhttp after a half-close (peer closed after answering)"
expect_eq "$(pp_raw_status)" 200 "status after the client's half-close"
expect_ge "$(stat -c %s "$PP_RAW_OUT")" 1048576 "bytes after the client's half-close"
kill -TERM "$PP_BAL_PID"
wait "$PP_BAL_PID" 2>/dev/null || true

# --- idle timeout and max-conns on one balancer
pp_start_balancer --backend "a=$n" --idle-timeout 700ms --max-conns 3
pp_raw --timeout-ms 5000 --send '' "$PP_BAL_LISTEN"
expect_eq "$PP_RAW_RC" 0 "an idle connection is closed by the balancer (not by rawhttp's timeout)"
holders=()
for i in 1 2 3; do
    "$PP_TOOLS/rawhttp" --timeout-ms 3000 --send '' "$PP_BAL_LISTEN" >/dev/null 2>&1 &
    holders+=($!)
done
pp_wait_until 5 pp_bal_active_is 3 ||
    pp_die "three idle connections never showed as active"
rc=0
curl -s --max-time 5 -o /dev/null "http://$PP_BAL_LISTEN/obj1m" || rc=$?
expect_ne "$rc" 0 "a fourth connection past --max-conns 3 fails"
expect_ne "$rc" 28 "... at once, not by timing out"
expect_eq "$(curl -s "$PP_BAL_ADMIN/v1/backends" | jq .connections.refused_max_conns)" 1 "refused_max_conns"
wait "${holders[@]}" 2>/dev/null || true
pp_wait_until 5 pp_bal_active_is 0 ||
    pp_die "idle connections were not closed at the idle timeout"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$PP_BAL_LISTEN/obj1m")" 200 \
    "a request once the idle ones are gone"
kill -TERM "$PP_BAL_PID"
wait "$PP_BAL_PID" 2>/dev/null || true

# --- two thousand idle connections, then a request
pp_start_balancer --backend "a=$n"
/usr/bin/python3 - "$PP_BAL_LISTEN" "$PP_TMP/idle.ready" >"$PP_TMP/idle.log" 2>&1 <<'PY' &
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
socks = []
for i in range(2000):
    s = socket.create_connection((host, int(port)), timeout=5)
    socks.append(s)
open(sys.argv[2], "w").write("ready\n")
time.sleep(8)
PY
idle_pid=$!
pp_track "$idle_pid"
pp_wait_until 20 test -s "$PP_TMP/idle.ready" || pp_die "could not open 2000 idle connections ($(cat "$PP_TMP/idle.log"))"
pp_wait_until 5 pp_bal_active_ge 2000 ||
    pp_die "the balancer does not hold 2000 connections"
got=$(curl -sf --max-time 10 "http://$PP_BAL_LISTEN/obj1m" | md5sum | cut -d' ' -f1)
expect_eq "$got" "$want" "a request beside 2000 idle connections"
kill "$idle_pid" 2>/dev/null || true
pp_wait_until 10 pp_bal_active_is 0 ||
    pp_die "connections not released after the idle clients left"

# --- SIGTERM: a download in progress (2 s at 512 KiB/s) finishes; new ones are refused
curl -s --max-time 20 -o "$PP_TMP/slow.out" -w '%{http_code}' "http://$PP_BAL_LISTEN/slow/obj1m" >"$PP_TMP/slow.code" &
slow=$!
pp_wait_until 5 pp_bal_active_is 1 ||
    pp_die "the slow download did not start"
kill -TERM "$PP_BAL_PID"
sleep 0.3
rc=0
curl -s --max-time 3 -o /dev/null "http://$PP_BAL_LISTEN/obj1m" || rc=$?
expect_eq "$rc" 7 "a new connection after SIGTERM is refused (curl: could not connect)"
wait "$slow" || true
expect_eq "$(cat "$PP_TMP/slow.code")" 200 "the download in progress at SIGTERM"
expect_eq "$(stat -c %s "$PP_TMP/slow.out")" 1048576 "... complete"
rc=0
wait "$PP_BAL_PID" || rc=$?
expect_eq "$rc" 0 "the balancer's exit status after a graceful stop"
expect_match "$(cat "$PP_BAL_LOG")" "every connection finished; exiting" "log of the graceful stop"

# --- every backend dead: turned away at once
dead=$(pp_free_port)
pp_start_balancer --backend "x=127.0.0.1:$dead" --backend "y=127.0.0.1:$dead"
for i in 1 2 3 4 5; do
    rc=0
    curl -s --max-time 5 -o /dev/null "http://$PP_BAL_LISTEN/obj1m" || rc=$?
    expect_match "$rc" '^(52|56)$' "curl with every backend dead (empty reply or reset, not a timeout) ($i)"
done
expect_eq "$(pp_bal_backend x state)" down "x after failed connects (passive check)"
expect_eq "$(pp_bal_backend y state)" down "y after failed connects"
expect_ge "$(curl -s "$PP_BAL_ADMIN/v1/backends" | jq .connections.refused_no_backend)" 1 "refused with no backend up"
expect_match "$(curl -s "$PP_BAL_ADMIN/v1/backends" | jq -r '.backends[0].transitions[-1].cause')" \
    "consecutive failures" "the cause of x going down (on traffic, or by the active check when it ran first)"
