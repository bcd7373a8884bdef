#!/usr/bin/env bash
# loadgen against a real nginx: counts and bytes exact for a known object
# (every request a CSV row with the issue's columns, the JSON's totals equal
# to N x the object and N x its head, the origin logging N requests), C
# kept-alive connections for N requests and N connections without
# keep-alive, a chunked (gzip) body counted by its payload, a --duration run
# that stops on time, and usage errors that exit 2 naming the option.
# timeout: 60
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

LOADGEN=$PP_BIN/loadgen
[ -x "$LOADGEN" ] || pp_die "no $LOADGEN (run make)"

pp_make_file "$PP_TMP/www/obj1m" 1048576
pp_make_file "$PP_TMP/www/obj1k" 1024
mkdir -p "$PP_TMP/www/gz"
for i in $(seq 1 2000); do echo "line $i of a text that compresses well"; done >"$PP_TMP/www/gz/text"
pp_start_nginx_origin "$PP_TMP/www" 'location /gz/ { gzip on; gzip_types *; gzip_min_length 0; }'

# json FILE JQ: one value of a JSON summary.
json() { jq -r "$2" "$1"; }

# --- counts and bytes exact: 200 x 1 MiB over 8 kept-alive connections
head_bytes=$(pp_curl -s -o /dev/null -D - "$PP_ORIGIN_URL/obj1m" | wc -c | tr -d ' ')
pp_log "nginx's response head for /obj1m is $head_bytes bytes"
before=$(pp_origin_count /obj1m)
"$LOADGEN" "$PP_ORIGIN_URL/obj1m" -n 200 -c 8 --csv "$PP_TMP/a.csv" --json "$PP_TMP/a.json" \
    --label basics >"$PP_TMP/a.out" 2>"$PP_TMP/a.err" || pp_die "loadgen exited $?: $(cat "$PP_TMP/a.err")"
expect_eq "$(head -n 1 "$PP_TMP/a.csv")" \
    "ts_start_us,client,conn,req,status,ok,error,connect_us,ttfb_us,total_us,bytes_in,proxy,cache,intended_us,warmup" "CSV header"
expect_eq "$(($(pp_count_lines "$PP_TMP/a.csv") - 1))" 200 "CSV rows"
expect_eq "$(awk -F, 'NR > 1 && $5 == 200 && $6 == 1 && $7 == "" && $15 == 0' "$PP_TMP/a.csv" | wc -l | tr -d ' ')" 200 "rows with 200, ok, no error, not warm-up"
expect_eq "$(awk -F, 'NR > 1 { s += $11 } END { print s }' "$PP_TMP/a.csv")" $((200 * (1048576 + head_bytes))) "sum of bytes_in in the CSV"
expect_eq "$(awk -F, 'NR > 1 { print $4 }' "$PP_TMP/a.csv" | sort -n | uniq | wc -l | tr -d ' ')" 200 "distinct req numbers"
expect_eq "$(awk -F, 'NR > 1 && ($9 > $10 || $10 <= 0) { bad++ } END { print bad + 0 }' "$PP_TMP/a.csv")" 0 "rows with ttfb > total or no total"
expect_eq "$(json "$PP_TMP/a.json" .requests)" 200 "JSON requests"
expect_eq "$(json "$PP_TMP/a.json" .ok)" 200 "JSON ok"
expect_eq "$(json "$PP_TMP/a.json" .errors.total)" 0 "JSON errors"
expect_eq "$(json "$PP_TMP/a.json" .body_bytes)" $((200 * 1048576)) "JSON body_bytes"
expect_eq "$(json "$PP_TMP/a.json" .bytes_in)" $((200 * (1048576 + head_bytes))) "JSON bytes_in"
expect_eq "$(json "$PP_TMP/a.json" .connections)" 8 "connections opened (keep-alive)"
expect_eq "$(json "$PP_TMP/a.json" .label)" basics "JSON label"
expect_eq "$(json "$PP_TMP/a.json" '.per_client | length')" 1 "one client"
expect_eq "$(json "$PP_TMP/a.json" '.latency_ms | keys | join(",")')" "max,mean,p50,p90,p99" "latency_ms keys"
expect_match "$(json "$PP_TMP/a.json" .loadgen_cpu_pct)" '^[0-9.]+$' "loadgen_cpu_pct"
expect_match "$(json "$PP_TMP/a.json" .saturated)" '^(true|false)$' "saturated flag"
expect_eq "$(($(pp_origin_count /obj1m) - before))" 200 "origin requests for /obj1m"
expect_match "$(cat "$PP_TMP/a.out")" "requests    200, ok 200, errors 0" "human summary"
expect_eq "$(cat "$PP_TMP/a.err")" "" "nothing on stderr (no progress line when not a terminal)"

