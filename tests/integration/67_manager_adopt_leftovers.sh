#!/usr/bin/env bash
# Only what the earlier run started is adopted: pid files in the state dir
# that name a process that is gone, a pid now used by another process (start
# time not the recorded one), or a live process of ours that is not the
# worker (another executable) are removed, not adopted; the processes they
# name are left alone, and the manager starts its own instances.
# timeout: 60
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

[ -x "$PP_BIN/manager" ] || pp_die "no $PP_BIN/manager (run make)"
PREFIX=l$$
PREFIX=${PREFIX:0:7}
STATE=$PP_TMP/state
mkdir -m 700 "$STATE"
API_PORT=$(pp_free_port)
API=http://127.0.0.1:$API_PORT
BASE=$(pp_free_port)
start_time() { awk '{ sub(/^.*\) /, ""); print $20 }' "/proc/$1/stat"; }

# 1: a process that is gone (its start time recorded while it ran).
sleep 30 &
dead=$!
dead_start=$(start_time "$dead")
kill "$dead"
wait "$dead" 2>/dev/null || true
echo "$dead $dead_start" >"$STATE/${PREFIX}1.pid"
# 2: a pid reused by another process: the recorded start time is not its.
sleep 30 &
reused=$!
pp_track "$reused"
echo "$reused $(($(start_time "$reused") - 1))" >"$STATE/${PREFIX}2.pid"
# 3: the very process recorded, but not a worker (sleep, not proxyd).
sleep 30 &
other=$!
pp_track "$other"
echo "$other $(start_time "$other")" >"$STATE/${PREFIX}3.pid"

pp_bg manager "$PP_BIN/manager" --runtime process --replicas 1 --api "127.0.0.1:$API_PORT" \
    --base-port "$BASE" --state-dir "$STATE" --prefix "$PREFIX" --drain-timeout 2s
MANAGER_PID=$PP_LAST_PID
ready_is() { [ "$(curl -s --max-time 2 "$API/v1/pool" | jq -r .ready 2>/dev/null)" = "$1" ]; }
pp_wait_until 20 ready_is 1 || pp_die "manager not ready: $(tail -5 "$PP_TMP/manager.log")"
log=$(cat "$PP_TMP/manager.log")
expect_no_match "$log" "adopted" "nothing adopted"
expect_match "$log" "removed ${PREFIX}1 .*pid $dead no longer runs" "the dead pid is removed"
expect_match "$log" "removed ${PREFIX}2 .*another process, not ours" "the reused pid is removed"
expect_match "$log" "removed ${PREFIX}3 .*it runs sleep, not proxyd" "the other executable is removed"
kill -0 "$reused" || pp_die "the process now using a recorded pid was killed"
kill -0 "$other" || pp_die "a process that is not a worker was killed"
expect_ne "$(curl -s "$API/v1/pool" | jq -r '.instances[0].pid')" "$dead" "instance 1 is a new process"
expect_eq "$(curl -s "$API/v1/pool" | jq -r '[.instances[].id] | join(",")')" 1 "only instance 1"
for f in 2 3; do
    [ -e "$STATE/$PREFIX$f.pid" ] && pp_die "pid file $PREFIX$f.pid left"
done

kill -TERM "$MANAGER_PID"
pp_wait_until 20 bash -c "! kill -0 $MANAGER_PID 2>/dev/null" || pp_die "manager still running after SIGTERM"
kill "$reused" "$other" 2>/dev/null || true
