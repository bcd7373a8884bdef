#!/usr/bin/env bash
# The route mode's reconcile in the testbed: the manager runs in the
# intermediate host (container runtime, --forwarding route, 4 instances,
# --reconcile-interval 2s). With nothing changed, reconcile runs write
# nothing: ip monitor in mid and in a container's namespace sees no rule,
# route or address message over two runs, the rule and route dumps and our
# mangle lines (packet counters included) stay identical and no repair is
# counted. A block's rule deleted by hand, an instance table's VIP route
# deleted, the VIP deleted from a container's lo, a fwmark rule and a pin
# jump deleted, and a stranger's rule added at one of our priorities are
# each put right within one period, counted in
# manager_reconcile_repairs_total{what=rule|route|address|jump}, and the
# damaged block's clients are answered by their instance again; a rule at a
# priority not ours is left alone. Everything lives in the testbed's
# namespaces.
# timeout: 120
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_need_root "network namespaces"
TESTBED=$PP_REPO/deploy/testbed
P=t$(($$ % 10000000))
MP=v$(($$ % 1000)) # the manager's prefix: instances v<pid>1.., bridge v<pid>br
PINS=$(echo "$MP" | tr '[:lower:]' '[:upper:]')-PIN
VIP=198.19.255.10
PERIOD_MS=2000
IPT=iptables
if command -v iptables-legacy-save >/dev/null 2>&1; then IPT=iptables-legacy; fi
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
pp_on_cleanup "rm -f /run/proxypool/prefixes/$MP.lock"
tb() { "$TESTBED" --prefix "$P" "$@"; }
in_mid() { nsenter --net="/run/netns/$P-mid" "$@"; }
# fwd_route.c's numbers: fwmark rules at 7099, bands 7100-7101, tables 7101-7164.
# Sorted: a rule put back is listed after the others of its priority.
our_rules() { ip -n "$P-mid" rule show | grep -E '^(7099|710[01]):' | sort || true; }
our_routes() {
    local t
    for t in $(seq 7101 7164); do
        ip -n "$P-mid" route show table "$t" 2>/dev/null | sed "s/^/table $t: /" || true
    done
}
mangle() { in_mid "$IPT-save" -c -t mangle | grep -- "$PINS" || true; }

tb up --clients 16 --object-size 4K >/dev/null
API_PORT=$(pp_free_port)
API=http://127.0.0.1:$API_PORT
pp_bg manager nsenter --net="/run/netns/$P-mid" "$PP_BIN/manager" --runtime container \
    --subnet 198.19.0.0/24 --bridge "${MP}br" --replicas 4 --api "127.0.0.1:$API_PORT" \
    --state-dir "$PP_TMP/state" --prefix "$MP" --forwarding route --vip "$VIP:3128" \
    --clients 198.18.1.1-198.18.1.16 --drain-timeout 2s --proxy-arg=--cache-mem=16M \
    --reconcile-interval "${PERIOD_MS}ms"
MANAGER_PID=$PP_LAST_PID
api() { in_mid curl -sS --max-time 20 -H "@$(pp_api_headers "$PP_TMP/state/api.token")" "$@"; }
ready_is() { [ "$(api "$API/v1/pool" 2>/dev/null | jq -r .ready)" = "$1" ]; }
pp_wait_until 30 ready_is 4 || pp_die "manager not ready: $(tail -5 "$PP_TMP/manager.log")"
# metric NAME: one sample of the manager's /metrics (0 when absent).
metric() { api "$API/metrics" | awk -v m="$1" '$1 == m { v = $2 } END { print v + 0 }'; }
runs() { metric manager_reconcile_runs_total; }
repairs() { metric "manager_reconcile_repairs_total{what=\"$1\"}"; }
runs_reach() { [ "$(runs)" -ge "$1" ]; }
# through K: the instance that answered client K through the VIP.
through() {
    tb exec "client-$1" -- curl -sS --max-time 10 -o /dev/null -D - \
        -x "http://$VIP:3128" http://198.19.1.2/obj |
        tr -d '\r' | awk -F': ' 'tolower($1) == "x-cache" { sub(/^(HIT|MISS) from /, "", $2); print $2 }'
}
# owner K: the instance the partition gives client K.
owner() {
    api "$API/v1/partition" | jq -r --argjson k "$1" '.blocks[] | select(.count > 0) |
        select((.first | split(".") | .[3] | tonumber) <= $k and (.last | split(".") | .[3] | tonumber) >= $k) | .instance'
}
# pid_of ID: instance ID's process, whose network namespace holds its VIP.
pid_of() { api "$API/v1/pool" | jq -r --argjson id "$1" '.instances[] | select(.id == $id) | .pid'; }
# Checks on a pipe read it whole (grep -c, not -q): under pipefail, grep -q
# leaving early fails the writer with SIGPIPE, which would read as no match.
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# repaired_within WHAT CHECK...: waits until CHECK holds, then asserts it
# took at most one period (plus 500 ms for the checks' own polling).
repaired_within() {
    local what=$1 start elapsed
    shift
    start=$(now_ms)
    pp_wait_until $((PERIOD_MS / 1000 + 3)) "$@" || pp_die "$what was not repaired: $(tail -5 "$PP_TMP/manager.log")"
    elapsed=$(($(now_ms) - start))
    echo "# $what repaired after $elapsed ms"
    expect_le "$elapsed" $((PERIOD_MS + 500)) "ms until $what was repaired (period $PERIOD_MS ms)"
}

