#!/usr/bin/env bash
# Request fields proxyd reads itself (issue 13, door 6): Max-Forwards is read
# within its own bytes (an empty one as the last header read past the head
# under ASan) and must be 1*DIGIT, else 400; a valid one reaches the origin
# decremented.
# timeout: 60
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

printf 'ok\n' >"$PP_TMP/www-ok"
mkdir -p "$PP_TMP/www" && mv "$PP_TMP/www-ok" "$PP_TMP/www/ok"
# /mf answers with the Max-Forwards the origin received (empty without one).
pp_start_nginx_origin "$PP_TMP/www" '
        location = /mf { add_header Cache-Control "no-store"; return 200 "mf=[$http_max_forwards]\n"; }'
pp_start_proxyd --name sec
o=$PP_ORIGIN_URL

# --- Max-Forwards: refused unless it is a decimal number (door 6)
# mf_refused NAME VALUE_LINE: the request with that header line as its last.
mf_refused() {
    local name=$1 line=$2
    pp_raw "$PP_PROXY" --quiet --timeout-ms 4000 \
        --send "GET $o/mf?$RANDOM HTTP/1.1\r\nHost: x\r\n${line}\r\n\r\n"
    expect_eq "$(pp_raw_status)" 400 "$name: status"
    expect_match "$(tr -d '\r' <"$PP_RAW_OUT" | tail -n 1)" "^400 Bad Request: .*Max-Forwards" \
        "$name: the reason names Max-Forwards"
    expect_eq "$PP_RAW_RC" 0 "$name: connection closed by proxyd"
}
mf_refused "an empty Max-Forwards, last header" 'Max-Forwards:'
mf_refused "an empty Max-Forwards with spaces" 'Max-Forwards:   '
mf_refused "a Max-Forwards that is not a number" 'Max-Forwards: ten'
mf_refused "a signed Max-Forwards" 'Max-Forwards: +3'
mf_refused "a Max-Forwards past 2^31-1" 'Max-Forwards: 99999999999999999999'
mf_refused "two Max-Forwards" 'Max-Forwards: 3\r\nMax-Forwards: 4'
expect_eq "$(pp_origin_count /mf)" 0 "refused requests at the origin"

# A valid one goes on, one less.
expect_eq "$(pp_curl_proxy "$o/mf?a" -H 'Max-Forwards: 5')" 200 "Max-Forwards 5: status"
expect_eq "$(cat "$PP_TMP/last.body")" "mf=[4]" "the origin received Max-Forwards 4"
expect_eq "$(pp_curl_proxy "$o/mf?b" -H 'Max-Forwards: 0')" 200 "GET with Max-Forwards 0: status"
expect_eq "$(cat "$PP_TMP/last.body")" "mf=[0]" "a GET with Max-Forwards 0 is still forwarded"
expect_eq "$(pp_curl_proxy "$o/mf?c")" 200 "no Max-Forwards: status"
expect_eq "$(cat "$PP_TMP/last.body")" "mf=[]" "none is added"

