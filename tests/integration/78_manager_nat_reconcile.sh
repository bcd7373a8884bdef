#!/usr/bin/env bash
# The nat mode's reconcile in the testbed: the manager runs in the
# intermediate host (process runtime, --forwarding nat, 4 instances,
# --reconcile-interval 2s). With nothing changed, reconcile runs write
# nothing: our chain's and jumps' lines of iptables-save -c, packet and byte
# counters included (a rewritten chain starts them at 0), stay identical and
# no repair is counted. A DNAT rule deleted by hand, the jump from PREROUTING
# deleted by hand and a stranger's rule inserted in our chain are each put
# right within one period, counted in manager_reconcile_repairs_total, and
# the clients of the damaged block are answered by their instance again;
# someone else's rule ahead of our jump is left alone.
# Every rule lives in the testbed's namespaces.
# timeout: 90
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_need_root "network namespaces"
TESTBED=$PP_REPO/deploy/testbed
P=r$(($$ % 10000000))
MP=r$(($$ % 1000)) # the manager's prefix: instance names r<pid>1.., chain R<pid>-DNAT
CHAIN=$(echo "$MP" | tr '[:lower:]' '[:upper:]')-DNAT
VIP=198.19.255.10
PERIOD_MS=2000
pp_on_cleanup "$(printf '%q' "$TESTBED") --prefix $P down >/dev/null 2>&1 || true"
tb() { "$TESTBED" --prefix "$P" "$@"; }
in_mid() { nsenter --net="/run/netns/$P-mid" "$@"; }
ipt() { in_mid iptables-legacy -t nat "$@"; }
# Our lines only, counters included: the hooks' policy counters move with
# every local connection (this script's curls), ours only with clients'.
ours_saved() { in_mid iptables-legacy-save -c -t nat | grep -- "$CHAIN" || true; }

tb up --clients 64 >/dev/null
API_PORT=$(pp_free_port)
API=http://127.0.0.1:$API_PORT
BASE=$(pp_free_port)
pp_bg manager nsenter --net="/run/netns/$P-mid" "$PP_BIN/manager" --runtime process --process-addr 198.18.0.1 \
    --base-port "$BASE" --replicas 4 --api "127.0.0.1:$API_PORT" --state-dir "$PP_TMP/state" \
    --prefix "$MP" --forwarding nat --vip "$VIP:3128" --clients 198.18.1.1-198.18.1.64 \
    --drain-timeout 5s --proxy-arg=--cache-mem=16M --reconcile-interval "${PERIOD_MS}ms"
MANAGER_PID=$PP_LAST_PID
api() { in_mid curl -sS --max-time 20 "$@"; }
ready_is() { [ "$(api "$API/v1/pool" 2>/dev/null | jq -r .ready)" = "$1" ]; }
pp_wait_until 20 ready_is 4 || pp_die "manager not ready: $(tail -5 "$PP_TMP/manager.log")"
# metric NAME: one sample of the manager's /metrics (0 when absent).
metric() { api "$API/metrics" | awk -v m="$1" '$1 == m { v = $2 } END { print v + 0 }'; }
runs() { metric manager_reconcile_runs_total; }
repairs() { metric "manager_reconcile_repairs_total{what=\"$1\"}"; }
runs_reach() { [ "$(runs)" -ge "$1" ]; }
# through K: the instance that answered client K through the VIP.
through() {
    tb exec "client-$1" -- curl -sS --max-time 10 -o /dev/null -D - \
        -x "http://$VIP:3128" http://198.19.1.2/obj1m |
        tr -d '\r' | awk -F': ' 'tolower($1) == "x-cache" { sub(/^(HIT|MISS) from /, "", $2); print $2 }'
}
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

# No drift: runs go by and write nothing. After a first run, traffic
# through every block (64 clients over 4 instances: 16 each, 5 prefixes per
# block, 20 rules) makes some DNAT rules' counters not 0; a run that
# rewrote the chain would start them at 0 again.
r0=$(runs)
pp_wait_until 10 runs_reach $((r0 + 1)) || pp_die "no reconcile run within 10 s: $(tail -5 "$PP_TMP/manager.log")"
for k in 1 17 33 49; do
    expect_eq "$(through "$k")" "$MP$(((k - 1) / 16 + 1))" "client $k before any drift"
