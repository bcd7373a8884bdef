#!/usr/bin/env bash
# Reverse mode (Squid's accel): clients talk to proxyd as if it were the site,
# with origin-form requests; every request goes to the one configured origin,
# whatever the Host header says, and is cached: MISS, then HIT, one fetch.
# timeout: 30
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_make_file "$PP_TMP/www/obj" 500000
pp_start_nginx_origin "$PP_TMP/www"
port=$(pp_free_port)
pp_start_proxyd --name rev --reverse "127.0.0.1:$port=http://127.0.0.1:$PP_ORIGIN_PORT"

for want in MISS HIT; do
    code=$(pp_curl -D "$PP_TMP/h" -o "$PP_TMP/got" -w '%{http_code}' "http://127.0.0.1:$port/obj")
    expect_eq "$code" 200 "status ($want)"
    expect_eq "$(pp_header "$PP_TMP/h" X-Cache)" "$want from rev" "X-Cache"
    expect_file_eq "$PP_TMP/got" "$PP_TMP/www/obj" "body ($want)"
done
# Another Host is still this site: same origin, same cached object.
code=$(pp_curl -D "$PP_TMP/h" -o "$PP_TMP/got" -w '%{http_code}' -H 'Host: www.example.test' \
    "http://127.0.0.1:$port/obj")
expect_eq "$code" 200 "status with another Host"
expect_file_eq "$PP_TMP/got" "$PP_TMP/www/obj" "body with another Host"
expect_eq "$(pp_origin_count /obj)" 1 "origin fetches of /obj"
expect_eq "$(pp_stat .hits)" 2 "/stats hits"
# A missing object is the origin's 404, passed on.
expect_eq "$(pp_curl -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/nope")" 404 "missing object"
# CONNECT is for forward-proxy ports only.
pp_raw "127.0.0.1:$port" --quiet --timeout-ms 3000 --send 'CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n'
expect_eq "$(pp_raw_status)" 405 "CONNECT on a reverse port"