r0=$(runs)
pp_wait_until 10 runs_reach $((r0 + 1)) || pp_die "no reconcile run within 10 s: $(tail -5 "$PP_TMP/manager.log")"
for k in 1 5 9 13; do
    expect_eq "$(through "$k")" "$MP$(owner "$k")" "client $k before any drift"
done
expect_eq "$(metric manager_reconcile_failures_total)" 0 "failed runs"

# No drift: two runs write nothing. ip monitor runs in mid and in instance
# 3's namespace; the dumps and our mangle lines (counters moved by the
# requests above: a rewritten chain would start them at 0) stay as they were.
PID3=$(pid_of 3)
expect_match "$PID3" '^[0-9]+$' "instance 3's pid"
rules_before=$(our_rules)
routes_before=$(our_routes)
mangle_before=$(mangle)
expect_eq "$(grep -c -- "^\[[1-9][0-9]*:[0-9]*\] -A $PINS-RESTORE " <<<"$mangle_before")" 1 "the restore rule counted packets"
pp_bg monitor_mid ip -n "$P-mid" monitor rule route address
MON_MID=$PP_LAST_PID
pp_bg monitor_ns3 nsenter --net="/proc/$PID3/ns/net" ip monitor rule route address
MON_NS3=$PP_LAST_PID
sleep 0.3 # both monitors subscribed before the first run they watch
repairs_before=""
for w in rule route address jump; do repairs_before+="$w=$(repairs "$w") "; done
r1=$(runs)
pp_wait_until 10 runs_reach $((r1 + 2)) || pp_die "reconcile runs stopped"
sleep 0.3
kill "$MON_MID" "$MON_NS3"
wait "$MON_MID" "$MON_NS3" 2>/dev/null || true
expect_eq "$(wc -l <"$PP_TMP/monitor_mid.log")" 0 "netlink messages in mid during two runs with no drift"
expect_eq "$(wc -l <"$PP_TMP/monitor_ns3.log")" 0 "netlink messages in instance 3's namespace during two runs with no drift"
expect_eq "$(our_rules)" "$rules_before" "our rules after two runs with no drift"
expect_eq "$(our_routes)" "$routes_before" "our routes after two runs with no drift"
expect_eq "$(mangle)" "$mangle_before" "our mangle lines and their counters after two runs with no drift"
repairs_after=""
for w in rule route address jump; do repairs_after+="$w=$(repairs "$w") "; done
expect_eq "$repairs_after" "$repairs_before" "repairs with no drift"

