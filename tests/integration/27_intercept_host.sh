#!/usr/bin/env bash
# Intercept mode and a forged Host (Squid CVE-2009-0801):
# the connection goes to the original destination (SO_ORIGINAL_DST) while
# the cache key is named by Host, so a client that connects to site A with
# "Host: B" must not plant A's page under B's key. proxyd checks that Host
# (or an absolute URL's authority) leads to the original destination: the
# same address, or a name that resolves to it. When it does not, the request
# is served from the original destination but neither looked up, stored nor
# shared. Absolute-form requests are checked the same way; routed requests
# (no DNAT) go where Host says, so their key and connection agree.
# Two origins, A and B, in namespace "mid" behind a DNAT rule; the client in
# "cli"; names a.test and b.test from mid's own /etc/netns hosts file.
# timeout: 90
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || pp_die "needs root (network namespaces)"
CLI_ADDR=198.18.202.1
MID_ADDR=198.18.202.2
A=198.18.251.2
B=198.18.251.4
VIP=198.18.251.3 # owned by mid, where proxyd listens without any NAT
PROXY_PORT=3129

cli=$(pp_netns cli)
mid=$(pp_netns mid)
in_cli() { ip netns exec "$cli" "$@"; }
in_mid() { ip netns exec "$mid" "$@"; }

# Names for mid only: ip netns exec binds /etc/netns/NS/* over /etc/*.
# No nameserver answers in mid: a lookup beyond the hosts file fails in 1 s.
mkdir -p "/etc/netns/$mid"
pp_on_cleanup "rm -rf '/etc/netns/$mid'"
printf '%s a.test\n%s b.test\n' "$A" "$B" >"/etc/netns/$mid/hosts"
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"/etc/netns/$mid/resolv.conf"

ip link add ppj-cli netns "$cli" type veth peer name ppj-mid netns "$mid"
in_cli ip addr add "$CLI_ADDR/24" dev ppj-cli
in_cli ip link set ppj-cli up
in_cli ip route add 198.18.251.0/24 via "$MID_ADDR"
in_mid ip addr add "$MID_ADDR/24" dev ppj-mid
in_mid ip link set ppj-mid up
in_mid ip addr add "$A/32" dev lo
in_mid ip addr add "$B/32" dev lo
in_mid ip addr add "$VIP/32" dev lo

