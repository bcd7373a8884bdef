#!/usr/bin/env bash
# What loadgen times: 1 MiB sent by nginx at a fixed rate (limit_rate 4m:
# ~250 ms; 2m: ~500 ms) measures in that band and slower than the same
# object unlimited, and the slower endpoint measures slower; warm-up rows
# (requests that finished before the warm-up ended) are in the CSV marked
# warmup=1 and left out of the summary; through a real
# proxyd (--proxy, absolute-form requests), X-Cache HIT/MISS is counted per
# proxy.
# timeout: 60
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

LOADGEN=$PP_BIN/loadgen
[ -x "$LOADGEN" ] || pp_die "no $LOADGEN (run make)"

json() { jq -r "$2" "$1"; }
ms() { jq -r "$2" "$1" | awk '{ printf "%d", $1 }'; } # integer milliseconds

pp_make_file "$PP_TMP/www/obj1m" 1048576
pp_make_file "$PP_TMP/www/obj2" 1048576
# nginx's limit_rate lets a whole second's worth out in the first send and
# then waits sent/rate: sendfile_max_chunk keeps each send at 16 KiB, so the
# body really flows at the rate (64 sends, each followed by 16K/rate).
pp_start_nginx_origin "$PP_TMP/www" "
        location /r4/ { alias $PP_TMP/www/; limit_rate 4m; sendfile_max_chunk 16k; }
        location /r2/ { alias $PP_TMP/www/; limit_rate 2m; sendfile_max_chunk 16k; }"

# --- rates the test sets: bands and ordering
for ep in fast r4 r2; do
    path=/obj1m
    [ "$ep" = fast ] || path=/$ep/obj1m
    "$LOADGEN" "$PP_ORIGIN_URL$path" -n 6 -c 2 --json "$PP_TMP/$ep.json" --quiet || pp_die "$ep run failed"
    expect_eq "$(json "$PP_TMP/$ep.json" .ok)" 6 "$ep: ok"
    pp_log "$ep: p50 $(json "$PP_TMP/$ep.json" .latency_ms.p50) ms, max $(json "$PP_TMP/$ep.json" .latency_ms.max) ms"
done
fast=$(ms "$PP_TMP/fast.json" .latency_ms.p50)
r4=$(ms "$PP_TMP/r4.json" .latency_ms.p50)
r2=$(ms "$PP_TMP/r2.json" .latency_ms.p50)
expect_ge "$r4" 150 "limit_rate 4m: p50 ms (1 MiB at 4 MiB/s = 250 ms)"
expect_le "$r4" 1000 "limit_rate 4m: p50 ms"
expect_ge "$r2" 300 "limit_rate 2m: p50 ms (1 MiB at 2 MiB/s = 500 ms)"
expect_le "$r2" 2000 "limit_rate 2m: p50 ms"
expect_ge "$((r2 - r4))" 1 "2m slower than 4m (ms)"
expect_ge "$((r4 - fast))" 1 "4m slower than unlimited (ms)"
# The first byte comes before the rate limit bites the body.
expect_ge "$(ms "$PP_TMP/r4.json" .latency_ms.p50)" "$(ms "$PP_TMP/r4.json" .ttfb_ms.p50)" "4m: total >= ttfb"

# --- warm-up: rows present and marked, left out of the summary
"$LOADGEN" "$PP_ORIGIN_URL/r4/obj1m" --warmup 1s --duration 1s -c 2 --csv "$PP_TMP/w.csv" \
    --json "$PP_TMP/w.json" --quiet || pp_die "warm-up run failed"
warm_rows=$(awk -F, 'NR > 1 && $15 == 1' "$PP_TMP/w.csv" | wc -l | tr -d ' ')
measured_rows=$(awk -F, 'NR > 1 && $15 == 0' "$PP_TMP/w.csv" | wc -l | tr -d ' ')
expect_ge "$warm_rows" 2 "CSV rows marked warmup=1"
expect_ge "$measured_rows" 1 "CSV rows after the warm-up"
expect_eq "$(json "$PP_TMP/w.json" .warmup_requests)" "$warm_rows" "JSON warmup_requests = warm-up rows"
expect_eq "$(json "$PP_TMP/w.json" .requests)" "$measured_rows" "JSON requests = rows after the warm-up"
# A request belongs to the window it finishes in (start + total time).
first_measured=$(awk -F, 'NR > 1 && $15 == 0 { printf "%.0f\n", $1 + $10 }' "$PP_TMP/w.csv" | sort -n | head -n 1)
last_warm=$(awk -F, 'NR > 1 && $15 == 1 { printf "%.0f\n", $1 + $10 }' "$PP_TMP/w.csv" | sort -n | tail -n 1)
expect_ge "$first_measured" "$last_warm" "no measured request finished before a warm-up one"

# --- through proxyd: X-Cache HIT/MISS per proxy, absolute-form requests
pp_start_proxyd --name lgp1
before=$(pp_origin_count /obj2)
"$LOADGEN" "$PP_ORIGIN_URL/obj2" --proxy "$PP_PROXY" -n 20 -c 1 --csv "$PP_TMP/p.csv" \
    --json "$PP_TMP/p.json" >"$PP_TMP/p.out" || pp_die "proxy run failed"
expect_eq "$(json "$PP_TMP/p.json" .proxy)" "$PP_PROXY" "JSON proxy"
expect_eq "$(json "$PP_TMP/p.json" .ok)" 20 "through proxyd: ok"
expect_eq "$(json "$PP_TMP/p.json" '.per_proxy | keys | join(",")')" lgp1 "per_proxy names"
expect_eq "$(json "$PP_TMP/p.json" .per_proxy.lgp1.requests)" 20 "lgp1 requests"
expect_eq "$(json "$PP_TMP/p.json" .per_proxy.lgp1.misses)" 1 "lgp1 misses"
expect_eq "$(json "$PP_TMP/p.json" .per_proxy.lgp1.hits)" 19 "lgp1 hits"
expect_eq "$(awk -F, 'NR > 1 && $12 == "lgp1" && $13 == "HIT"' "$PP_TMP/p.csv" | wc -l | tr -d ' ')" 19 "CSV rows with proxy lgp1 and HIT"
expect_eq "$(awk -F, 'NR == 2 { print $12 "/" $13 }' "$PP_TMP/p.csv")" lgp1/MISS "the first row is the miss"
expect_eq "$(($(pp_origin_count /obj2) - before))" 1 "origin fetches through the proxy"
expect_eq "$(pp_stat .hits)" 19 "proxyd's own count of hits"
expect_match "$(cat "$PP_TMP/p.out")" "proxy lgp1 +20 requests, 19 hits, 1 misses" "human summary per proxy"

# Another proxy: its own name, and with two connections at once hits and
# misses (collapsed requests count as hits) still add up to the requests.
pp_start_proxyd --name lgp2
"$LOADGEN" "$PP_ORIGIN_URL/obj1m" --proxy "$PP_PROXY" -n 10 -c 2 --json "$PP_TMP/p2.json" --quiet ||
    pp_die "second proxy run failed"
expect_eq "$(json "$PP_TMP/p2.json" '.per_proxy | keys | join(",")')" lgp2 "per_proxy names, second proxy"
expect_eq "$(json "$PP_TMP/p2.json" '.per_proxy.lgp2.requests')" 10 "lgp2 requests"
expect_eq "$(json "$PP_TMP/p2.json" '.per_proxy.lgp2.hits + .per_proxy.lgp2.misses')" 10 "lgp2 hits + misses"
pp_log "PASS"
