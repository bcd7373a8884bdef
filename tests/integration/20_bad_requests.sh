#!/usr/bin/env bash
# Malformed requests, sent byte for byte with rawhttp: each gets its status
# (414, 431, 400, 505) with a one-line reason, the connection is closed (no
# attempt to find the next message after a bad one), nothing reaches the
# origin, and proxyd goes on serving normal requests.
# timeout: 90
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

printf 'ok\n' >"$PP_TMP/www-ok"
mkdir -p "$PP_TMP/www" && mv "$PP_TMP/www-ok" "$PP_TMP/www/ok"
pp_start_nginx_origin "$PP_TMP/www"
pp_start_proxyd --name bad --header-timeout 5s
o=$PP_ORIGIN_URL
cases=0
shopt -s lastpipe # `printf ... | bad`: bad runs in this shell and counts

# bad NAME STATUS < REQUEST_BYTES: sends the bytes, expects STATUS and a close.
bad() {
    local name=$1 status=$2
    cases=$((cases + 1))
    cat >"$PP_TMP/req"
    pp_raw "$PP_PROXY" --quiet --timeout-ms 4000 <"$PP_TMP/req"
    expect_eq "$(pp_raw_status)" "$status" "$name: status"
    expect_eq "$PP_RAW_RC" 0 "$name: connection closed by proxyd (rawhttp exit)"
    expect_eq "$(grep -a -c '^HTTP/1' "$PP_RAW_OUT")" 1 "$name: responses"
    expect_match "$(tr -d '\r' <"$PP_RAW_OUT")" $'\nConnection: close\n' "$name: says Connection: close"
    expect_match "$(tr -d '\r' <"$PP_RAW_OUT" | tail -n 1)" "^$status [A-Za-z ]+: .+$" "$name: one-line reason"
    expect_eq "$(pp_curl_proxy "$o/ok")" 200 "$name: a normal request afterwards"
}

long=$(head -c 9000 /dev/zero | tr '\0' a)
kib=$(head -c 1000 /dev/zero | tr '\0' b)

printf 'GET %s/%s HTTP/1.1\r\nHost: x\r\n\r\n' "$o" "$long" | bad "request line > 8 KiB" 414
printf 'GET %s/ok HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n' "$o" "$long" | bad "one header > 8 KiB" 431
{
    printf 'GET %s/ok HTTP/1.1\r\nHost: x\r\n' "$o"
    for i in $(seq 1 40); do printf 'X-H%d: %s\r\n' "$i" "$kib"; done
    printf '\r\n'
} | bad "head > 32 KiB" 431
printf 'hello there, proxy\r\n\r\n' | bad "garbage request line" 400
printf '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03' | bad "TLS to a plain port" 400
printf 'GET %s/ok HTTP/2.0\r\nHost: x\r\n\r\n' "$o" | bad "HTTP/2.0" 505
printf 'POST %s/ok HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' "$o" |
    bad "Content-Length with Transfer-Encoding" 400
printf 'POST %s/ok HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!' "$o" |
    bad "two different Content-Lengths" 400
printf 'POST %s/ok HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\nhello!' "$o" |
    bad "a Content-Length list that disagrees" 400
printf 'POST %s/ok HTTP/1.1\r\nHost: x\r\nContent-Length:\r\nContent-Length: 5\r\n\r\nhello' "$o" |
    bad "an empty Content-Length" 400
printf 'POST %s/ok HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello' "$o" |
    bad "a signed Content-Length" 400
printf 'GET %s/ok HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n  b\r\n\r\n' "$o" | bad "obs-fold" 400
printf 'GET %s/ok HTTP/1.1\r\nHost: x\r\nX-Space : a\r\n\r\n' "$o" | bad "space before the colon" 400
printf 'GET %s/ok HTTP/1.1\r\nHost: x\r\n: empty-name\r\n\r\n' "$o" | bad "an empty header name" 400
printf 'GET %s/ok HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n' "$o" | bad "two Host headers" 400
printf 'POST %s/ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n' "$o" |
    bad "Transfer-Encoding not ending in chunked" 400
printf 'POST %s/ok HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' "$o" |
    bad "Transfer-Encoding in HTTP/1.0" 400
printf 'POST %s/ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n' "$o" |
    bad "a chunk size that is not hex" 400
printf 'POST %s/ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n' "$o" |
    bad "a chunk size that overflows 64 bits" 400
printf 'POST %s/ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n' "$o" |
    bad "bare LF in chunked framing" 400

# Nothing malformed reached the origin: only the follow-up GETs did.
expect_eq "$(awk '$2 != "GET"' "$PP_ORIGIN_LOG" | wc -l)" 0 "non-GET requests at the origin"
expect_eq "$(pp_origin_count /ok)" 1 "origin fetches of /ok (the rest were hits)"
expect_eq "$(pp_stat .bad_requests)" "$cases" "/stats bad_requests"
pp_proxyd_healthy || pp_die "proxyd unhealthy at the end"
