#!/usr/bin/env bash
# Request smuggling (RFC 9112 §6, shared/notes/proxyd-peers.md §3): proxyd and
# the origin must never disagree on where a request ends. A request that could
# be read two ways gets 400 and a close, and the request hidden behind it
# never reaches the origin; a chunked body that merely looks like a request is
# forwarded as a body; the "funky chunks" leniencies are refused; an origin
# connection left owing body bytes is never reused (ATS CVE-2025-31699), nor
# one on which the origin sent more than the response asked for.
# timeout: 60
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

mkdir -p "$PP_TMP/www/upload"
printf 'ok\n' >"$PP_TMP/www/ok"
pp_start_nginx_origin "$PP_TMP/www" '
        location /upload/ { dav_methods PUT; }'
pp_start_proxyd --name smug
o=$PP_ORIGIN_URL
smuggled="GET $o/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

# refused NAME < BYTES: 400, a close, and the origin never sees /smuggled.
refused() {
    local name=$1
    pp_raw "$PP_PROXY" --quiet --timeout-ms 4000
    expect_eq "$(pp_raw_status)" 400 "$name: status"
    expect_eq "$PP_RAW_RC" 0 "$name: connection closed by proxyd"
    expect_eq "$(grep -a -c '^HTTP/1' "$PP_RAW_OUT")" 1 "$name: responses"
    expect_eq "$(pp_origin_count /smuggled)" 0 "$name: /smuggled at the origin"
}

# --- a request behind an ambiguous one is never parsed
# shellcheck disable=SC2059 # the escapes in $smuggled are meant
printf "PUT $o/upload/a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n$smuggled" |
    refused "CL.TE"
# shellcheck disable=SC2059
printf "PUT $o/upload/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\n$smuggled\r\n0\r\n\r\n" |
    refused "TE.CL"
# shellcheck disable=SC2059
printf "PUT $o/upload/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n$smuggled" |
    refused "TE obfuscated"
# shellcheck disable=SC2059
printf "PUT $o/upload/a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 40\r\n\r\n$smuggled" |
    refused "CL.CL"
# shellcheck disable=SC2059
printf "GET $o/ok HTTP/1.1\r\nHost: x\r\nX-Bare: a\rb\r\n\r\n$smuggled" | refused "bare CR in a field"

# --- funky chunks: each leniency some parser once had
for size in '+5' '-5' '0x5' ' 5' '5 x' '5;a="b\r\nc"'; do
    # shellcheck disable=SC2059
    printf "PUT $o/upload/f HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n$size\r\nhello\r\n0\r\n\r\n$smuggled" |
        refused "chunk size '$size'"
done
# shellcheck disable=SC2059
printf "PUT $o/upload/f HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n$smuggled" |
    refused "chunk data longer than its size"
expect_eq "$(awk '$2 == "PUT"' "$PP_ORIGIN_LOG" | wc -l)" 0 "refused PUTs that reached the origin"

# --- a body that looks like a request is a body
body="GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
printf '%b' "$body" >"$PP_TMP/expected.body"
blen=$(printf '%x' "$(stat -c %s "$PP_TMP/expected.body")")
# shellcheck disable=SC2059
pp_raw "$PP_PROXY" --timeout-ms 4000 --send "PUT $o/upload/b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n$blen;ext=1\r\n$body\r\n0\r\n\r\nGET $o/ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
expect_eq "$(pp_raw_status)" 201 "chunked PUT of a request-shaped body"
expect_file_eq "$PP_TMP/www/upload/b" "$PP_TMP/expected.body" "what the origin stored"
expect_eq "$(grep -a -c '^HTTP/1.1 ' "$PP_RAW_OUT")" 2 "responses (the PUT, then the pipelined GET)"
expect_eq "$(pp_origin_count /smuggled)" 0 "/smuggled at the origin"

# --- a client leaves in the middle of a body: that origin connection is
# closed, not pooled, or the next request would be read as the body's rest.
pp_start_badorigin delay-0
pp_raw "$PP_PROXY" --quiet --timeout-ms 500 --send "POST $PP_BAD_URL/post HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc"
expect_eq "$PP_RAW_RC" 2 "the half-sent POST is left waiting"
for i in 1 2 3; do
    expect_eq "$(pp_curl_proxy "$PP_BAD_URL/after$i" --max-time 5)" 200 "request $i after the abandoned body"
done
# badorigin logs a request once its body is complete: a reused connection
# would have completed the POST with the next request's bytes.
expect_eq "$(grep -c 'GET /after' "$PP_BAD_COUNT_FILE")" 3 "badorigin saw each later request as a request"
expect_eq "$(grep -c 'POST /post' "$PP_BAD_COUNT_FILE")" 0 "POSTs badorigin saw completed"

# --- response side: an origin that sends an unasked-for second response
# behind the first (same write). That connection must not be pooled, or the
# next client would get the planted response (response queue poisoning).
pp_start_badorigin extra-response
pp_badorigin_body 1024 "$PP_TMP/extra.expected"
for i in 1 2 3; do
    expect_eq "$(pp_curl_proxy "$PP_BAD_URL/extra$i")" 200 "request $i to the poisoning origin"
    expect_file_eq "$PP_TMP/last.body" "$PP_TMP/extra.expected" "request $i: the real body"
done
expect_eq "$(grep -c 'GET /extra' "$PP_BAD_COUNT_FILE")" 3 "requests the poisoning origin got"
expect_eq "$(pp_curl_proxy "$PP_BAD_URL/extra1")" 200 "a later hit"
expect_file_eq "$PP_TMP/last.body" "$PP_TMP/extra.expected" "the later hit: the real body"
pp_proxyd_healthy || pp_die "proxyd unhealthy at the end"
