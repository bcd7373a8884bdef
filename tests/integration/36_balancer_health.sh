#!/usr/bin/env bash
# Health: a proxy killed mid-load leaves the rotation (connect refusals are
# sent to another backend, so only the requests it had in flight fail) and
# after that takes no connection; it comes back after --rise passed checks,
# slow-started; a backend that accepts and never answers its GET /healthz
# goes down on the check timeout; a reset seen on one that resets every
# connection weighs on its EWMA at once (its TCP check passes, so it would
# otherwise flap in and out, as under HAProxy's layer 4 checks), so p2c-ewma
# stops sending it clients. Every transition is kept with time and cause.
# timeout: 90
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_make_file "$PP_TMP/www/obj10k" 10240
pp_start_nginx_origin "$PP_TMP/www"
url=$PP_ORIGIN_URL/obj10k
declare -A LISTEN ADMIN PID
for p in p1 p2 p3; do
    pp_start_proxyd --name "$p"
    LISTEN[$p]=$PP_PROXY ADMIN[$p]=${PP_ADMIN_URL#http://} PID[$p]=$PP_PROXYD_PID
    curl -sf -o /dev/null -x "$PP_PROXY" "$url" # warm its cache
done
pp_start_balancer --check-interval 200ms --check-timeout 300ms --rise 2 --fall 2 --slowstart 5s \
    --backend "p1=${LISTEN[p1]},health=${ADMIN[p1]}" \
    --backend "p2=${LISTEN[p2]},health=${ADMIN[p2]}" \
    --backend "p3=${LISTEN[p3]},health=${ADMIN[p3]}"

# load N PARALLEL OUT: N requests through the balancer, a new connection
# each, PARALLEL at a time; one line "STATUS X-CACHE" per request in OUT.
load() {
    local n=$1 par=$2 out=$3 i
    for ((i = 0; i < n; i++)); do printf 'url = "%s"\noutput = "/dev/null"\n' "$url"; done >"$PP_TMP/curl.cfg"
    curl -s -Z --parallel-max "$par" --max-time 10 -x "$PP_BAL_LISTEN" -H 'Connection: close' \
        -w '%{http_code} %header{x-cache}\n' --config "$PP_TMP/curl.cfg" >"$out" || true
}
failures() { grep -vc '^200 ' "$1" || true; }

# --- kill -9 one proxy in the middle of a load
load 1500 6 "$PP_TMP/load1.out" &
loader=$!
sleep 0.5
kill -9 "${PID[p2]}"
wait "$loader"
expect_eq "$(wc -l <"$PP_TMP/load1.out")" 1500 "requests answered or failed in the first load"
expect_le "$(failures "$PP_TMP/load1.out")" 6 "failed requests (at most those in flight to p2 at the kill)"
pp_wait_until 5 pp_bal_state_is p2 down || pp_die "p2 never went down"
cause=$(curl -s "$PP_BAL_ADMIN/v1/backends/p2" | jq -r '.transitions[-1].cause')
expect_match "$cause" "consecutive failures" "cause of p2's down transition: $cause"
pp_log "connects redispatched to another backend: $(curl -s "$PP_BAL_ADMIN/v1/backends" | jq .connections.redispatched)"
before=$(pp_bal_backend p2 total)
load 600 6 "$PP_TMP/load2.out"
expect_eq "$(failures "$PP_TMP/load2.out")" 0 "failed requests once p2 is known down"
expect_eq "$(pp_bal_backend p2 total)" "$before" "connections sent to p2 while down"
expect_eq "$(grep -c 'from p2' "$PP_TMP/load2.out" || true)" 0 "answers from p2 while down"

# --- p2 back on the same ports: up after --rise checks, slow-started
pp_start_proxyd --name p2 --listen "${LISTEN[p2]}" --admin "${ADMIN[p2]}"
pp_wait_until 5 pp_bal_state_is p2 up || pp_die "p2 never came back up"
doc=$(curl -s "$PP_BAL_ADMIN/v1/backends/p2")
expect_eq "$(jq -r .slowstart <<<"$doc")" true "p2 slow-starts after coming back"
expect_match "$(jq -r '.transitions[-1].cause' <<<"$doc")" "2 checks passed \(GET /healthz: 200" "cause of p2's up transition"
expect_match "$(jq -r '.transitions[-1].at' <<<"$doc")" '^20[0-9-]+T[0-9:.]+Z$' "transition time"
expect_eq "$(jq -r '[.transitions[].to] | join(",")' <<<"$doc")" "down,up" "p2's history"

# --- a backend that accepts and never answers its health check
pp_start_badorigin silent
mute=127.0.0.1:$PP_BAD_PORT
set_json=$(jq -n --arg l1 "${LISTEN[p1]}" --arg a1 "${ADMIN[p1]}" --arg m "$mute" \
    '{backends: [{name: "p1", address: $l1, health: $a1}, {name: "mute", address: $m, health: $m}]}')
expect_eq "$(curl -s -H "@$(pp_api_headers "$PP_BAL_TOKEN_FILE")" -o /dev/null -w '%{http_code}' -X PUT --data "$set_json" "$PP_BAL_ADMIN/v1/backends")" 200 "PUT p1 + mute"
pp_wait_until 5 pp_bal_state_is mute down || pp_die "the mute backend never went down"
expect_match "$(curl -s "$PP_BAL_ADMIN/v1/backends/mute" | jq -r '.transitions[-1].cause')" \
    "last check: no answer within 300 ms" "cause of mute's down transition"
expect_match "$(pp_bal_backend p2 removed)" '^(true|)$' "p2, left out of the PUT, is removed (draining, or gone when it had no connection)"
load 100 4 "$PP_TMP/load3.out"
expect_eq "$(failures "$PP_TMP/load3.out")" 0 "failed requests with mute down"

# --- checks keep their rate: a mute backend under interval 1 s, timeout
# 900 ms, fall 4 is down about 4 intervals after it joins (3.0-4.9 s: the
# first check falls at random in the first interval), not 4 x (interval +
# timeout) (6.6-7.6 s when each check waited for the last one's end).
saved=("$PP_BAL_ADMIN" "$PP_BAL_PID" "$PP_BAL_LISTEN" "$PP_BAL_TOKEN_FILE" "$PP_BAL_LOG")
pp_start_balancer --check-interval 1s --check-timeout 900ms --rise 2 --fall 4 --no-auth
slow_admin=$PP_BAL_ADMIN
t0=$(date +%s%N)
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "Content-Type: application/json" -X PUT --data "{\"backends\": [{\"name\": \"mute\", \"address\": \"$mute\", \"health\": \"$mute\"}]}" "$slow_admin/v1/backends")" 200 "PUT mute to the slow-checking balancer"
mute_down() { [ "$(curl -s "$slow_admin/v1/backends/mute" | jq -r .state)" = down ]; }
pp_wait_until 10 mute_down || pp_die "mute never went down under interval 1 s"
ms=$((($(date +%s%N) - t0) / 1000000))
pp_log "mute down ${ms} ms after it joined (interval 1 s, timeout 900 ms, fall 4)"
expect_le "$ms" 5500 "ms until down: fall x interval (+ the last timeout), not fall x (interval + timeout)"
expect_ge "$ms" 2900 "ms until down: no sooner than fall - 1 intervals plus a timeout"
kill "$PP_BAL_PID"
PP_BAL_ADMIN=${saved[0]} PP_BAL_PID=${saved[1]} PP_BAL_LISTEN=${saved[2]}
PP_BAL_TOKEN_FILE=${saved[3]} PP_BAL_LOG=${saved[4]}

