#!/usr/bin/env bash
# Route forwarding end to end in the testbed: the manager runs in the
# intermediate host (container runtime, --forwarding route), each instance
# owns the VIP 198.19.255.10 on its loopback, and mid's policy rules send
# each client block to its instance's table. 64 clients, for 1, 2, 4, 8, 16
# and 32 instances: each is answered by the instance its block names (X-Cache
# ... from NAME); every client at 4, the block edges otherwise. Then route ->
# nat -> route live, and after SIGTERM no rule, route, link or cgroup of ours
# is left in mid.
# timeout: 150
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_need_root "network namespaces"
TESTBED=$PP_REPO/deploy/testbed
P=r$(($$ % 10000000))
MP=s$(($$ % 1000)) # the manager's prefix: instances s<pid>1.., bridge s<pid>br, cgroups s<pid>*
CHAIN=$(echo "$MP" | tr '[:lower:]' '[:upper:]')-DNAT
# fwd_route.c's reserved numbers: rule priorities 7100-7101, tables 7101-7164.
PRIO_RE='^710[01]:'
cleanup_prefix() { # what a failed run may leave: processes by cgroup, then the groups
    local d
    for d in $(find /sys/fs/cgroup -maxdepth 3 -type d -name "$MP*" | sort -r); do
        xargs -r kill -KILL <"$d/cgroup.procs" 2>/dev/null || true
    done
    sleep 0.2
    find /sys/fs/cgroup -maxdepth 3 -depth -type d -name "$MP*" -exec rmdir {} \; 2>/dev/null || true
}
pp_on_cleanup "$(printf '%q' "$TESTBED") --prefix $P down >/dev/null 2>&1 || true"
pp_on_cleanup cleanup_prefix
tb() { "$TESTBED" --prefix "$P" "$@"; }
in_mid() { nsenter --net="/run/netns/$P-mid" "$@"; }
our_rules() { ip -n "$P-mid" rule show | grep -E "$PRIO_RE" || true; }
our_routes() {
    local t
    for t in $(seq 7101 7164); do
        ip -n "$P-mid" route show table "$t" 2>/dev/null | sed "s/^/table $t: /"
    done
}

tb up --clients 64 >/dev/null
# Strict reverse-path filtering in mid (only there), as many distributions
# set it: the manager must loosen it for replies whose source is the VIP.
in_mid sysctl -q -w net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.default.rp_filter=1
# What a crashed manager would leave: a rule in our priority range and a
# route in one of our tables. The new manager removes both and says so.
ip -n "$P-mid" rule add from 10.99.0.0/24 lookup 7105 priority 7101
ip -n "$P-mid" route add blackhole 10.99.1.1/32 table 7105
API_PORT=$(pp_free_port)
API=http://127.0.0.1:$API_PORT
# Direct exec (no shell function) so the SIGTERM below reaches the manager.
pp_bg manager nsenter --net="/run/netns/$P-mid" "$PP_BIN/manager" --runtime container \
    --subnet 198.19.0.0/24 --bridge "${MP}br" --replicas 1 --api "127.0.0.1:$API_PORT" \
    --state-dir "$PP_TMP/state" --prefix "$MP" --forwarding route --vip 198.19.255.10:3128 \
    --clients 198.18.1.1-198.18.1.64 --drain-timeout 2s --proxy-arg=--cache-mem=16M
MANAGER_PID=$PP_LAST_PID
# Writes carry the manager's token (STATE/api.token) and the JSON content type.
api() { in_mid curl -sS --max-time 60 -H "@$(pp_api_headers "$PP_TMP/state/api.token")" "$@"; }
ready_is() { [ "$(api "$API/v1/pool" 2>/dev/null | jq -r .ready)" = "$1" ]; }
pp_wait_until 20 ready_is 1 || pp_die "manager not ready: $(tail -5 "$PP_TMP/manager.log")"
expect_match "$(cat "$PP_TMP/manager.log")" "removing leftover rule 7101: from 10.99.0.0/24 lookup 7105" "the leftover rule is removed and logged"
expect_match "$(cat "$PP_TMP/manager.log")" "removing leftover route 10.99.1.1(/32)? in table 7105" "the leftover route is removed and logged"
expect_eq "$(our_rules | grep -c 10.99.0.0 || true)" 0 "no leftover rule"
expect_eq "$(our_routes | grep -c 10.99.1.1 || true)" 0 "no leftover route"
expect_eq "$(in_mid cat /proc/sys/net/ipv4/conf/all/rp_filter)" 0 "rp_filter off on all in mid"
expect_eq "$(in_mid cat "/proc/sys/net/ipv4/conf/${MP}br/rp_filter")" 0 "rp_filter off on the bridge"

# through K: the instance name that answered client K's request via the VIP.
through() {
    tb exec "client-$1" -- curl -sS --max-time 10 -o /dev/null -D - \
        -x http://198.19.255.10:3128 http://198.19.1.2/obj1m |
        tr -d '\r' | awk -F': ' 'tolower($1) == "x-cache" { sub(/^(HIT|MISS) from /, "", $2); print $2 }'
}
# expected K: the instance the partition gives client K.
expected() {
    jq -r --arg a "198.18.1.$1" '.blocks[] | select(.count > 0) |
        select(($a | split(".") | map(tonumber)) as $x |
               (.first | split(".") | map(tonumber)) as $f |
               (.last | split(".") | map(tonumber)) as $l |
               ($x[3] >= $f[3] and $x[3] <= $l[3])) | .instance' "$PP_TMP/partition.json"
}

