#!/usr/bin/env bash
# CONNECT tunnels: after "200 Connection established" proxyd relays bytes
# both ways untouched until either side closes. The tunnel's far end here is
# a plain-HTTP nginx on a test port allowed with --connect-port (the default
# allows 443 only): a 1 MiB download and a 2 MB upload cross it byte for byte,
# a refused destination is a 502, and nothing through a tunnel is cached.
# timeout: 30
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_make_file "$PP_TMP/www/obj" 1048576
pp_make_file "$PP_TMP/put.src" 2000000
mkdir -p "$PP_TMP/www/upload"
pp_start_nginx_origin "$PP_TMP/www" '
        location /upload/ { dav_methods PUT; client_max_body_size 10m; }'
closed_port=$(pp_free_port)
pp_start_proxyd --name tun --connect-port "$PP_ORIGIN_PORT" --connect-port "$closed_port"
o=$PP_ORIGIN_URL

# --- raw: the 200, then the origin's own bytes
pp_raw "$PP_PROXY" --timeout-ms 5000 --send "CONNECT 127.0.0.1:$PP_ORIGIN_PORT HTTP/1.1\r\nHost: 127.0.0.1:$PP_ORIGIN_PORT\r\n\r\nGET /obj HTTP/1.1\r\nHost: inner\r\nConnection: close\r\n\r\n"
expect_eq "$PP_RAW_RC" 0 "tunnel closed after the origin closed"
expect_match "$(head -n 1 "$PP_RAW_OUT")" '^HTTP/1.1 200 Connection established' "CONNECT answer"
expect_eq "$(grep -a -c '^HTTP/1.1 200 OK' "$PP_RAW_OUT")" 1 "the origin's response inside"
expect_match "$(tr -d '\r' <"$PP_RAW_OUT" | grep -a -m 1 '^Server:')" '^Server: nginx' "an origin header, untouched"
expect_eq "$(grep -a -c '^X-Cache:' "$PP_RAW_OUT")" 0 "X-Cache inside the tunnel"

# --- curl through the tunnel: download and upload, byte for byte
for i in 1 2; do
    code=$(pp_curl -p -x "http://$PP_PROXY" -o "$PP_TMP/got" -w '%{http_code}' "$o/obj")
    expect_eq "$code" 200 "download $i through the tunnel"
    expect_file_eq "$PP_TMP/got" "$PP_TMP/www/obj" "download $i"
done
expect_eq "$(pp_origin_count /obj)" 3 "origin requests (tunnels are not cached)"
code=$(pp_curl -p -x "http://$PP_PROXY" -o /dev/null -w '%{http_code}' -T "$PP_TMP/put.src" "$o/upload/put.bin")
expect_eq "$code" 201 "upload through the tunnel"
expect_file_eq "$PP_TMP/www/upload/put.bin" "$PP_TMP/put.src" "what the origin stored"
expect_eq "$(pp_stat .connections.tunnels)" 4 "/stats tunnels"

# --- an allowed port where nothing listens
pp_raw "$PP_PROXY" --quiet --timeout-ms 5000 --send "CONNECT 127.0.0.1:$closed_port HTTP/1.1\r\nHost: 127.0.0.1:$closed_port\r\n\r\n"
expect_eq "$(pp_raw_status)" 502 "CONNECT to a closed port"
expect_eq "$PP_RAW_RC" 0 "connection closed after the 502"
pp_proxyd_healthy || pp_die "proxyd unhealthy at the end"
