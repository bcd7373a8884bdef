#!/usr/bin/env bash
# deploy/testbed, end to end, under a prefix unique to this run: 64 clients up
# (the time it took is logged); status complete; clients 1, 17 and 64 fetch the origin's
# /obj1m (and /obj of --object-size) through mid, and the origin logs each
# client's own address; a second `up` changes nothing; `up --clients 8`
# shrinks; no testbed namespace has a route or link beyond the testbed's own
# LANs and the host's links and routes are as they were; `down` leaves no
# namespace, nginx or state directory behind, and runs again cleanly.
# timeout: 90
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_need_root "network namespaces"
pp_need_tool nginx

TESTBED=$PP_REPO/deploy/testbed
P=t$(($$ % 10000000)) # at most 8 characters, unique per run
STATE=/run/proxypool-testbed/$P
ORIGIN=http://198.19.1.2
pp_on_cleanup "$(printf '%q' "$TESTBED") --prefix $P down >/dev/null 2>&1 || true"

tb() { "$TESTBED" --prefix "$P" "$@"; }

ms_now() { echo $(($(date +%s%N) / 1000000)); }

client_namespaces() {
    ip netns list | awk -v p="$P" '$1 ~ "^" p "-c[0-9]+$"' | wc -l | tr -d ' '
}

prefix_namespaces() {
    ip netns list | awk -v p="$P" 'index($1, p "-") == 1' | wc -l | tr -d ' '
}

# fetch K PATH BYTES: client K gets PATH from the origin: 200, BYTES bytes,
# and the origin logged it from the client's own address.
fetch() {
    local k=$1 path=$2 bytes=$3 addr out
    addr=198.18.$((1 + (k - 1) / 254)).$((1 + (k - 1) % 254))
    out=$(tb exec "client-$k" -- curl -sS --max-time "$PP_CURL_MAX_TIME" \
        -o "$PP_TMP/body.$k" -w '%{http_code} %{size_download}' "$ORIGIN$path")
    expect_eq "$out" "200 $bytes" "client-$k GET $path"
    expect_file_eq "$PP_TMP/body.$k" "$STATE/www${path}" "client-$k body of $path"
    pp_wait_until 5 grep -q "^$addr GET $path 200 $bytes " "$STATE/access.log" ||
        pp_die "origin access log has no '$addr GET $path 200 $bytes': $(tail -n 3 "$STATE/access.log")"
    pp_log "ok: origin logged $path for $addr"
}

# Only the testbed's own LANs in every namespace's routes and links.
check_isolation() {
    local n routes links
    routes=$(ip -n "$P-mid" -4 route show table all | grep -v '^local \|^broadcast \|^multicast ' || true)
    expect_no_match "$routes" '(^|[[:space:]])default' "mid has no default route"
    while IFS= read -r line; do
        [ -n "$line" ] || continue
        expect_match "$line" "^(198\\.18\\.0\\.0/16 dev $P-cbr|198\\.19\\.1\\.0/24 dev $P-srv) " "mid route"
    done <<<"$routes"
    routes=$(ip -n "$P-srv" -4 route show)
    expect_eq "$(echo "$routes" | sed 's/ *$//' | sort | tr '\n' ';')" \
        "198.19.1.0/24 dev eth0 proto kernel scope link src 198.19.1.2;default via 198.19.1.1 dev eth0;" "srv routes"
    for n in 1 "$1"; do
        routes=$(ip -n "$P-c$n" -4 route show)
        expect_eq "$(echo "$routes" | sed 's/ *$//' | sort | tr '\n' ';')" \
            "198.18.0.0/16 dev eth0 proto kernel scope link src 198.18.1.$n;default via 198.18.0.1 dev eth0;" "client $n routes"
        links=$(ip -n "$P-c$n" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort | tr '\n' ' ')
        expect_eq "$links" "eth0 lo " "client $n links"
    done
    # Every veth in mid has its peer in a testbed namespace: the peer's
    # ifindex exists in one of them (link-netns of each port is not the host's).
    links=$(ip -n "$P-mid" -o -d link show type veth | grep -c 'link-netns' || true)
    expect_eq "$links" "$(($1 + 1))" "mid veths with a peer in another (testbed) netns"
    check_host
}