done
before=$(ours_saved)
expect_eq "$(grep -c -- "^\[[1-9][0-9]*:[0-9]*\] -A $CHAIN " <<<"$before")" 4 "DNAT rules that counted packets"
rule_repairs=$(repairs rule)
jump_repairs=$(repairs jump)
r1=$(runs)
pp_wait_until 10 runs_reach $((r1 + 2)) || pp_die "reconcile runs stopped"
expect_eq "$(ours_saved)" "$before" "our rules and their counters after two runs with no drift"
expect_eq "$(repairs rule)" "$rule_repairs" "rule repairs with no drift"
expect_eq "$(repairs jump)" "$jump_repairs" "jump repairs with no drift"
expect_eq "$(metric manager_reconcile_failures_total)" 0 "failed runs"

# A DNAT rule deleted by hand (block 2's for clients 20-23) comes back.
rule=$(ours_saved | sed -n "s/^\[[0-9:]*\] \(-A $CHAIN -s 198\.18\.1\.20\/30 .*\)/\1/p")
expect_match "$rule" "DNAT --to-destination 198\.18\.0\.1:$((BASE + 2))\$" "block 2's rule for clients 20-23"
read -ra del <<<"${rule/-A /-D }"
ipt "${del[@]}"
rule_count() { ours_saved | grep -c -- "-A $CHAIN -s 198\.18\.1\.20/30 " || true; }
expect_eq "$(rule_count)" 0 "the rule for clients 20-23 after the deletion"
rule_back() { [ "$(rule_count)" = 1 ]; }
repaired_within "the deleted DNAT rule" rule_back
expect_eq "$(ours_saved | grep -c -- "-A $CHAIN ")" 20 "rules in our chain after the repair"
expect_ge "$(repairs rule)" $((rule_repairs + 1)) "rule repairs counted"
expect_match "$(cat "$PP_TMP/manager.log")" "reconcile: nat had drifted \(1 rule not as installed\); repaired" "the repair is logged"
expect_eq "$(through 20)" "${MP}2" "client 20 after the repair"

# The jump from PREROUTING deleted by hand comes back, first in the hook.
ipt -D PREROUTING -d "$VIP/32" -p tcp -m tcp --dport 3128 -j "$CHAIN"
jump_back() { in_mid iptables-legacy -t nat -S PREROUTING | sed -n 2p | grep -q -- "-j $CHAIN\$"; }
repaired_within "the deleted jump" jump_back
expect_ge "$(repairs jump)" $((jump_repairs + 1)) "jump repairs counted"
expect_eq "$(in_mid iptables-legacy -t nat -S PREROUTING | grep -c -- "-j $CHAIN\$")" 1 "jumps from PREROUTING"

# Someone else's rule ahead of our jump (another manager's jump would
# stand there) is not drift: nothing moves, nothing is counted.
jump_repairs=$(repairs jump)
ipt -I PREROUTING 1 -s 10.99.0.0/16 -p tcp -j RETURN
saved=$(ours_saved)
r2=$(runs)
pp_wait_until 10 runs_reach $((r2 + 2)) || pp_die "reconcile runs stopped"
expect_eq "$(repairs jump)" "$jump_repairs" "jump repairs with another rule ahead of ours"
expect_eq "$(ours_saved)" "$saved" "our rules and counters with another rule ahead of our jump"
expect_eq "$(in_mid iptables-legacy -t nat -S PREROUTING | sed -n 2p)" "-A PREROUTING -s 10.99.0.0/16 -p tcp -j RETURN" "the other rule stays first"

# A stranger's rule first in our chain would send every client to one
# address: it goes, and the chain is ours again.
rule_repairs=$(repairs rule)
ipt -I "$CHAIN" 1 -s 198.18.1.0/24 -p tcp -j DNAT --to-destination 198.18.0.1:9
stranger_gone() { [ "$(ours_saved | grep -c -- "198\.18\.0\.1:9\$")" = 0 ]; }
repaired_within "the stranger's rule" stranger_gone
expect_ge "$(repairs rule)" $((rule_repairs + 1)) "rule repairs counted for the extra rule"
expect_eq "$(through 1)" "${MP}1" "client 1 after the repair"
expect_eq "$(through 64)" "${MP}4" "client 64 after the repair"

kill -TERM "$MANAGER_PID"
pp_wait_until 20 bash -c "! kill -0 $MANAGER_PID 2>/dev/null" || pp_die "manager did not exit"
expect_eq "$(in_mid iptables-legacy-save -t nat | grep -c -- "$CHAIN" || true)" 0 "no rules after the manager exits"
