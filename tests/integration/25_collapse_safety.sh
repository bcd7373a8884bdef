#!/usr/bin/env bash
# What collapsing must never share (found in review): a GET with a body never
# joins another request's fetch, so a second client's body cannot reach the
# first one's origin connection as a smuggled request; a request that joined
# a fetch whose response varies on a header it sends differently (however
# its field lines are split) fetches its own variant; and a CONNECT tunnel
# carrying a long one-way download is not cut by the idle timeout while bytes
# move.
# timeout: 60
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

# --- a body cannot be spliced into someone else's fetch
pp_start_badorigin delay-3000 # answers 3 s after a request is whole; reads pipelined ones
pp_start_proxyd --name cs
url="$PP_BAD_URL/x"
host=${PP_BAD_URL#http://}
# A: a GET announcing a 10-byte body it never sends: its fetch waits.
"$PP_TOOLS/rawhttp" "$PP_PROXY" --timeout-ms 4000 \
    --send "GET $url HTTP/1.1\r\nHost: $host\r\nContent-Length: 10\r\n\r\n" >/dev/null 2>&1 &
a=$!
sleep 0.3
# B: the same URL, with a body that would be a second request if it were
# appended to A's.
body='0123456789GET /smuggled HTTP/1.1\r\nHost: internal\r\n\r\n'
blen=$(printf '%b' "$body" | wc -c)
"$PP_TOOLS/rawhttp" "$PP_PROXY" --timeout-ms 1500 \
    --send "GET $url HTTP/1.1\r\nHost: $host\r\nContent-Length: $blen\r\n\r\n$body" >/dev/null 2>&1 || true
sleep 0.5
kill "$a" 2>/dev/null || true
wait "$a" 2>/dev/null || true
expect_eq "$(grep -c smuggled "$PP_BAD_COUNT_FILE" || true)" 0 "smuggled requests seen by the origin"
expect_ge "$(grep -c 'GET /x' "$PP_BAD_COUNT_FILE" || true)" 1 "B's own request reached the origin with its body"

# --- Vary: a waiter of another variant is not served the first request's
# A real nginx in front of a slow origin answers with Vary: Accept-Encoding
# and names, in X-Who, the request it answered. A sends Accept-Encoding as
# two lines "gzip" and "br"; B as "gzip" and "deflate" (the same first line,
# another variant: "gzip, br" is not "gzip, deflate"); C as the one line
# "gzip, br", A's variant. B and C join A's fetch while it waits; B must get
# its own response, C A's.
pp_start_badorigin delay-1000
pp_start_nginx_origin "$PP_TMP" "
        location /v/ {
            proxy_pass $PP_BAD_URL;
            add_header Vary Accept-Encoding;
            add_header X-Who \$http_x_who;
        }"
pp_start_proxyd --name cv
vurl="$PP_ORIGIN_URL/v/obj"
vhost=${PP_ORIGIN_URL#http://}
vary_get() { # WHO ACCEPT-ENCODING-LINES (\r\n-joined): the response, raw
    "$PP_TOOLS/rawhttp" "$PP_PROXY" --timeout-ms 6000 --quiet \
        --send "GET $vurl HTTP/1.1\r\nHost: $vhost\r\nX-Who: $1\r\n$2\r\nConnection: close\r\n\r\n" \
        >"$PP_TMP/vary-$1.out" 2>&1
}
vary_get A 'Accept-Encoding: gzip\r\nAccept-Encoding: br' &
va=$!
sleep 0.3
vary_get B 'Accept-Encoding: gzip\r\nAccept-Encoding: deflate' &
vb=$!
vary_get C 'Accept-Encoding: gzip, br' &
vc=$!
wait "$va" "$vb" "$vc" || true
who() { tr -d '\r' <"$PP_TMP/vary-$1.out" | awk -F': ' 'tolower($1) == "x-who" { print $2 }'; }
expect_eq "$(who A)" A "A's response"
expect_eq "$(who B)" B "B (gzip + deflate) got its own variant, not A's (gzip + br)"
expect_eq "$(who C)" A "C (gzip, br on one line) shared A's fetch"
expect_eq "$(pp_origin_count /v/obj)" 2 "origin fetches for two variants"

# --- a tunnel with bytes flowing one way outlives the idle timeout
pp_start_badorigin slow # 1 MiB at 16 KiB per 100 ms: ~6 s, nothing sent back
slow_port=$PP_BAD_PORT
pp_start_proxyd --name ct --connect-port "$slow_port" --client-timeout 1s
out=$("$PP_TOOLS/rawhttp" "$PP_PROXY" --timeout-ms 15000 \
    --send "CONNECT 127.0.0.1:$slow_port HTTP/1.1\r\nHost: 127.0.0.1:$slow_port\r\n\r\nGET /big HTTP/1.1\r\nHost: t\r\n\r\n" | wc -c)
expect_ge "$out" 1048576 "bytes through a tunnel open longer than --client-timeout"
