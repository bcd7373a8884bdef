#!/usr/bin/env bash
# Interception as a router does it: a client in namespace "cli" asks the
# origin 198.18.250.2:80 directly, knowing nothing of a proxy; in namespace
# "mid" (the router, which also hosts the origin on an address of its own) a
# PREROUTING DNAT rule sends that port-80 traffic to proxyd --intercept.
# proxyd finds where the client meant to go (SO_ORIGINAL_DST), fetches from
# there, and answers with its X-Cache: MISS, then HIT, one origin fetch. The
# same object asked of a VIP that proxyd owns (routed, no NAT), with Host
# naming the origin, is the same cached object.
# Every address lives inside the two namespaces this scenario creates.
# timeout: 60
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_need_root "network namespaces"
CLI_ADDR=198.18.201.1
MID_ADDR=198.18.201.2
ORIGIN_ADDR=198.18.250.2
VIP_ADDR=198.18.250.3 # owned by mid, where proxyd listens without any NAT
PROXY_PORT=3129

cli=$(pp_netns cli)
mid=$(pp_netns mid)
in_cli() { ip netns exec "$cli" "$@"; }
in_mid() { ip netns exec "$mid" "$@"; }

# --- the wire: cli <-veth-> mid, the origin's address on mid's loopback
ip link add ppi-cli netns "$cli" type veth peer name ppi-mid netns "$mid"
in_cli ip addr add "$CLI_ADDR/24" dev ppi-cli
in_cli ip link set ppi-cli up
in_cli ip route add 198.18.250.0/24 via "$MID_ADDR"
in_mid ip addr add "$MID_ADDR/24" dev ppi-mid
in_mid ip link set ppi-mid up
in_mid ip addr add "$ORIGIN_ADDR/32" dev lo # (no dummy driver on every kernel)
in_mid ip addr add "$VIP_ADDR/32" dev lo

# in_mid_port_open ADDR PORT: something in mid accepts on ADDR:PORT.
in_mid_port_open() {
    in_mid timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

# --- the origin: nginx in mid on 198.18.250.2:80
pp_make_file "$PP_TMP/www/obj" 300000
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
    log_format pp '\$remote_addr \$request_method \$request_uri \$status \$body_bytes_sent';
    access_log $odir/access.log pp;
    client_body_temp_path $odir/tmp/body;
    proxy_temp_path $odir/tmp/proxy;
    fastcgi_temp_path $odir/tmp/fastcgi;
    uwsgi_temp_path $odir/tmp/uwsgi;
    scgi_temp_path $odir/tmp/scgi;
    default_type application/octet-stream;
    server {
        listen $ORIGIN_ADDR:80;
        root $PP_TMP/www;
        location / { add_header Cache-Control "max-age=3600"; }
    }
}
NGINX
pp_bg nginx-mid ip netns exec "$mid" nginx -p "$odir" -e "$odir/error.log" -c "$odir/nginx.conf"
pp_wait_until 10 in_mid_port_open "$ORIGIN_ADDR" 80 || pp_die "nginx in $mid did not open $ORIGIN_ADDR:80"

# --- proxyd --intercept in mid, on mid's veth address
log=$PP_TMP/proxyd-mid.log
"$PP_BIN/proxyd" --help >/dev/null # fail early if missing
ip netns exec "$mid" "$PP_BIN/proxyd" --name mid-proxy --intercept "$MID_ADDR:$PROXY_PORT" \
    --intercept "$VIP_ADDR:80" \
    --admin "127.0.0.1:9090" --access-log "$PP_TMP/access-mid.log" >"$log" 2>&1 </dev/null &
pp_track $!
stats() { in_mid curl -s --max-time 5 http://127.0.0.1:9090/stats | jq -r "$1"; }
pp_wait_until 10 in_mid_port_open "$MID_ADDR" "$PROXY_PORT" || pp_die "proxyd in $mid did not listen"

# --- the DNAT rule: cli's port-80 traffic to the origin goes to proxyd
pp_iptables -n "$mid" -t nat -A PREROUTING -i ppi-mid -p tcp -d "$ORIGIN_ADDR" --dport 80 \
    -j DNAT --to-destination "$MID_ADDR:$PROXY_PORT"

# --- the client asks the origin, and proxyd answers
for want in MISS HIT; do
    code=$(in_cli curl -sS --max-time 10 -D "$PP_TMP/h" -o "$PP_TMP/got" -w '%{http_code}' \
        "http://$ORIGIN_ADDR/obj")
    expect_eq "$code" 200 "status ($want)"
    expect_eq "$(pp_header "$PP_TMP/h" X-Cache)" "$want from mid-proxy" "X-Cache"
    expect_match "$(pp_header "$PP_TMP/h" Via)" 'mid-proxy' "Via"
    expect_file_eq "$PP_TMP/got" "$PP_TMP/www/obj" "body ($want)"
done
pp_wait_until 3 grep -q ' /obj ' "$odir/access.log" || true
expect_eq "$(awk '$3 == "/obj"' "$odir/access.log" | wc -l)" 1 "origin fetches"
expect_eq "$(awk '$3 == "/obj" { print $1 }' "$odir/access.log")" "$ORIGIN_ADDR" \
    "the origin saw proxyd (from its own address) rather than the client"
# Routed rather than NATed: a VIP proxyd owns; Host names the origin, and
# the object is the one already cached.
code=$(in_cli curl -sS --max-time 10 -D "$PP_TMP/h" -o "$PP_TMP/got" -w '%{http_code}' \
    -H "Host: $ORIGIN_ADDR" "http://$VIP_ADDR/obj")
expect_eq "$code" 200 "status through the VIP"
expect_eq "$(pp_header "$PP_TMP/h" X-Cache)" "HIT from mid-proxy" "X-Cache through the VIP"
expect_file_eq "$PP_TMP/got" "$PP_TMP/www/obj" "body through the VIP"
expect_eq "$(awk '$3 == "/obj"' "$odir/access.log" | wc -l)" 1 "origin fetches after the VIP request"
expect_eq "$(stats .hits)" 2 "/stats hits"
expect_eq "$(stats .misses)" 1 "/stats misses"
# The rule really carried the traffic: proxyd saw the client's own address
# and found the original destination through conntrack (Squid's
# ORIGINAL_DST hierarchy code). The access log is written once a second.
pp_wait_until 5 grep -q TCP_MEM_HIT "$PP_TMP/access-mid.log" || pp_die "no hit in proxyd's access log"
expect_match "$(cat "$PP_TMP/access-mid.log")" " $CLI_ADDR TCP_MISS/200 [0-9]+ GET http://$ORIGIN_ADDR/obj - ORIGINAL_DST/$ORIGIN_ADDR " \
    "access log line of the miss"
