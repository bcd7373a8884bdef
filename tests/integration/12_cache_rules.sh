#!/usr/bin/env bash
# RFC 9111 as a client sees it through the cache: no-store, private,
# Set-Cookie and Authorization keep responses out of the shared cache; Vary
# keeps variants apart; HEAD and a client's If-None-Match are answered from a
# stored object; s-maxage beats max-age, and Last-Modified alone gives a
# heuristic lifetime; a request's no-cache revalidates and only-if-cached
# never fetches; an object past its max-age is revalidated with the origin
# (which answers 304) and served as a HIT; a PUT invalidates; a small
# --cache-mem evicts the least recently used object.
# timeout: 60
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

for f in a b c big; do pp_make_file "$PP_TMP/www/$f" 1048576; done
pp_make_file "$PP_TMP/www/short/obj" 20000
pp_make_file "$PP_TMP/www/nostore/obj" 20000
pp_make_file "$PP_TMP/www/private/obj" 20000
# shellcheck disable=SC2016 # nginx variables, for nginx
pp_start_nginx_origin "$PP_TMP/www" '
        location /short/ { add_header Cache-Control "max-age=2"; }
        location /nostore/ { add_header Cache-Control "no-store"; }
        location /private/ { add_header Cache-Control "private, max-age=3600"; }
        location /smax/ { add_header Cache-Control "s-maxage=0, max-age=3600"; }
        location /heur/ { }
        location /cookie/ { add_header Cache-Control "max-age=3600"; add_header Set-Cookie "id=1"; }
        location /upload/ { dav_methods PUT DELETE; add_header Cache-Control "max-age=3600"; }
        location = /vary {
            add_header Vary Accept-Language;
            add_header Cache-Control "max-age=3600";
            return 200 "lang=$http_accept_language\n";
        }'
pp_make_file "$PP_TMP/www/smax/obj" 20000
pp_make_file "$PP_TMP/www/heur/old" 20000
pp_make_file "$PP_TMP/www/heur/new" 20000
touch -d '10 days ago' "$PP_TMP/www/heur/old" # heuristic: fresh for 10% of 10 days
pp_make_file "$PP_TMP/www/cookie/obj" 20000
pp_make_file "$PP_TMP/www/upload/f" 20000
pp_make_file "$PP_TMP/put.src" 30000
pp_start_proxyd --name rules

xcache() { pp_header "$PP_TMP/last.headers" X-Cache; }

# --- no-store and private: MISS every time, every request to the origin
for kind in nostore private; do
    for i in 1 2; do
        expect_eq "$(pp_curl_proxy "$PP_ORIGIN_URL/$kind/obj")" 200 "$kind request $i"
        expect_eq "$(xcache)" "MISS from rules" "$kind request $i X-Cache"
        expect_file_eq "$PP_TMP/last.body" "$PP_TMP/www/$kind/obj" "$kind body $i"
    done
    expect_eq "$(pp_origin_count "/$kind/obj")" 2 "$kind origin fetches"
done

# --- Vary: Accept-Language: two variants, each cached on its own
for lang in en fr en fr; do
    expect_eq "$(pp_curl_proxy "$PP_ORIGIN_URL/vary" -H "Accept-Language: $lang")" 200 "vary $lang"
    expect_eq "$(cat "$PP_TMP/last.body")" "lang=$lang" "vary $lang body"
done
expect_eq "$(xcache)" "HIT from rules" "second fr X-Cache"
expect_eq "$(pp_origin_count /vary)" 2 "origin fetches for two variants"

# --- HEAD and If-None-Match answered from the stored object
pp_curl_proxy "$PP_ORIGIN_URL/big" >/dev/null
etag=$(pp_header "$PP_TMP/last.headers" ETag)
expect_match "$etag" '^".+"$' "stored ETag"
# HEAD on the wire: the head of the stored object, not one body byte.
pp_raw "$PP_PROXY" --timeout-ms 5000 \
    --send "HEAD $PP_ORIGIN_URL/big HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