# A block's rule deleted by hand: the first of block 2's (instance 2's
# table) comes back, and its first client is answered by instance 2 again.
rule=$(our_rules | grep -E '^710[01]:' | grep -m1 -F "lookup 7102")
src=$(sed -n 's/.*from \([0-9./]*\) lookup 7102.*/\1/p' <<<"$rule")
expect_match "$src" '^198\.18\.1\.[0-9]+(/[0-9]+)?$' "a rule of block 2"
prio=${rule%%:*}
first=${src%/*}
first=${first##*.}
rule_repairs=$(repairs rule)
# The same monitor sees the repair's rule: its silence above was not deafness.
pp_bg monitor_repair ip -n "$P-mid" monitor rule
MON_REPAIR=$PP_LAST_PID
sleep 0.3
ip -n "$P-mid" rule del priority "$prio" from "$src" lookup 7102
rule_count() { our_rules | grep -c -F "from $src lookup 7102" || true; }
expect_eq "$(rule_count)" 0 "block 2's rule from $src after the deletion"
rule_back() { [ "$(rule_count)" = 1 ]; }
repaired_within "the deleted block rule" rule_back
expect_ge "$(repairs rule)" $((rule_repairs + 1)) "rule repairs counted"
expect_match "$(cat "$PP_TMP/manager.log")" "reconcile: route had drifted \(1 rule not as installed\); repaired" "the repair is logged"
expect_eq "$(through "$first")" "${MP}2" "client $first after the repair"
kill "$MON_REPAIR"
wait "$MON_REPAIR" 2>/dev/null || true
expect_match "$(cat "$PP_TMP/monitor_repair.log")" "Deleted $prio:[[:space:]]+from $src lookup 7102" "ip monitor saw the deletion by hand"
expect_match "$(grep -v Deleted "$PP_TMP/monitor_repair.log")" "^$prio:[[:space:]]+from $src lookup 7102" "ip monitor saw the repair add the rule"

# Instance 3's VIP route deleted by hand comes back.
route_repairs=$(repairs route)
ip -n "$P-mid" route del "$VIP" table 7103
route_back() { ip -n "$P-mid" route show table 7103 | grep -c "^$VIP via " >/dev/null; }
route_back && pp_die "the VIP route of table 7103 is still there after its deletion"
repaired_within "the deleted VIP route" route_back
expect_ge "$(repairs route)" $((route_repairs + 1)) "route repairs counted"
expect_eq "$(our_routes)" "$routes_before" "our routes after the repair"
expect_eq "$(through 9)" "${MP}3" "client 9 after the repair"

# The VIP deleted from instance 3's lo comes back.
address_repairs=$(repairs address)
vip_on_lo() { nsenter --net="/proc/$PID3/ns/net" ip -o -4 addr show dev lo | grep -c " $VIP/32 " >/dev/null; }
vip_on_lo || pp_die "no VIP on instance 3's lo"
nsenter --net="/proc/$PID3/ns/net" ip addr del "$VIP/32" dev lo
vip_on_lo && pp_die "the VIP is still on instance 3's lo after its deletion"
repaired_within "the VIP deleted from lo" vip_on_lo
expect_ge "$(repairs address)" $((address_repairs + 1)) "address repairs counted"
expect_eq "$(through 9)" "${MP}3" "client 9 after the VIP came back"

# A fwmark rule and the restore jump deleted by hand come back.
rule_repairs=$(repairs rule)
jump_repairs=$(repairs jump)
ip -n "$P-mid" rule del priority 7099 fwmark 0x40000/0xff0000 lookup 7104
in_mid "$IPT" -t mangle -D PREROUTING -d "$VIP/32" -p tcp -m tcp --dport 3128 -j "$PINS-RESTORE"
pin_back() {
    ip -n "$P-mid" rule show | grep -c '^7099:.*fwmark 0x40000/0xff0000 lookup 7104' >/dev/null &&
        mangle | grep -c -- "-A PREROUTING .* -j $PINS-RESTORE\$" >/dev/null
}
repaired_within "the deleted fwmark rule and jump" pin_back
expect_ge "$(repairs rule)" $((rule_repairs + 1)) "fwmark rule repairs counted"
expect_ge "$(repairs jump)" $((jump_repairs + 1)) "jump repairs counted"

# A stranger's rule at one of our priorities goes; one at a priority not
# ours stays.
rule_repairs=$(repairs rule)
ip -n "$P-mid" rule add from 10.99.0.0/24 lookup 7105 priority 7101
ip -n "$P-mid" rule add from 10.98.0.0/24 lookup 7102 priority 7200
stranger_gone() { ! ip -n "$P-mid" rule show | grep -c '^7101:.*from 10.99.0.0/24' >/dev/null; }
repaired_within "the stranger's rule at our priority" stranger_gone
expect_ge "$(repairs rule)" $((rule_repairs + 1)) "rule repairs counted for the extra rule"
expect_eq "$(ip -n "$P-mid" rule show | grep -c '^7200:.*from 10.98.0.0/24 lookup 7102')" 1 "the rule at a priority not ours is left alone"
ip -n "$P-mid" rule del priority 7200 from 10.98.0.0/24 lookup 7102
expect_eq "$(our_rules)" "$rules_before" "our rules after every repair"
expect_eq "$(metric manager_reconcile_failures_total)" 0 "failed runs"

kill -TERM "$MANAGER_PID"
pp_wait_until 30 bash -c "! kill -0 $MANAGER_PID 2>/dev/null" || pp_die "manager did not exit"
expect_eq "$(our_rules | wc -l)" 0 "no rule of ours after the manager exits"
expect_eq "$(our_routes | wc -l)" 0 "no route in our tables after the manager exits"
