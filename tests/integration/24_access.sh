#!/usr/bin/env bash
# Access rules, as Squid's http_access: a client outside --allow, a
# destination named by --deny-dest (host, .domain or CIDR), a port outside
# the safe ports and a CONNECT to anything but 443 are each refused with 403
# and a one-line reason, and none of them reaches an origin.
# timeout: 60
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_need_root "a network namespace for the --deny-dest proxyd"
printf 'ok\n' >"$PP_TMP/www-ok"
mkdir -p "$PP_TMP/www" && mv "$PP_TMP/www-ok" "$PP_TMP/www/ok"
pp_start_nginx_origin "$PP_TMP/www"
o=$PP_ORIGIN_URL

# expect_403 WHAT: the last curl answer was a 403 with a one-line reason.
expect_403() {
    expect_eq "$1" 403 "$2: status"
    expect_eq "$(wc -l <"$PP_TMP/last.body" | tr -d ' ')" 1 "$2: reason lines"
    expect_match "$(cat "$PP_TMP/last.body")" '^403 Forbidden: .{8,}$' "$2: reason"
}

# --- only 10/8 may use the proxy: 127.0.0.1 may not
pp_start_proxyd --name acl1 --allow 10.0.0.0/8
expect_403 "$(pp_curl_proxy "$o/ok")" "client outside --allow"
expect_eq "$(pp_stat .denied)" 1 "/stats denied"
expect_eq "$(pp_origin_count /ok)" 0 "origin requests from a refused client"

# --- destinations refused by name and by domain. This proxyd runs in a
# namespace of its own with nothing but loopback: were a name not refused,
# its lookup could go nowhere.
acl_ns=$(pp_netns acl)
nslog=$PP_TMP/proxyd-acl-ns.log
ip netns exec "$acl_ns" "$PP_BIN/proxyd" --name acl2 --listen 127.0.0.1:3128 --admin 127.0.0.1:9090 \
    --deny-dest blocked.test --deny-dest .evil.test >"$nslog" 2>&1 </dev/null &
pp_track $!
ns_curl() { ip netns exec "$acl_ns" curl -sS --max-time 5 "$@"; }
pp_wait_until 10 ns_curl -o /dev/null http://127.0.0.1:9090/healthz || pp_die "proxyd in $acl_ns did not start"
for url in http://blocked.test/x http://www.evil.test/x http://evil.test/x http://EVIL.test./x; do
    code=$(ns_curl -x http://127.0.0.1:3128 -o "$PP_TMP/last.body" -w '%{http_code}' "$url")
    expect_403 "$code" "--deny-dest: $url"
done
expect_eq "$(ns_curl http://127.0.0.1:9090/stats | jq .origin_fetches)" 0 "origin fetches tried in $acl_ns"

# --- destinations refused by address (were they not, the request would stay
# on loopback)
pp_start_proxyd --name acl2b --deny-dest 127.0.0.2
expect_403 "$(pp_curl_proxy "http://127.0.0.2:$PP_ORIGIN_PORT/ok")" "--deny-dest address"
expect_eq "$(pp_curl_proxy "$o/ok")" 200 "an allowed destination"
pp_start_proxyd --name acl3 --deny-dest 127.0.0.0/8
expect_403 "$(pp_curl_proxy "$o/ok")" "--deny-dest CIDR covering the origin"
expect_eq "$(pp_origin_count /ok)" 1 "origin requests (only the allowed one)"

# --- ports: GET to a port outside Safe_ports, CONNECT to anything but 443
expect_403 "$(pp_curl_proxy http://127.0.0.1:25/x)" "GET to port 25"
pp_start_proxyd --name acl4
for target in 127.0.0.1:22 "127.0.0.1:$PP_ORIGIN_PORT" 127.0.0.1:80; do
    pp_raw "$PP_PROXY" --quiet --timeout-ms 3000 --send "CONNECT $target HTTP/1.1\r\nHost: $target\r\n\r\n"
    expect_eq "$(pp_raw_status)" 403 "CONNECT $target"
    expect_eq "$PP_RAW_RC" 0 "CONNECT $target: connection closed (what follows is tunnel data)"
    expect_match "$(tr -d '\r' <"$PP_RAW_OUT" | tail -n 1)" '^403 Forbidden: .+' "CONNECT $target reason"
done
expect_eq "$(pp_stat .connections.tunnels)" 0 "tunnels opened"
expect_eq "$(pp_stat .denied)" 3 "/stats denied on acl4"