expect_eq "$PP_RAW_RC" 0 "HEAD: proxyd closed as asked"
expect_eq "$(pp_raw_status)" 200 "HEAD status"
head_resp=$(tr -d '\r' <"$PP_RAW_OUT")
expect_match "$head_resp" $'\nX-Cache: HIT from rules\n' "HEAD X-Cache"
expect_match "$head_resp" $'\nContent-Length: 1048576\n' "HEAD Content-Length"
expect_eq "$(awk 'BEGIN { RS = "\r\n\r\n" } NR == 2 { print length($0) }' "$PP_RAW_OUT")" "" "HEAD body"
expect_le "$(stat -c %s "$PP_RAW_OUT")" 1024 "HEAD response bytes"
pp_raw "$PP_PROXY" --timeout-ms 5000 --send "GET $PP_ORIGIN_URL/big HTTP/1.1\r\nHost: 127.0.0.1\r\nIf-None-Match: $etag\r\nConnection: close\r\n\r\n"
expect_eq "$(pp_raw_status)" 304 "If-None-Match status"
expect_match "$(tr -d '\r' <"$PP_RAW_OUT")" $'\nX-Cache: HIT from rules\n' "304 X-Cache"
expect_match "$(tr -d '\r' <"$PP_RAW_OUT")" "ETag: $etag" "304 carries the ETag"
expect_le "$(stat -c %s "$PP_RAW_OUT")" 1024 "304 response bytes (no body)"
expect_eq "$(pp_curl_proxy "$PP_ORIGIN_URL/big" -H 'If-None-Match: "other"')" 200 "other ETag status"
expect_file_eq "$PP_TMP/last.body" "$PP_TMP/www/big" "other ETag body"
expect_eq "$(pp_origin_count /big)" 1 "origin fetches for /big"
expect_eq "$(pp_stat .not_modified)" 1 "/stats not_modified"
# A conditional for an object not yet stored: the cache fills with the full
# response (the origin sends 200) and answers the client's condition itself.
lm=$(TZ=GMT date -r "$PP_TMP/www/c" '+%a, %d %b %Y %H:%M:%S GMT')
expect_eq "$(pp_curl_proxy "$PP_ORIGIN_URL/c" -H "If-Modified-Since: $lm")" 304 "If-Modified-Since, not stored"
expect_eq "$(awk '$3 == "/c" { print $4 }' "$PP_ORIGIN_LOG")" 200 "what the origin sent for the fill"
expect_eq "$(pp_curl_proxy "$PP_ORIGIN_URL/c")" 200 "plain GET after the conditional"
expect_eq "$(xcache)" "HIT from rules" "plain GET after the conditional: X-Cache"
expect_file_eq "$PP_TMP/last.body" "$PP_TMP/www/c" "plain GET after the conditional: body"

# --- max-age=2: stale after 3 s, revalidated (origin 304), served as a HIT
expect_eq "$(pp_curl_proxy "$PP_ORIGIN_URL/short/obj")" 200 "short first"
expect_eq "$(xcache)" "MISS from rules" "short first X-Cache"
expect_eq "$(pp_curl_proxy "$PP_ORIGIN_URL/short/obj")" 200 "short while fresh"
expect_eq "$(xcache)" "HIT from rules" "short while fresh X-Cache"
expect_eq "$(pp_origin_count /short/obj)" 1 "origin requests while fresh"
sleep 3.1
expect_eq "$(pp_curl_proxy "$PP_ORIGIN_URL/short/obj")" 200 "short when stale"
expect_eq "$(xcache)" "HIT from rules" "short when stale X-Cache"
expect_file_eq "$PP_TMP/last.body" "$PP_TMP/www/short/obj" "revalidated body"
expect_eq "$(pp_origin_count /short/obj)" 2 "origin requests after revalidation"
expect_eq "$(awk '$3 == "/short/obj" { s = $4 } END { print s }' "$PP_ORIGIN_LOG")" 304 \
    "origin answered the revalidation with"
expect_eq "$(pp_stat .refreshes)" 1 "/stats refreshes"
expect_eq "$(pp_curl_proxy "$PP_ORIGIN_URL/short/obj")" 200 "short after refresh"
expect_eq "$(xcache)" "HIT from rules" "short after refresh X-Cache"
expect_eq "$(pp_origin_count /short/obj)" 2 "origin requests after the refresh"

