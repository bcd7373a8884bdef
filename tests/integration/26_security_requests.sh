#!/usr/bin/env bash
# Request fields proxyd reads itself, and methods it refuses: Max-Forwards
# is read within its own bytes (an empty one as the last header read past
# the head under ASan) and must be 1*DIGIT, else 400;
# a valid one reaches the origin decremented. TRACE, which echoes Cookie and
# Authorization back, is refused with 405 unless --allow-trace; OPTIONS no
# longer offers it. --max-connections counts the connections of all threads
# together, not of each thread.
# timeout: 60
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

printf 'ok\n' >"$PP_TMP/www-ok"
mkdir -p "$PP_TMP/www" && mv "$PP_TMP/www-ok" "$PP_TMP/www/ok"
# /mf answers with the Max-Forwards the origin received (empty without one).
# shellcheck disable=SC2016 # nginx's variables, not the shell's
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

# --- TRACE is refused by default (door 12)
for mf in 'Max-Forwards: 0\r\n' ''; do
    pp_raw "$PP_PROXY" --quiet --timeout-ms 2000 \
        --send "TRACE $o/ok HTTP/1.1\r\nHost: x\r\n${mf}Cookie: session=s3cr3t\r\nAuthorization: Basic dTpw\r\nConnection: close\r\n\r\n"
    expect_eq "$(pp_raw_status)" 405 "TRACE (${mf:-no Max-Forwards}): status"
    expect_no_match "$(cat "$PP_RAW_OUT")" 's3cr3t|dTpw' "TRACE: no Cookie or Authorization echoed"
    expect_match "$(tr -d '\r' <"$PP_RAW_OUT")" $'\nAllow: [A-Z, ]+\n' "TRACE: 405 says what is allowed"
    expect_no_match "$(tr -d '\r' <"$PP_RAW_OUT" | grep '^Allow:')" 'TRACE' "TRACE: not in Allow"
done
expect_eq "$(awk '$2 == "TRACE"' "$PP_ORIGIN_LOG" | wc -l)" 0 "TRACE requests at the origin"
pp_raw "$PP_PROXY" --quiet --timeout-ms 2000 \
    --send "OPTIONS $o/ok HTTP/1.1\r\nHost: x\r\nMax-Forwards: 0\r\nConnection: close\r\n\r\n"
expect_eq "$(pp_raw_status)" 200 "OPTIONS with Max-Forwards 0: status"
expect_no_match "$(tr -d '\r' <"$PP_RAW_OUT" | grep '^Allow:')" 'TRACE' "OPTIONS does not offer TRACE"

# --allow-trace: answered as RFC 9110 §9.3.8 says, on purpose.
pp_start_proxyd --name sec-trace --allow-trace
pp_raw "$PP_PROXY" --quiet --timeout-ms 2000 \
    --send "TRACE $o/ok HTTP/1.1\r\nHost: x\r\nMax-Forwards: 0\r\nCookie: session=s3cr3t\r\nConnection: close\r\n\r\n"
expect_eq "$(pp_raw_status)" 200 "TRACE with --allow-trace: status"
expect_match "$(cat "$PP_RAW_OUT")" 'message/http' "TRACE with --allow-trace: the echo"

# --- --max-connections is one count for all threads (door 12)
pp_start_proxyd --name sec-conns --threads 2 --max-connections 2
fds=()
for i in $(seq 1 8); do
    exec {fd}<>"/dev/tcp/127.0.0.1/$PP_PROXY_PORT" || pp_die "connect $i failed"
    fds+=("$fd")
done
sleep 0.5 # refused ones are closed at accept; the others stay open
expect_eq "$(pp_stat .connections.open)" 2 "connections open with --threads 2 --max-connections 2"
for fd in "${fds[@]}"; do exec {fd}>&-; done
open_is() { test "$(pp_stat .connections.open)" = "$1"; } # for the wait: read anew each time
pp_wait_until 5 open_is 0 || pp_die "connections did not close"
# Room again once they are gone.
expect_eq "$(pp_curl_proxy "$o/ok")" 200 "a request after the others left"
# The text is read whole first: grep -q leaving mid-pipe would kill proxyd
# with SIGPIPE, and pipefail would count that as a failure.
help_text=$("$PP_BIN/proxyd" --help)
grep -q 'all threads together' <<<"$help_text" || pp_die "--help does not say the limit is global"
pp_log "ok: --help says --max-connections counts all threads together"
