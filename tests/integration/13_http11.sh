#!/usr/bin/env bash
# HTTP/1.1 on the client side: one connection carries several requests
# (keep-alive) and pipelined ones are answered in order; a chunked request
# body streams through to the origin byte for byte; OPTIONS and TRACE with
# Max-Forwards: 0 are answered by proxyd itself (TRACE only with --allow-trace:
# it is refused by default, see 26_security_requests); hop-by-hop fields (and those
# the client's Connection names) never reach the origin, and Via is added.
# timeout: 60
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

printf 'first object\n' >"$PP_TMP/www-first"
mkdir -p "$PP_TMP/www/upload"
mv "$PP_TMP/www-first" "$PP_TMP/www/first"
printf 'second object\n' >"$PP_TMP/www/second"
pp_make_file "$PP_TMP/www/third" 300000
pp_make_file "$PP_TMP/put.src" 2000000
mkdir -p "$PP_TMP/www/gz"
seq 1 200000 >"$PP_TMP/www/gz/a" # nginx sends it gzipped, chunked
cp "$PP_TMP/www/gz/a" "$PP_TMP/www/gz/b"
# /echo shows the fields the origin received; /upload/ takes PUT (nginx DAV).
# shellcheck disable=SC2016 # nginx variables, for nginx
pp_start_nginx_origin "$PP_TMP/www" '
        location = /echo {
            return 200 "conn=[$http_connection] ka=[$http_keep_alive] te=[$http_te] up=[$http_upgrade] pauth=[$http_proxy_authorization] foo=[$http_x_foo] bar=[$http_x_bar] mf=[$http_max_forwards] via=[$http_via]\n";
        }
        location /gz/ {
            gzip on;
            gzip_types *;
            gzip_min_length 0;
            gzip_proxied any;
            add_header Cache-Control "max-age=3600";
        }
        location /upload/ {
            dav_methods PUT;
            client_max_body_size 10m;
        }'
pp_start_proxyd --name h11 --allow-trace
o=$PP_ORIGIN_URL

# --- keep-alive: three URLs, one connection
conns_before=$(pp_stat .connections.total)
out=$(pp_curl -x "http://$PP_PROXY" -o /dev/null -o /dev/null -o /dev/null \
    -w '%{http_code} %{num_connects}\n' "$o/first" "$o/second" "$o/third")
expect_eq "$(tr '\n' ' ' <<<"$out")" "200 1 200 0 200 0 " "statuses and new connections per URL"
expect_eq "$(pp_stat .connections.total)" $((conns_before + 1)) "/stats connections for three requests"

# --- the origin side is persistent too: misses share one pooled connection
est() { ss -Htn state established "dport = :$PP_ORIGIN_PORT" | wc -l; }
expect_eq "$(est)" 1 "proxyd's connections to the origin after three misses"

# --- pipelining: requests in one write, responses in order (a miss that
# streams 300 kB, a hit, a 404, a HEAD, a hit, then close)
printf 'fourth object\n' >"$PP_TMP/www/fourth"
pp_raw "$PP_PROXY" --timeout-ms 5000 --send "GET $o/fourth HTTP/1.1\r\nHost: x\r\n\r\nGET $o/second HTTP/1.1\r\nHost: x\r\n\r\nGET $o/nope HTTP/1.1\r\nHost: x\r\n\r\nHEAD $o/third HTTP/1.1\r\nHost: x\r\n\r\nGET $o/first HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
expect_eq "$PP_RAW_RC" 0 "pipelined: closed after the last (Connection: close)"
expect_eq "$(grep -a -E '^HTTP/1.1 [0-9]{3} ' "$PP_RAW_OUT" | cut -d' ' -f2 | tr '\n' ' ')" "200 200 404 200 200 " \
    "pipelined: statuses in order"
expect_eq "$(grep -a -E '^(first|second|fourth) object' "$PP_RAW_OUT" | tr '\n' ' ')" "fourth object second object first object " \
    "pipelined: bodies in request order"
expect_eq "$(grep -a -c '^X-Cache: MISS' "$PP_RAW_OUT")" 2 "pipelined: misses (/fourth and the 404)"