# --- a backend that resets every connection: down on what traffic sees
pp_start_badorigin reset
rst=127.0.0.1:$PP_BAD_PORT
set_json=$(jq -n --arg l1 "${LISTEN[p1]}" --arg a1 "${ADMIN[p1]}" --arg r "$rst" \
    '{backends: [{name: "p1", address: $l1, health: $a1}, {name: "rst", address: $r}]}')
curl -s -H "@$(pp_api_headers "$PP_BAL_TOKEN_FILE")" -o /dev/null -X PUT --data "$set_json" "$PP_BAL_ADMIN/v1/backends"
load 60 2 "$PP_TMP/load4.out"
doc=$(curl -s "$PP_BAL_ADMIN/v1/backends/rst")
expect_ge "$(jq '.resets + .connect_failures' <<<"$doc")" 1 "resets seen on rst's connections"
expect_ge "$(jq '.ewma_ms | floor' <<<"$doc")" 1000 "rst's EWMA after a failure (ms: the connect timeout's penalty)"
expect_ge "$(grep -c '^200 ' "$PP_TMP/load4.out")" 55 "requests answered (by p1) of 60: p2c-ewma avoids rst"
expect_eq "$(grep -c 'from p1' "$PP_TMP/load4.out")" "$(grep -c '^200 ' "$PP_TMP/load4.out")" "every answer came from p1"