in_mid_port_open() {
    in_mid timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

# --- two origins in one nginx: the same paths, different bodies
for s in a b; do
    mkdir -p "$PP_TMP/www-$s"
    printf 'site %s obj\n' "$s" >"$PP_TMP/www-$s/obj"
    printf 'site %s abs\n' "$s" >"$PP_TMP/www-$s/abs"
    printf 'site %s abs2\n' "$s" >"$PP_TMP/www-$s/abs2"
    printf 'site %s named\n' "$s" >"$PP_TMP/www-$s/named"
done
odir=$PP_TMP/nginx-mid
mkdir -p "$odir/tmp"
cat >"$odir/nginx.conf" <<NGINX
daemon off;
master_process off;
worker_processes 1;
user root;
pid $odir/nginx.pid;
error_log $odir/error.log info;
events { worker_connections 256; }
http {
    log_format pp '\$server_addr \$request_method \$request_uri \$status \$http_host';
    access_log $odir/access.log pp;
    client_body_temp_path $odir/tmp/body;
    proxy_temp_path $odir/tmp/proxy;
    fastcgi_temp_path $odir/tmp/fastcgi;
    uwsgi_temp_path $odir/tmp/uwsgi;
    scgi_temp_path $odir/tmp/scgi;
    default_type text/plain;
    server { listen $A:80; root $PP_TMP/www-a; location / { add_header Cache-Control "max-age=3600"; } }
    server { listen $B:80; root $PP_TMP/www-b; location / { add_header Cache-Control "max-age=3600"; } }
}
NGINX
pp_bg nginx-mid ip netns exec "$mid" nginx -p "$odir" -e "$odir/error.log" -c "$odir/nginx.conf"
pp_wait_until 10 in_mid_port_open "$A" 80 || pp_die "nginx in $mid did not open $A:80"
pp_wait_until 10 in_mid_port_open "$B" 80 || pp_die "nginx in $mid did not open $B:80"

# --- proxyd --intercept in mid; port-80 traffic to A and B is DNATed to it
"$PP_BIN/proxyd" --help >/dev/null
pp_bg proxyd-mid ip netns exec "$mid" "$PP_BIN/proxyd" --name mid-proxy \
    --intercept "$MID_ADDR:$PROXY_PORT" --intercept "$VIP:80" --admin 127.0.0.1:9090
pp_wait_until 10 in_mid_port_open "$MID_ADDR" "$PROXY_PORT" || pp_die "proxyd in $mid did not listen"
for d in "$A" "$B"; do
    pp_iptables -n "$mid" -t nat -A PREROUTING -i ppj-mid -p tcp -d "$d" --dport 80 \
        -j DNAT --to-destination "$MID_ADDR:$PROXY_PORT"
done

# get URL [CURL_ARGS...]: from the client; body in $PP_TMP/got, X-Cache
# printed after the status ("200 MISS").
get() {
    local url=$1 code
    shift
    code=$(in_cli curl -sS --max-time 10 -D "$PP_TMP/h" -o "$PP_TMP/got" -w '%{http_code}' "$@" "$url")
    echo "$code $(pp_header "$PP_TMP/h" X-Cache | awk '{print $1}')"
}

# --- a forged Host: served from where the client connected, never cached
expect_eq "$(get "http://$A/obj" -H "Host: $B")" "200 MISS" "A with Host B"
expect_eq "$(cat "$PP_TMP/got")" "site a obj" "A with Host B gets A's page (where it connected)"
expect_eq "$(get "http://$B/obj")" "200 MISS" "B asked honestly after the forgery"
expect_eq "$(cat "$PP_TMP/got")" "site b obj" "B's page, not the one planted through A"
expect_eq "$(get "http://$B/obj")" "200 HIT" "B again"
expect_eq "$(cat "$PP_TMP/got")" "site b obj" "B's own page from the cache"
expect_eq "$(get "http://$A/obj" -H "Host: $B")" "200 MISS" "A with Host B, B cached"
expect_eq "$(cat "$PP_TMP/got")" "site a obj" "a forged Host is not answered from B's entry"
expect_eq "$(awk -v a="$A" '$1 == a && $3 == "/obj"' "$odir/access.log" | wc -l)" 2 \
    "A served both forged requests"
pp_wait_until 3 grep -q 'does not lead to the original destination' "$PP_TMP/proxyd-mid.log" ||
    pp_die "proxyd did not log the mismatch"
pp_log "ok: proxyd logged the mismatch"

# --- names: b.test resolves to B (verified, cached), not to A
expect_eq "$(get "http://$B/named" -H 'Host: b.test')" "200 MISS" "b.test at B"
expect_eq "$(get "http://$B/named" -H 'Host: b.test')" "200 HIT" "b.test at B again"
expect_eq "$(cat "$PP_TMP/got")" "site b named" "b.test at B: B's page"
expect_eq "$(get "http://$A/named" -H 'Host: b.test')" "200 MISS" "A with Host b.test"
expect_eq "$(cat "$PP_TMP/got")" "site a named" "A with Host b.test gets A's page"
expect_eq "$(get "http://$B/named" -H 'Host: b.test')" "200 HIT" "b.test at B after the forgery"
expect_eq "$(cat "$PP_TMP/got")" "site b named" "b.test's entry is still B's page"
expect_eq "$(get "http://$A/named" -H 'Host: nowhere.test')" "200 MISS" "a name that does not resolve"
expect_eq "$(get "http://$A/named" -H 'Host: nowhere.test')" "200 MISS" "... is never cached"

# --- absolute form: the URL's authority is checked like Host
raw_cli() { # raw_cli ADDR REQUEST: rawhttp from the client to ADDR:80
    in_cli "$PP_TOOLS/rawhttp" --quiet --timeout-ms 5000 "$1:80" --send "$2" >"$PP_TMP/raw.out" || true
}
raw_cli "$A" "GET http://$B/abs HTTP/1.1\r\nHost: $B\r\nConnection: close\r\n\r\n"
expect_match "$(cat "$PP_TMP/raw.out")" 'site a abs' "absolute URL naming B, sent to A: A's page"
expect_eq "$(get "http://$B/abs")" "200 MISS" "B's /abs after the forged absolute URL"
expect_eq "$(cat "$PP_TMP/got")" "site b abs" "B's /abs is B's"
# An absolute URL naming where it goes: key and connection agree, cached.
for want in MISS HIT; do
    raw_cli "$A" "GET http://$A/abs2 HTTP/1.1\r\nHost: $A\r\nConnection: close\r\n\r\n"
    expect_match "$(tr -d '\r' <"$PP_TMP/raw.out")" "X-Cache: $want from mid-proxy" "absolute URL naming A ($want)"
    expect_match "$(cat "$PP_TMP/raw.out")" 'site a abs2' "absolute URL naming A: A's page"
done
expect_eq "$(get "http://$A/abs2")" "200 HIT" "the same object asked in origin-form"

# --- a port that is not the one connected to does not match either
expect_eq "$(get "http://$A/obj" -H "Host: $A:8080")" "200 MISS" "Host A:8080 at A:80"
expect_eq "$(get "http://$A/obj" -H "Host: $A:8080")" "200 MISS" "... not cached"

# --- routed (no DNAT): Host names the origin and the connection goes there
expect_eq "$(get "http://$VIP/obj" -H "Host: $B")" "200 HIT" "through the VIP, Host B"
expect_eq "$(cat "$PP_TMP/got")" "site b obj" "through the VIP: B's page"