# --- what the request asks: no-cache revalidates, only-if-cached never fetches,
# Authorization is not answered from (or stored in) the shared cache
o=$PP_ORIGIN_URL
expect_eq "$(pp_curl_proxy "$o/big" -H 'Cache-Control: no-cache')" 200 "request no-cache"
expect_eq "$(pp_origin_count /big)" 2 "origin requests for /big after a request no-cache"
expect_file_eq "$PP_TMP/last.body" "$PP_TMP/www/big" "request no-cache body"
expect_eq "$(pp_curl_proxy "$o/big" -H 'Cache-Control: only-if-cached')" 200 "only-if-cached, stored"
expect_eq "$(xcache)" "HIT from rules" "only-if-cached, stored: X-Cache"
expect_eq "$(pp_curl_proxy "$o/a" -H 'Cache-Control: only-if-cached')" 504 "only-if-cached, not stored"
expect_eq "$(pp_origin_count /a)" 0 "origin requests for only-if-cached"
for i in 1 2; do
    expect_eq "$(pp_curl_proxy "$o/smax/obj" -H 'Authorization: Basic dTpw')" 200 "with Authorization $i"
done
expect_eq "$(pp_origin_count /smax/obj)" 2 "origin requests with Authorization"

# --- what the response says: s-maxage=0 beats max-age for a shared cache;
# Last-Modified 10 days ago is fresh by heuristic, just now is not; a
# response setting a cookie is not stored
for i in 1 2; do pp_curl_proxy "$o/smax/obj" >/dev/null; done
expect_eq "$(pp_origin_count /smax/obj)" 4 "origin requests for s-maxage=0"
# "now" is now: made at the start, the file would be seconds old by here on
# a loaded machine, and 10% of that a heuristic lifetime the second request
# falls inside
touch "$PP_TMP/www/heur/new"
for f in old new; do
    for i in 1 2; do pp_curl_proxy "$o/heur/$f" >/dev/null; done
done
expect_eq "$(xcache)" "HIT from rules" "heuristic: just modified, revalidated (304)"
expect_eq "$(pp_origin_count /heur/old)" 1 "origin requests for Last-Modified 10 days ago"
expect_eq "$(pp_origin_count /heur/new)" 2 "origin requests for Last-Modified now"
for i in 1 2; do pp_curl_proxy "$o/cookie/obj" >/dev/null; done
expect_eq "$(xcache)" "MISS from rules" "Set-Cookie response X-Cache"
expect_eq "$(pp_origin_count /cookie/obj)" 2 "origin requests for a Set-Cookie response"

# --- a successful PUT invalidates the stored object (RFC 9111 §4.4)
pp_curl_proxy "$o/upload/f" >/dev/null
expect_eq "$(pp_curl_proxy "$o/upload/f")" 200 "GET before the PUT"
expect_eq "$(xcache)" "HIT from rules" "GET before the PUT: X-Cache"
expect_eq "$(pp_curl_proxy "$o/upload/f" -T "$PP_TMP/put.src")" 204 "PUT over the object"
expect_eq "$(pp_curl_proxy "$o/upload/f")" 200 "GET after the PUT"
expect_eq "$(xcache)" "MISS from rules" "GET after the PUT: X-Cache"
expect_file_eq "$PP_TMP/last.body" "$PP_TMP/put.src" "GET after the PUT: the new body"

# --- LRU: room for two 1 MiB objects
pp_start_proxyd --name lru --cache-mem 2600K
get() { # get OBJ EXPECTED_XCACHE
    expect_eq "$(pp_curl_proxy "$PP_ORIGIN_URL/$1")" 200 "lru $1"
    expect_eq "$(xcache)" "$2 from lru" "lru $1 X-Cache"
    expect_file_eq "$PP_TMP/last.body" "$PP_TMP/www/$1" "lru $1 body"
}
get a MISS
get b MISS
get a HIT # a is now the most recently used
get c MISS # evicts b
expect_eq "$(pp_stat .cache.evictions)" 1 "/stats evictions after c"
expect_eq "$(pp_stat .cache.objects)" 2 "/stats objects"
get a HIT
get c HIT
get b MISS # evicted earlier; now evicts a
expect_eq "$(pp_stat .cache.evictions)" 2 "/stats evictions after b"
expect_le "$(pp_stat .cache.bytes)" $((2600 * 1024)) "/stats cache bytes within --cache-mem"
