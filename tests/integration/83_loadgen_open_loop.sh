#!/usr/bin/env bash
# Coordinated omission: nginx is stopped (SIGSTOP) for 1 s in the middle of
# a 3 s run. In open loop (--rate 200, at most 10 connections) the requests
# due during the stall wait, and their latency, timed from their intended
# send time, shows it: p99 near the stall. In closed loop one connection sees
# the stall once (its max) and its p99 hides it: the closed loop's p99 is far
# below the open loop's. The open loop's schedule is exact: every request due
# in the run is measured, in flight at the end, or counted as never sent.
# timeout: 60
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

LOADGEN=$PP_BIN/loadgen
[ -x "$LOADGEN" ] || pp_die "no $LOADGEN (run make)"

json() { jq -r "$2" "$1"; }
ms() { jq -r "$2" "$1" | awk '{ printf "%d", $1 }'; }

pp_make_file "$PP_TMP/www/obj1k" 1024
pp_start_nginx_origin "$PP_TMP/www"
# master_process off: the pid is the one process that serves.
pp_on_cleanup "kill -CONT $PP_ORIGIN_PID 2>/dev/null || true"

# stall AFTER_S: stops nginx for 1 s, AFTER_S seconds from now (background).
stall() {
    (
        sleep "$1"
        kill -STOP "$PP_ORIGIN_PID"
        sleep 1
        kill -CONT "$PP_ORIGIN_PID"
    ) &
    STALL_PID=$!
    pp_track "$STALL_PID"
}

# --- open loop
stall 1
"$LOADGEN" "$PP_ORIGIN_URL/obj1k" --rate 200 -c 10 --duration 3 --csv "$PP_TMP/open.csv" \
    --json "$PP_TMP/open.json" >"$PP_TMP/open.out" || pp_die "open-loop run failed"
wait "$STALL_PID"
pp_log "open loop: $(grep -E 'latency ms' "$PP_TMP/open.out")"
expect_eq "$(json "$PP_TMP/open.json" .mode)" open "mode"
expect_eq "$(json "$PP_TMP/open.json" .errors.total)" 0 "open loop: errors"
open_p99=$(ms "$PP_TMP/open.json" .latency_ms.p99)
open_p90=$(ms "$PP_TMP/open.json" .latency_ms.p90)
expect_ge "$open_p99" 700 "open loop: p99 ms with a 1 s stall"
expect_ge "$open_p90" 300 "open loop: p90 ms (a fifth of the requests were due in the stall)"
scheduled=$(($(json "$PP_TMP/open.json" .requests) + $(json "$PP_TMP/open.json" .unfinished) + $(json "$PP_TMP/open.json" .unsent)))
expect_eq "$scheduled" 600 "open loop: measured + unfinished + never sent = 3 s x 200/s"
# Every row has its intended time; the latency counts from it.
expect_eq "$(awk -F, 'NR > 1 && ($14 == "" || $14 > $1)' "$PP_TMP/open.csv" | wc -l | tr -d ' ')" 0 "rows without an intended time, or sent before it"
late=$(awk -F, 'NR > 1 && $1 - $14 >= 500000' "$PP_TMP/open.csv" | wc -l | tr -d ' ')
expect_ge "$late" 50 "open loop: rows sent >= 0.5 s after their intended time (waited out the stall)"
intervals=$(awk -F, 'NR > 1 { print $14 }' "$PP_TMP/open.csv" | sort -n |
    awk 'NR > 1 { d = $1 - prev; if (d < 4900 || d > 5100) bad++ } { prev = $1 } END { print bad + 0 }')
expect_eq "$intervals" 0 "intended times not 5 ms apart (+-0.1 ms)"

# --- closed loop, the same stall
stall 1
"$LOADGEN" "$PP_ORIGIN_URL/obj1k" -c 1 --duration 3 --json "$PP_TMP/closed.json" \
    >"$PP_TMP/closed.out" || pp_die "closed-loop run failed"
wait "$STALL_PID"
pp_log "closed loop: $(grep -E 'latency ms' "$PP_TMP/closed.out")"
closed_p99=$(ms "$PP_TMP/closed.json" .latency_ms.p99)
closed_max=$(ms "$PP_TMP/closed.json" .latency_ms.max)
expect_ge "$closed_max" 700 "closed loop: max ms (the one request that met the stall)"
expect_le "$((closed_p99 * 2))" "$open_p99" "closed-loop p99 x 2 vs open-loop p99 (ms): the stall is hidden"
pp_log "PASS"
