#!/usr/bin/env bash
# The balancer's admin API: bad input (garbage, oversized, wrong shapes,
# bad entries, duplicates, unknown paths and methods) is refused with a
# clear JSON error and changes nothing; PUT replaces the set atomically and
# a backend left out drains; a drain under load fails no request; DELETE
# and stats reset do what they say; /metrics is Prometheus text.
# timeout: 90
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_make_file "$PP_TMP/www/obj10k" 10240
pp_start_nginx_origin "$PP_TMP/www"
url=$PP_ORIGIN_URL/obj10k
declare -A LISTEN ADMIN
for p in p1 p2 p3; do
    pp_start_proxyd --name "$p"
    LISTEN[$p]=$PP_PROXY ADMIN[$p]=${PP_ADMIN_URL#http://}
    curl -sf -o /dev/null -x "$PP_PROXY" "$url"
done
pp_start_balancer --algo roundrobin --check-interval 300ms \
    --backend "p1=${LISTEN[p1]},health=${ADMIN[p1]}" --backend "p2=${LISTEN[p2]},health=${ADMIN[p2]}"
api=$PP_BAL_ADMIN
names() { curl -s "$api/v1/backends" | jq -r '[.backends[] | select(.removed | not) | .name] | join(",")'; }
# refused BODY STATUS WHAT: a PUT of BODY gets STATUS and a JSON error; the set stays p1,p2
refused() {
    local code
    code=$(curl -s -H "@$(pp_api_headers "$PP_BAL_TOKEN_FILE")" -o "$PP_TMP/err.json" -w '%{http_code}' -X PUT --data-binary "$1" "$api/v1/backends")
    expect_eq "$code" "$2" "PUT $3"
    expect_match "$(jq -r .error "$PP_TMP/err.json")" '.' "... has an error message"
    expect_eq "$(names)" "p1,p2" "... and the set is unchanged"
}

# --- bad input
refused 'not json' 400 "of garbage"
refused '' 400 "of nothing"
refused '{"backends": 3}' 400 "with backends not an array"
refused '{"backends": [], "colour": 1}' 400 "with an unknown field"
refused '{"backends": [{"name": "x"}]}' 400 "of a backend without address"
refused '{"backends": [{"name": "x y", "address": "127.0.0.1:1"}]}' 400 "of a bad name"
refused '{"backends": [{"name": "x", "address": "127.0.0.1:99999"}]}' 400 "of a port out of range"
refused '{"backends": [{"name": "x", "address": "127.0.0.1:1", "weight": 0}]}' 400 "of weight 0"
refused '{"backends": [{"name": "x", "address": "127.0.0.1:1", "weight": 1.5}]}' 400 "of weight 1.5"
refused '{"backends": [{"name": "x", "address": "127.0.0.1:1"}, {"name": "x", "address": "127.0.0.1:2"}]}' 400 "of a name twice"
refused '["x=127.0.0.1:1,colour=blue"]' 400 "of a bad backend string"
head -c 400000 /dev/zero | tr '\0' ' ' >"$PP_TMP/big.json"
refused "@$PP_TMP/big.json" 413 "of 400 kB"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$api/v1/nothing")" 404 "unknown path"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$api/v1/backends/zz")" 404 "unknown backend"
expect_eq "$(curl -s -H "@$(pp_api_headers "$PP_BAL_TOKEN_FILE")" -o /dev/null -w '%{http_code}' -X POST "$api/v1/backends/zz/drain")" 404 "drain of an unknown backend"
expect_eq "$(curl -s -H "@$(pp_api_headers "$PP_BAL_TOKEN_FILE")" -o /dev/null -w '%{http_code}' -X DELETE "$api/v1/backends")" 405 "DELETE of the whole set"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$api/v1/backends/p1/drain")" 405 "GET of drain"
expect_eq "$(curl -s -H "@$(pp_api_headers "$PP_BAL_TOKEN_FILE")" -o /dev/null -w '%{http_code}' -X POST "$api/v1/backends/p1/sideways")" 404 "unknown backend action"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$api/healthz")" 200 "healthz after all that"

# --- drain under load fails no request
for ((i = 0; i < 1200; i++)); do printf 'url = "%s"\noutput = "/dev/null"\n' "$url"; done >"$PP_TMP/curl.cfg"
curl -s -Z --parallel-max 4 --max-time 10 -x "$PP_BAL_LISTEN" -H 'Connection: close' \
    -w '%{http_code} %header{x-cache}\n' --config "$PP_TMP/curl.cfg" >"$PP_TMP/load.out" &
loader=$!
sleep 0.5
expect_eq "$(curl -s -H "@$(pp_api_headers "$PP_BAL_TOKEN_FILE")" -X POST "$api/v1/backends/p1/drain" | jq -r .state)" draining "p1 after POST drain"
t1=$(pp_bal_backend p1 total)
wait "$loader" || true
expect_eq "$(wc -l <"$PP_TMP/load.out")" 1200 "requests in the drain load"
expect_eq "$(grep -vc '^200 ' "$PP_TMP/load.out" || true)" 0 "failed requests across the drain"
expect_le "$(($(pp_bal_backend p1 total) - t1))" 0 "connections to p1 after its drain began"
expect_ge "$(grep -c 'from p1' "$PP_TMP/load.out")" 1 "p1 served before its drain"
expect_eq "$(pp_bal_backend p1 active)" 0 "p1's connections after the drain"
expect_match "$(curl -s "$api/v1/backends/p1" | jq -r '.transitions[-1].cause')" "drain asked" "cause of the drain"

# --- PUT replaces the set: p1 goes, p3 arrives, p2 keeps its counters
t2=$(pp_bal_backend p2 total)
set_json=$(jq -n --arg a2 "${LISTEN[p2]}" --arg h2 "${ADMIN[p2]}" --arg a3 "${LISTEN[p3]}" --arg h3 "${ADMIN[p3]}" \
    '{backends: [{name: "p2", address: $a2, health: $h2}, {name: "p3", address: $a3, health: $h3, weight: 2}]}')
expect_eq "$(curl -s -H "@$(pp_api_headers "$PP_BAL_TOKEN_FILE")" -X PUT --data "$set_json" "$api/v1/backends" | jq -r '[.backends[] | select(.removed | not) | .name] | join(",")')" \
    "p2,p3" "members after the PUT"
expect_eq "$(pp_bal_backend p2 total)" "$t2" "p2's counters kept across the PUT"
expect_eq "$(pp_bal_backend p3 weight)" 2 "p3's weight"
for i in $(seq 1 9); do curl -s -o /dev/null -x "$PP_BAL_LISTEN" -H 'Connection: close' "$url"; done
expect_eq "$(pp_bal_backend p3 total)" 6 "p3's connections of 9 at weight 2 against 1"

# --- a PUT that drops several idle members drops every one of them (each is
# freed at once, which once made the walk over the set skip its neighbour)
four=$(jq -n --arg a "${LISTEN[p3]}" '{backends: [range(4) | {name: "idle\(.)", address: $a}]}')
curl -s -H "@$(pp_api_headers "$PP_BAL_TOKEN_FILE")" -o /dev/null -X PUT --data "$four" "$api/v1/backends"
expect_eq "$(names)" "idle0,idle1,idle2,idle3" "members after PUT of four idle backends"
curl -s -H "@$(pp_api_headers "$PP_BAL_TOKEN_FILE")" -o /dev/null -X PUT --data "$set_json" "$api/v1/backends"
expect_eq "$(names)" "p2,p3" "members after a PUT dropping all four"

# --- DELETE, stats reset, metrics
expect_eq "$(curl -s -H "@$(pp_api_headers "$PP_BAL_TOKEN_FILE")" -X DELETE "$api/v1/backends/p3" | jq -r .removed)" true "DELETE p3"
expect_eq "$(names)" "p2" "members after DELETE"
epoch=$(curl -s "$api/v1/backends" | jq -r .epoch_started)
sleep 0.01
doc=$(curl -s -H "@$(pp_api_headers "$PP_BAL_TOKEN_FILE")" -X POST "$api/v1/stats/reset")
expect_eq "$(jq '.backends[] | select(.name == "p2") | .total' <<<"$doc")" 0 "p2's total after the reset"
expect_eq "$(jq '.backends[] | select(.name == "p2") | .p50_ms' <<<"$doc")" null "p2's p50 after the reset (nothing measured)"
expect_ne "$(jq -r .epoch_started <<<"$doc")" "$epoch" "a new epoch"
curl -s -o /dev/null -x "$PP_BAL_LISTEN" "$url"
metrics=$(curl -s "$api/metrics")
expect_match "$metrics" 'balancer_backend_connections_total\{backend="p2"\} 1' "metrics: p2's connections"
expect_match "$metrics" 'balancer_backend_ttfb_seconds_count\{backend="p2"\} 1' "metrics: p2's first-byte histogram"
expect_match "$metrics" 'balancer_backend_up\{backend="p2"\} 1' "metrics: p2 up"

# --- a removed backend's connection outliving --drain-timeout is cut
kill -TERM "$PP_BAL_PID"
wait "$PP_BAL_PID" 2>/dev/null || true
pp_start_balancer --drain-timeout 1s --backend "p1=${LISTEN[p1]},health=${ADMIN[p1]}"
api=$PP_BAL_ADMIN
"$PP_TOOLS/rawhttp" --timeout-ms 10000 --send '' "$PP_BAL_LISTEN" >/dev/null 2>&1 &
holder=$!
pp_wait_until 5 pp_bal_active_is 1 || pp_die "the idle connection did not arrive"
curl -s -H "@$(pp_api_headers "$PP_BAL_TOKEN_FILE")" -o /dev/null -X PUT --data '{"backends": []}' "$api/v1/backends"
expect_eq "$(pp_bal_backend p1 state)" draining "p1 once left out, with a connection open"
rc=0
wait "$holder" || rc=$?
expect_eq "$rc" 0 "the idle connection was closed by the balancer (rawhttp did not time out)"
gone() { test -z "$(pp_bal_backend "$1" state)"; }
pp_wait_until 3 gone p1 || pp_die "p1 still listed after its drain timeout"
expect_match "$(cat "$PP_BAL_LOG")" "backend p1: drain timeout, cutting 1 connections" "log of the cut"
