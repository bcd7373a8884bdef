#!/usr/bin/env bash
# Open loop on a rate schedule (--rate-steps) with its per-second series
# (--series): 50/s for 1 s, 200/s for 1 s, a 0.5 s pause, 100/s for 1 s.
# The intended times follow the steps exactly, the series' offered column
# is the schedule's per second (50, 200, 50, 50), every scheduled request is
# measured, in flight at the end, or never sent, and the series' completed
# and errors add up to the measured requests. A bad schedule is a usage
# error that names the step.
# timeout: 60
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

LOADGEN=$PP_BIN/loadgen
[ -x "$LOADGEN" ] || pp_die "no $LOADGEN (run make)"

json() { jq -r "$2" "$1"; }

pp_make_file "$PP_TMP/www/obj1k" 1024
pp_start_nginx_origin "$PP_TMP/www"

"$LOADGEN" "$PP_ORIGIN_URL/obj1k" --rate-steps 50:1s,200:1s,0:500ms,100:1s -c 20 \
    --csv "$PP_TMP/run.csv" --json "$PP_TMP/run.json" --series "$PP_TMP/series.csv" \
    --slo 200ms >"$PP_TMP/run.out" || pp_die "rate-steps run failed"
pp_log "series: $(tr '\n' ' ' <"$PP_TMP/series.csv")"
expect_eq "$(json "$PP_TMP/run.json" .mode)" open "mode"
expect_eq "$(json "$PP_TMP/run.json" .errors.total)" 0 "errors"
scheduled=$(($(json "$PP_TMP/run.json" .requests) + $(json "$PP_TMP/run.json" .unfinished) + $(json "$PP_TMP/run.json" .unsent)))
expect_eq "$scheduled" 350 "measured + unfinished + never sent = 50 + 200 + 0 + 50 + 50"

expect_eq "$(head -1 "$PP_TMP/series.csv")" "second,offered,completed,errors,p99_ms,over_slo" "series header"
expect_eq "$(awk -F, 'NR > 1 { printf "%s ", $2 }' "$PP_TMP/series.csv")" "50 200 50 50 " "offered per second"
expect_eq "$(awk -F, 'NR > 1 { n += $3 + $4 } END { print n }' "$PP_TMP/series.csv")" \
    "$(json "$PP_TMP/run.json" .requests)" "series completed + errors = measured requests"
expect_eq "$(awk -F, 'NR > 1 && ($6 == "" || $6 > $3)' "$PP_TMP/series.csv" | wc -l | tr -d ' ')" 0 \
    "rows whose over_slo is empty or above completed"
expect_eq "$(awk -F, 'NR > 1 && $3 > 0 && $5 == ""' "$PP_TMP/series.csv" | wc -l | tr -d ' ')" 0 \
    "rows with completions but no p99"

# The gaps between sorted intended times, in 0.1 ms: 20 ms in step 1 (49,
# and one more into step 2's first), 5 ms in step 2 (199), one of 505 ms
# over the pause (1.995 s to 2.5 s), 10 ms in the last step (99).
gaps=$(awk -F, 'NR > 1 { print $14 }' "$PP_TMP/run.csv" | sort -n |
    awk 'NR > 1 { d = $1 - prev; printf "%d\n", (d + 50) / 100 } { prev = $1 }' | sort -n | uniq -c |
    awk '{ printf "%s:%s ", $2, $1 }')
pp_log "intended-time gaps (0.1 ms:count): $gaps"
expect_eq "$gaps" "50:199 100:99 200:50 5050:1 " "gaps between intended times"

# Usage errors: exit 2, the step named.
for bad in "50:1s,,100:1s" "50" "fast:1s" "50:0s" "0:1s"; do
    rc=0
    "$LOADGEN" "$PP_ORIGIN_URL/obj1k" --rate-steps "$bad" >"$PP_TMP/bad.out" 2>&1 || rc=$?
    expect_eq "$rc" 2 "exit status for --rate-steps '$bad'"
    grep -q -- "--rate-steps" "$PP_TMP/bad.out" || pp_die "no option named for '$bad': $(cat "$PP_TMP/bad.out")"
done
rc=0
"$LOADGEN" "$PP_ORIGIN_URL/obj1k" --rate-steps 50:1s --duration 5 >"$PP_TMP/bad.out" 2>&1 || rc=$?
expect_eq "$rc" 2 "exit status for --rate-steps with --duration"
pp_log "PASS"
