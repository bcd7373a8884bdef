#!/usr/bin/env bash
# Failed requests are data: each way a request can fail is counted in its
# class, never dropped, and loadgen still exits 0. A dead port -> connect; a
# server closing mid-body -> short_body; a silent one -> timeout (at
# --timeout); one closing at once -> reset; a malformed chunked body ->
# bad_response; a 404 -> status (a whole response, timed). SIGINT stops a
# run, which still writes its CSV and JSON (marked interrupted) and exits 0.
# timeout: 60
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

LOADGEN=$PP_BIN/loadgen
[ -x "$LOADGEN" ] || pp_die "no $LOADGEN (run make)"

json() { jq -r "$2" "$1"; }

# run NAME URL ARGS...: loadgen with a CSV and a JSON; must exit 0.
run() {
    local name=$1 url=$2 rc=0
    shift 2
    "$LOADGEN" "$url" --csv "$PP_TMP/$name.csv" --json "$PP_TMP/$name.json" --quiet "$@" \
        2>"$PP_TMP/$name.err" || rc=$?
    expect_eq "$rc" 0 "exit code of the $name run"
}

# every_row NAME ERROR: all CSV rows carry this error class and ok=0.
every_row() {
    local rows
    rows=$(($(pp_count_lines "$PP_TMP/$1.csv") - 1))
    expect_eq "$(awk -F, -v e="$2" 'NR > 1 && $7 == e && $6 == 0' "$PP_TMP/$1.csv" | wc -l | tr -d ' ')" \
        "$rows" "$1: CSV rows with error $2"
}

# --- a dead port: connect errors
dead=$(pp_free_port)
run dead "http://127.0.0.1:$dead/x" -n 20 -c 2
expect_eq "$(json "$PP_TMP/dead.json" .requests)" 20 "dead port: requests"
expect_eq "$(json "$PP_TMP/dead.json" .errors.connect)" 20 "dead port: connect errors"
expect_eq "$(json "$PP_TMP/dead.json" .ok)" 0 "dead port: ok"
expect_eq "$(json "$PP_TMP/dead.json" .responses)" 0 "dead port: responses"
expect_eq "$(($(pp_count_lines "$PP_TMP/dead.csv") - 1))" 20 "dead port: CSV rows"
every_row dead connect

# --- closes mid-body: short_body, with the status and the bytes that came
pp_start_badorigin close-mid-body
run cut "$PP_BAD_URL/obj1m" -n 5 -c 1
expect_eq "$(json "$PP_TMP/cut.json" .errors.short_body)" 5 "close-mid-body: short_body errors"
expect_eq "$(json "$PP_TMP/cut.json" .errors.total)" 5 "close-mid-body: no other error"
every_row cut short_body
expect_eq "$(awk -F, 'NR > 1 && $5 == 200 && $11 > 65536' "$PP_TMP/cut.csv" | wc -l | tr -d ' ')" 5 "close-mid-body: status 200 and the partial bytes in each row"
expect_eq "$(pp_count_lines "$PP_BAD_COUNT_FILE")" 5 "close-mid-body: requests the server got"

# --- silent: timeout at --timeout
pp_start_badorigin silent
start=$SECONDS
run silent "$PP_BAD_URL/x" -n 2 -c 2 --timeout 1s
expect_le "$((SECONDS - start))" 4 "seconds a --timeout 1s run against silence took"
expect_eq "$(json "$PP_TMP/silent.json" .errors.timeout)" 2 "silent: timeout errors"
every_row silent timeout
expect_eq "$(awk -F, 'NR > 1 && $10 >= 1000000 && $10 < 1600000' "$PP_TMP/silent.csv" | wc -l | tr -d ' ')" 2 "silent: total_us between the timeout and the timeout + a sweep"

# --- closed at once: reset
pp_start_badorigin refuse-after-accept
run refused "$PP_BAD_URL/x" -n 5 -c 1
expect_eq "$(json "$PP_TMP/refused.json" .errors.reset)" 5 "refuse-after-accept: reset errors"
every_row refused reset

# --- malformed chunked body: bad_response
pp_start_badorigin bad-chunk
run badchunk "$PP_BAD_URL/x" -n 3 -c 1
expect_eq "$(json "$PP_TMP/badchunk.json" .errors.bad_response)" 3 "bad-chunk: bad_response errors"
every_row badchunk bad_response

# --- a 404: a whole response (timed, kept alive) and a status error
mkdir -p "$PP_TMP/www"
pp_make_file "$PP_TMP/www/obj1m" 1048576
pp_start_nginx_origin "$PP_TMP/www"
run missing "$PP_ORIGIN_URL/nothing-here" -n 10 -c 2
expect_eq "$(json "$PP_TMP/missing.json" .errors.status)" 10 "404: status errors"
expect_eq "$(json "$PP_TMP/missing.json" .responses)" 10 "404: whole responses"
expect_eq "$(json "$PP_TMP/missing.json" .connections)" 2 "404: connections kept alive"
expect_eq "$(awk -F, 'NR > 1 && $5 == 404 && $7 == "status" && $6 == 0' "$PP_TMP/missing.csv" | wc -l | tr -d ' ')" 10 "404: CSV rows"

# --- SIGINT: stop, write what was measured, exit 0
"$LOADGEN" "$PP_ORIGIN_URL/obj1m" --duration 30 -c 4 --csv "$PP_TMP/int.csv" --json "$PP_TMP/int.json" \
    >"$PP_TMP/int.out" 2>"$PP_TMP/int.err" &
lg=$!
pp_track "$lg"
pp_wait_until 10 test -s "$PP_TMP/int.csv" || pp_die "no CSV while running"
sleep 1
kill -INT "$lg"
rc=0
wait "$lg" || rc=$?
expect_eq "$rc" 0 "exit code after SIGINT"
expect_eq "$(json "$PP_TMP/int.json" .interrupted)" true "JSON interrupted"
requests=$(json "$PP_TMP/int.json" .requests)
expect_ge "$requests" 1 "requests measured before SIGINT"
expect_eq "$(($(pp_count_lines "$PP_TMP/int.csv") - 1))" "$requests" "CSV rows = requests in the JSON"
expect_match "$(cat "$PP_TMP/int.out")" "INTERRUPTED" "summary says it was interrupted"
expect_match "$(cat "$PP_TMP/int.err")" "Interrupt" "stderr names the signal"
pp_log "PASS"