# --- no keep-alive: one connection per request, each with a connect time
"$LOADGEN" "$PP_ORIGIN_URL/obj1k" -n 30 -c 3 --no-keepalive --csv "$PP_TMP/b.csv" --json "$PP_TMP/b.json" \
    --quiet || pp_die "loadgen --no-keepalive failed"
expect_eq "$(json "$PP_TMP/b.json" .connections)" 30 "connections opened without keep-alive"
expect_eq "$(json "$PP_TMP/b.json" .ok)" 30 "ok without keep-alive"
expect_eq "$(awk -F, 'NR > 1 && $8 > 0' "$PP_TMP/b.csv" | wc -l | tr -d ' ')" 30 "rows with a connect time"
expect_eq "$(json "$PP_TMP/b.json" .body_bytes)" $((30 * 1024)) "body bytes without keep-alive"

# --- chunked (gzip) bodies: counted by payload, the connection stays in step
gz_head=$(pp_curl -s -H 'Accept-Encoding: gzip' -o "$PP_TMP/text.gz" -D - "$PP_ORIGIN_URL/gz/text" | tr -d '\r')
expect_match "$gz_head" $'\nTransfer-Encoding: chunked' "nginx sends the gzip body chunked"
gz_bytes=$(stat -c %s "$PP_TMP/text.gz")
"$LOADGEN" "$PP_ORIGIN_URL/gz/text" -H 'Accept-Encoding: gzip' -n 40 -c 2 --json "$PP_TMP/c.json" --quiet ||
    pp_die "loadgen chunked failed"
expect_eq "$(json "$PP_TMP/c.json" .ok)" 40 "chunked responses ok"
expect_eq "$(json "$PP_TMP/c.json" .body_bytes)" $((40 * gz_bytes)) "chunked payload bytes"
expect_eq "$(json "$PP_TMP/c.json" .connections)" 2 "chunked responses reuse connections"

# --- --duration bounds a run without -n
start=$SECONDS
"$LOADGEN" "$PP_ORIGIN_URL/obj1k" --duration 1500ms -c 4 --json "$PP_TMP/d.json" --quiet || pp_die "duration run failed"
took=$((SECONDS - start))
expect_le "$took" 5 "seconds a --duration 1.5s run took"
expect_ge "$(json "$PP_TMP/d.json" .requests)" 1 "requests in a duration run"
expect_le "$(json "$PP_TMP/d.json" .unfinished)" 4 "unfinished at the end (at most one per connection)"
expect_eq "$(json "$PP_TMP/d.json" .errors.total)" 0 "errors in a duration run"

# --- usage errors: exit 2, one line naming the option; --help exits 0
usage_case() {
    local want=$1 rc=0
    shift
    "$LOADGEN" "$@" >"$PP_TMP/u.out" 2>"$PP_TMP/u.err" || rc=$?
    expect_eq "$rc" 2 "exit code of loadgen $*"
    expect_eq "$(wc -l <"$PP_TMP/u.err" | tr -d ' ')" 1 "one line for loadgen $*"
    expect_match "$(cat "$PP_TMP/u.err")" "$want" "message for loadgen $*"
}
usage_case '-n/--requests' -n -5 "$PP_ORIGIN_URL/obj1k"
usage_case '-c/--concurrency' -c 0 "$PP_ORIGIN_URL/obj1k"
usage_case 'not an http:// URL' "ftp://127.0.0.1/x"
usage_case 'unknown option' --bogus "$PP_ORIGIN_URL/obj1k"
usage_case 'no URL' -n 5
usage_case '--rate' --rate -3 "$PP_ORIGIN_URL/obj1k"
"$LOADGEN" --help >"$PP_TMP/help.out" || pp_die "--help exited $?"
for opt in --proxy --requests --concurrency --duration --rate --warmup --timeout --keepalive \
    --no-keepalive --testbed --source --csv --json --label; do
    grep -q -- "$opt" "$PP_TMP/help.out" || pp_die "--help lacks $opt"
done
pp_log "ok: --help lists every option of the issue"
pp_log "PASS"
