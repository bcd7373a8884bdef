#!/usr/bin/env bash
# The paper's Docker-Routing and Docker-NAT with real Docker: the manager
# runs in the testbed's intermediate host with --runtime docker and a
# private dockerd there. Route: each container owns the VIP 198.19.255.10 on
# its lo (added through /proc/PID/ns/net) and mid's policy rules send each
# client block to its container; NAT: mid's DNAT rules send each block to
# its container's address. 16 clients at 1 and 4 instances, each answered by
# the instance its block names (X-Cache ... from NAME): every client at 4,
# the block edges at 1; then route -> nat -> route live. After SIGTERM no
# rule, route, chain, container or network of ours is left.
# timeout: 300
# shellcheck source=tests/integration/docker_lib.sh
. "$(dirname "$0")/docker_lib.sh"

CLIENTS=16
CHAIN=$(echo "$MP" | tr '[:lower:]' '[:upper:]')-DNAT
# fwd_route.c's reserved numbers: rule priorities 7100-7101, tables 7101-7164.
our_rules() { ip -n "$P-mid" rule show | grep -E '^710[01]:' || true; }
our_routes() {
    local t
    for t in $(seq 7101 7164); do
        ip -n "$P-mid" route show table "$t" 2>/dev/null | sed "s/^/table $t: /"
    done
}
docker_testbed "$CLIENTS"
start_manager manager --replicas 1 --forwarding route --vip 198.19.255.10:3128 \
    --clients "198.18.1.1-198.18.1.$CLIENTS"
pp_wait_until 60 ready_is 1 || pp_die "manager not ready: $(tail -5 "$PP_TMP/manager.log")"

# via K: the instance name that answered client K's request through the VIP.
via() {
    tb exec "client-$1" -- curl -sS --max-time 15 -o /dev/null -D - \
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
# check_clients MODE N: the clients (all at 4, the block edges otherwise)
# each answered by their block's instance.
check_clients() {
    local mode=$1 n=$2 clients k
    api "$API/v1/partition" >"$PP_TMP/partition.json"
    expect_eq "$(jq '[.blocks[].count] | add' "$PP_TMP/partition.json")" "$CLIENTS" "clients partitioned at $n ($mode)"
    if [ "$n" = 4 ]; then
        clients=$(seq 1 "$CLIENTS")
    else
        clients=$(jq -r '.blocks[] | select(.count > 0) | .first, .last' "$PP_TMP/partition.json" |
            awk -F. '{ print $4 }' | sort -n | uniq)
    fi
    for k in $clients; do
        expect_eq "$(via "$k")" "$MP$(expected "$k")" "client $k at $n instances ($mode)"
    done
}

for n in 1 4; do
    out=$(api -X PUT -d "{\"replicas\": $n}" -o /dev/null -w '%{http_code}' "$API/v1/pool")
    expect_eq "$out" 200 "PUT replicas=$n"
    expect_eq "$(api "$API/v1/forwarding" | jq -r .mode)" route "mode"
    expect_eq "$(our_routes | grep -c '198.19.255.10 via 198.19.0.')" "$n" "one VIP route per container at $n"
    # The VIP on each container's lo, in its own namespace.
    for pid in $(pool | jq -r '.instances[].pid'); do
        expect_match "$(nsenter --net="/proc/$pid/ns/net" ip -o addr show dev lo)" "198.19.255.10/32" "VIP on the lo of container pid $pid"
    done
    check_clients route "$n"
done

out=$(api -X PUT -d '{"mode": "nat"}' -o /dev/null -w '%{http_code}' "$API/v1/forwarding")
expect_eq "$out" 200 "switch to nat"
expect_eq "$(our_rules | wc -l)" 0 "no route rules in nat mode"
expect_ge "$(in_mid iptables-legacy-save -t nat | grep -c -- "-A $CHAIN")" 4 "DNAT rules to the containers in nat mode"
expect_match "$(in_mid iptables-legacy-save -t nat | grep -- "-A $CHAIN")" "to-destination 198\.19\.0\.[0-9]+:3128" "DNAT to a container's address"
check_clients nat 4
out=$(api -X PUT -d '{"mode": "route"}' -o /dev/null -w '%{http_code}' "$API/v1/forwarding")
expect_eq "$out" 200 "switch back to route"
expect_eq "$(in_mid iptables-legacy-save -t nat | grep -c -- "$CHAIN" || true)" 0 "no DNAT rules in route mode"
check_clients route 4

kill -TERM "$MANAGER_PID"
pp_wait_until 60 bash -c "! kill -0 $MANAGER_PID 2>/dev/null" || pp_die "manager did not exit"
expect_eq "$(our_rules | wc -l)" 0 "no rule in our priority range after the manager exits"
expect_eq "$(our_routes | wc -l)" 0 "no route in our tables after the manager exits"
expect_eq "$(in_mid iptables-legacy-save | grep -c -- "$(echo "$MP" | tr '[:lower:]' '[:upper:]')-" || true)" 0 "no chain of ours after the manager exits"
expect_eq "$(labelled_containers)" 0 "containers labelled $MP after SIGTERM"
expect_eq "$(labelled_networks)" 0 "networks labelled $MP after SIGTERM"
expect_eq "$(ip -n "$P-mid" -o link show | awk -F': ' '{ print $2 }' | grep -c "^$MP" || true)" 0 "no link of ours in mid"