# The host namespace's links and routes (IPv4 and IPv6, every table) and rules.
host_net() {
    ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort
    ip -4 route show table all
    ip -6 route show table all
    ip -4 rule show
}

check_host() {
    host_net >"$PP_TMP/host.now"
    cmp -s "$PP_TMP/host.before" "$PP_TMP/host.now" ||
        pp_die "the host's links, routes or rules changed: $(diff "$PP_TMP/host.before" "$PP_TMP/host.now" | head -n 20)"
    pp_log "ok: host links, routes and rules unchanged ($(wc -l <"$PP_TMP/host.now") lines)"
}

host_net >"$PP_TMP/host.before"
expect_eq "$(prefix_namespaces)" 0 "namespaces with prefix $P before"

# ---- up, 64 clients, timed
t0=$(ms_now)
tb up --clients 64 --object-size 100K >"$PP_TMP/up1.log" 2>&1 || pp_die "up failed: $(cat "$PP_TMP/up1.log")"
t1=$(ms_now)
pp_log "up with 64 clients took $((t1 - t0)) ms"
tb status >"$PP_TMP/status1" || pp_die "status not complete: $(cat "$PP_TMP/status1")"
pp_log "status: $(tr '\n' '|' <"$PP_TMP/status1")"
expect_eq "$(client_namespaces)" 64 "client namespaces"
expect_eq "$(prefix_namespaces)" 66 "all namespaces"
NGINX_PID=$(cat "$STATE/nginx.pid")
pp_alive "$NGINX_PID" || pp_die "nginx $NGINX_PID not running"

fetch 1 /obj1m 1048576
fetch 17 /obj1m 1048576
fetch 64 /obj1m 1048576
fetch 64 /obj 102400
hdrs=$(tb exec client-1 -- curl -sS -I --max-time 5 "$ORIGIN/obj1m" | tr -d '\r')
expect_match "$hdrs" $'(^|\n)Cache-Control: max-age=3600' "obj1m cacheable"
expect_eq "$(tb exec client-1 -- cat /proc/sys/net/ipv4/ip_forward)" 0 "client does not forward"
expect_eq "$(tb exec mid -- cat /proc/sys/net/ipv4/ip_forward)" 1 "mid forwards"
check_isolation 64

# ---- up again: nothing changes
t0=$(ms_now)
tb up --clients 64 --object-size 100K >"$PP_TMP/up2.log" 2>&1 || pp_die "second up failed: $(cat "$PP_TMP/up2.log")"
pp_log "second up took $(($(ms_now) - t0)) ms"
tb status >/dev/null || pp_die "status not complete after second up"
expect_eq "$(client_namespaces)" 64 "client namespaces after second up"
expect_eq "$(prefix_namespaces)" 66 "all namespaces after second up"
expect_eq "$(cat "$STATE/nginx.pid")" "$NGINX_PID" "same nginx after second up"
fetch 64 /obj1m 1048576
fetch 1 /obj 102400

# ---- shrink to 8
tb up --clients 8 >"$PP_TMP/up3.log" 2>&1 || pp_die "up --clients 8 failed: $(cat "$PP_TMP/up3.log")"
tb status >/dev/null || pp_die "status not complete after shrinking"
expect_eq "$(client_namespaces)" 8 "client namespaces after shrinking"
expect_eq "$(ip -n "$P-mid" -o link show master "$P-cbr" | wc -l | tr -d ' ')" 8 "bridge ports after shrinking"
fetch 8 /obj1m 1048576
if tb exec client-9 -- true 2>/dev/null; then pp_die "client-9 still exists"; fi
expect_eq "$([ -e "$STATE/www/obj" ] && echo present || echo absent)" absent "/obj without --object-size"
check_isolation 8

# ---- down, twice
tb down >"$PP_TMP/down1.log" 2>&1 || pp_die "down failed: $(cat "$PP_TMP/down1.log")"
expect_eq "$(prefix_namespaces)" 0 "namespaces with prefix $P after down"
if pp_alive "$NGINX_PID"; then pp_die "nginx $NGINX_PID still running after down"; fi
expect_eq "$([ -e "$STATE" ] && echo present || echo absent)" absent "state dir after down"
tb down >/dev/null 2>&1 || pp_die "second down failed"
if tb status >/dev/null 2>&1; then pp_die "status says complete after down"; fi
check_host
pp_log "PASS"