# --- HEAD of an object not cached: the origin's head, no body; a GET after
# it is still a miss with the whole body
pp_make_file "$PP_TMP/www/headfirst" 70000
pp_raw "$PP_PROXY" --timeout-ms 5000 --send "HEAD $o/headfirst HTTP/1.1\r\nHost: x\r\n\r\nGET $o/first HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
expect_match "$(tr -d '\r' <"$PP_RAW_OUT")" $'^HTTP/1.1 200 OK\n.*Content-Length: 70000\n.*\n\nHTTP/1.1 200 OK\n.*\n\nfirst object$' \
    "HEAD of an uncached object, then a GET, on one connection"
expect_eq "$(pp_curl_proxy "$o/headfirst")" 200 "GET after HEAD"
expect_eq "$(pp_header "$PP_TMP/last.headers" X-Cache)" "MISS from h11" "GET after HEAD: X-Cache"
expect_file_eq "$PP_TMP/last.body" "$PP_TMP/www/headfirst" "GET after HEAD: body"

# --- a chunked request body streams through (2 MB PUT, written by nginx)
code=$(pp_curl -x "http://$PP_PROXY" -o /dev/null -w '%{http_code}' -T "$PP_TMP/put.src" \
    -H 'Transfer-Encoding: chunked' "$o/upload/put.bin")
expect_eq "$code" 201 "chunked PUT status"
expect_file_eq "$PP_TMP/www/upload/put.bin" "$PP_TMP/put.src" "file the origin wrote"
# A chunked POST the origin refuses (405), then a pipelined GET on the same
# connection: the body is consumed exactly, the next request is intact.
pp_raw "$PP_PROXY" --timeout-ms 5000 --send "POST $o/first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nGET $o/second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
expect_eq "$(pp_raw_status)" 405 "chunked POST relayed status"
expect_eq "$(grep -a -c '^HTTP/1.1 ' "$PP_RAW_OUT")" 2 "responses on the POST connection"
expect_match "$(grep -a '^HTTP/1.1 ' "$PP_RAW_OUT" | tail -n 1)" '^HTTP/1.1 200 ' "GET after the POST"
expect_eq "$(grep -a -c '^second object' "$PP_RAW_OUT")" 1 "GET after the POST: body"
expect_eq "$(awk '$2 == "POST" && $3 == "/first" { print $4 }' "$PP_ORIGIN_LOG")" 405 "origin saw the POST"

# --- Max-Forwards: 0 answered here, never forwarded
fetches=$(pp_stat .origin_fetches)
pp_raw "$PP_PROXY" --timeout-ms 5000 --send "OPTIONS $o/first HTTP/1.1\r\nHost: x\r\nMax-Forwards: 0\r\nConnection: close\r\n\r\n"
expect_eq "$(pp_raw_status)" 200 "OPTIONS Max-Forwards: 0"
expect_match "$(tr -d '\r' <"$PP_RAW_OUT")" $'\nAllow: [A-Z, ]*GET' "OPTIONS Allow"
pp_raw "$PP_PROXY" --timeout-ms 5000 --send "TRACE $o/first HTTP/1.1\r\nHost: x\r\nMax-Forwards: 0\r\nX-Trace-Me: yes\r\nConnection: close\r\n\r\n"
expect_eq "$(pp_raw_status)" 200 "TRACE Max-Forwards: 0"
expect_match "$(tr -d '\r' <"$PP_RAW_OUT")" $'\nContent-Type: message/http\n' "TRACE Content-Type"
expect_match "$(tr -d '\r' <"$PP_RAW_OUT")" $'\nTRACE http://[^ ]*/first HTTP/1.1\nHost: x\n.*X-Trace-Me: yes' "TRACE echoes the request"
expect_eq "$(pp_stat .origin_fetches)" "$fetches" "origin fetches for Max-Forwards: 0"
expect_eq "$(awk '$2 == "OPTIONS" || $2 == "TRACE"' "$PP_ORIGIN_LOG" | wc -l)" 0 "OPTIONS/TRACE at the origin"
# Max-Forwards: 1 goes on, decremented.
pp_raw "$PP_PROXY" --timeout-ms 5000 --send "OPTIONS $o/echo HTTP/1.1\r\nHost: x\r\nMax-Forwards: 1\r\nConnection: close\r\n\r\n"
expect_eq "$(pp_raw_status)" 200 "OPTIONS Max-Forwards: 1"
expect_match "$(cat "$PP_RAW_OUT")" 'mf=\[0\]' "origin saw Max-Forwards"