for n in 1 2 4 8 16 32; do
    out=$(api -X PUT -d "{\"replicas\": $n}" -o "$PP_TMP/put.json" -w '%{http_code}' "$API/v1/pool")
    expect_eq "$out" 200 "PUT replicas=$n"
    api "$API/v1/partition" >"$PP_TMP/partition.json"
    api "$API/v1/forwarding" >"$PP_TMP/fwd.json"
    expect_eq "$(jq '[.blocks[].count] | add' "$PP_TMP/partition.json")" 64 "clients partitioned at $n"
    expect_eq "$(jq -r .mode "$PP_TMP/fwd.json")" route "mode"
    rules=$(jq -r .rules "$PP_TMP/fwd.json")
    expect_eq "$rules" "$(jq '[.blocks[].prefixes | length] | add' "$PP_TMP/partition.json")" "rules = prefixes at $n"
    expect_eq "$(our_rules | wc -l)" "$rules" "ip rule shows our $rules rules at $n"
    expect_eq "$(our_rules | grep -c "lookup 71")" "$rules" "each rule looks up one of our tables at $n"
    expect_eq "$(our_routes | grep -c '198.19.255.10 via 198.19.0.')" "$n" "one VIP route per instance at $n"
    expect_eq "$(ip -n "$P-mid" rule show | grep -c '^7099:.*fwmark')" "$n" "one fwmark rule per instance at $n"
    swap_ms=$(jq -r .last_swap_ms "$PP_TMP/fwd.json")
    echo "# route swap at $n instances x 64 clients: $swap_ms ms ($rules rules)"
    expect_match "$swap_ms" "^[0-9.]+$" "swap time measured at $n (ms)"
    if [ "$n" = 4 ]; then
        clients=$(seq 1 64) # every client once
    else
        clients=$(jq -r '.blocks[] | select(.count > 0) | .first, .last' "$PP_TMP/partition.json" |
            awk -F. '{ print $4 }' | sort -n | uniq)
    fi
    for k in $clients; do
        want="$MP$(expected "$k")"
        expect_eq "$(through "$k")" "$want" "client $k at $n instances"
    done
done

# Live switches: route -> nat puts the clients on DNAT rules and takes ours
# away; nat -> route brings them back.
out=$(api -X PUT -d '{"replicas": 4}' -o /dev/null -w '%{http_code}' "$API/v1/pool")
expect_eq "$out" 200 "back to 4"
out=$(api -X PUT -d '{"mode": "nat"}' -o /dev/null -w '%{http_code}' "$API/v1/forwarding")
expect_eq "$out" 200 "switch to nat"
expect_eq "$(our_rules | wc -l)" 0 "no route rules in nat mode"
expect_eq "$(our_routes | wc -l)" 0 "no routes in our tables in nat mode"
expect_ge "$(in_mid iptables-legacy-save -t nat | grep -c -- "-A $CHAIN")" 1 "DNAT rules in nat mode"
api "$API/v1/partition" >"$PP_TMP/partition.json"
for k in 1 64; do
    expect_eq "$(through "$k")" "$MP$(expected "$k")" "client $k in nat mode"
done
out=$(api -X PUT -d '{"mode": "route"}' -o /dev/null -w '%{http_code}' "$API/v1/forwarding")
expect_eq "$out" 200 "switch back to route"
expect_eq "$(in_mid iptables-legacy-save -t nat | grep -c -- "$CHAIN" || true)" 0 "no DNAT rules in route mode"
expect_ge "$(our_rules | wc -l)" 4 "route rules are back"
for k in 1 17 64; do
    expect_eq "$(through "$k")" "$MP$(expected "$k")" "client $k after the switch back"
done

kill -TERM "$MANAGER_PID"
pp_wait_until 30 bash -c "! kill -0 $MANAGER_PID 2>/dev/null" || pp_die "manager did not exit"
expect_eq "$(our_rules | wc -l)" 0 "no rule in our priority range after the manager exits"
expect_eq "$(ip -n "$P-mid" rule show | grep -c '^7099:' || true)" 0 "no fwmark rule of pinned connections after the manager exits"
expect_eq "$(in_mid iptables-legacy-save -t mangle | grep -c -- "$(echo "$MP" | tr '[:lower:]' '[:upper:]')-PIN" || true)" 0 "no mangle chain of ours after the manager exits"
expect_eq "$(our_routes | wc -l)" 0 "no route in our tables after the manager exits"
expect_eq "$(ip -n "$P-mid" -o link show | awk -F': ' '{ print $2 }' | grep -c "^$MP" || true)" 0 "no link of ours in mid"
expect_eq "$(find /sys/fs/cgroup -maxdepth 3 -type d -name "$MP*" | wc -l)" 0 "no cgroup of ours"
expect_match "$(cat "$PP_TMP/manager.log")" "rp_filter of all 1 -> 0" "the rp_filter change is logged"
expect_eq "$(in_mid cat /proc/sys/net/ipv4/conf/all/rp_filter)" 1 "rp_filter of all restored"