# --- HTTP/1.0 clients: Content-Length or a close delimits, never chunked
pp_raw "$PP_PROXY" --timeout-ms 5000 --send "GET $o/first HTTP/1.0\r\n\r\n"
expect_eq "$PP_RAW_RC" 0 "1.0 without keep-alive: closed after the response"
expect_match "$(tr -d '\r' <"$PP_RAW_OUT")" $'\nContent-Length: 13\n.*\nConnection: close\n\nfirst object$' "1.0 response"
pp_raw "$PP_PROXY" --timeout-ms 5000 --send "GET $o/first HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET $o/second HTTP/1.0\r\n\r\n"
expect_eq "$PP_RAW_RC" 0 "1.0 keep-alive then 1.0: closed after the second"
expect_eq "$(grep -a -c '^HTTP/1.1 200 ' "$PP_RAW_OUT")" 2 "1.0 keep-alive: responses"
expect_match "$(tr -d '\r' <"$PP_RAW_OUT")" $'\nConnection: keep-alive\n\nfirst object\nHTTP/1.1 200 ' "1.0 keep-alive: kept"
# A chunked origin response (gzip) to a 1.0 client while it streams in.
curl -s --max-time 5 -H 'Accept-Encoding: gzip' -o "$PP_TMP/gz.ref" "$o/gz/a"
expect_eq "$(head -c 2 "$PP_TMP/gz.ref" | od -An -tx1 | tr -d ' ')" 1f8b "reference is gzip"
pp_raw "$PP_PROXY" --timeout-ms 5000 --send "GET $o/gz/b HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n"
expect_eq "$PP_RAW_RC" 0 "1.0 streaming a chunked origin response: closed at the end"
resp_head=$(awk 'BEGIN { RS = "\r\n\r\n" } NR == 1' "$PP_RAW_OUT")
expect_no_match "$resp_head" 'Transfer-Encoding' "1.0 response framing"
expect_match "$resp_head" 'X-Cache: MISS' "1.0 streaming X-Cache"
tail -c +$((${#resp_head} + 5)) "$PP_RAW_OUT" >"$PP_TMP/gz.got"
expect_file_eq "$PP_TMP/gz.got" "$PP_TMP/gz.ref" "1.0 client's body (close-delimited)"
# The same for a 1.1 client: chunked on the way out, the same bytes.
code=$(pp_curl -x "http://$PP_PROXY" -D "$PP_TMP/h" -o "$PP_TMP/gz11.got" -w '%{http_code}' -H 'Accept-Encoding: gzip' "$o/gz/a")
expect_eq "$code" 200 "1.1 client of a chunked origin response"
expect_eq "$(pp_header "$PP_TMP/h" Transfer-Encoding)" chunked "1.1 framing while streaming"
expect_file_eq "$PP_TMP/gz11.got" "$PP_TMP/gz.ref" "1.1 client's body"

# --- hop-by-hop fields stay on this hop; Via is added
pp_raw "$PP_PROXY" --timeout-ms 5000 --send "GET $o/echo HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Foo\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nUpgrade: websocket\r\nProxy-Authorization: Basic dXNlcjpwYXNz\r\nX-Foo: secret\r\nX-Bar: kept\r\n\r\nGET $o/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
expect_eq "$(pp_raw_status)" 200 "hop-by-hop request status"
echo_line=$(grep -a -m 1 '^conn=' "$PP_RAW_OUT")
expect_match "$echo_line" 'ka=\[\] te=\[\] up=\[\] pauth=\[\] foo=\[\] bar=\[kept\]' "fields the origin saw"
expect_no_match "$echo_line" 'conn=\[[^]]*(X-Foo|keep-alive)' "Connection the origin saw"
expect_match "$echo_line" 'via=\[1\.1 h11 \(proxyd\)\]' "Via the origin saw"
first_head=$(awk 'BEGIN { RS = "\r\n\r\n" } NR == 1' "$PP_RAW_OUT")
expect_eq "$(grep -a -c -i '^Connection:' <<<"$first_head")" 1 "Connection fields in the response"
expect_eq "$(grep -a -c -i '^Keep-Alive:' <<<"$first_head")" 0 "Keep-Alive fields in the response"
expect_eq "$(grep -a -c '^HTTP/1.1 200 ' "$PP_RAW_OUT")" 2 "both requests on the connection answered"
pp_proxyd_healthy || pp_die "proxyd unhealthy at the end"
