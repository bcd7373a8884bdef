#!/usr/bin/env bash
# Route forwarding keeps established connections where they are: the rules
# route by source, so without pinning a kept-alive connection whose client
# block moves to another running instance would send its next request there
# and be reset. 16 testbed clients with kept-alive connections under load
# through the VIP while the pool goes 1 -> 4 (clients 5-16 move off instance
# 1, which keeps running) -> 2 (clients 5-8 move from instance 2 to 1, both
# running): 0 failed requests (the manager before pinning: resets); a new
# connection goes to its block's new instance. The mangle chains (<PREFIX>-PIN-RESTORE, -PIN-SAVE), their
# jumps and the fwmark rules are there while route mode runs, and gone after
# SIGTERM, and after kill -9 the next manager removes them (and says so).
# Drains count the connections pinned to the draining instance.
# timeout: 150
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_need_root "network namespaces"
TESTBED=$PP_REPO/deploy/testbed
P=q$(($$ % 10000000))
MP=u$(($$ % 1000)) # the manager's prefix
CHAINS=$(echo "$MP" | tr '[:lower:]' '[:upper:]')-PIN
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
# fwd_route.c's numbers: pinned connections' rules at 7099, bands 7100-7101.
pin_rules() { ip -n "$P-mid" rule show | grep -E '^7099:' || true; }
all_rules() { ip -n "$P-mid" rule show | grep -E '^(7099|710[01]):' || true; }
mangle() { in_mid "$IPT-save" -t mangle | grep -- "$CHAINS" || true; }

tb up --clients 16 --object-size 4K >/dev/null
API_PORT=$(pp_free_port)
API=http://127.0.0.1:$API_PORT
start_manager() {
    pp_bg manager nsenter --net="/run/netns/$P-mid" "$PP_BIN/manager" --runtime container \
        --subnet 198.19.0.0/24 --bridge "${MP}br" --replicas 1 --api "127.0.0.1:$API_PORT" \
        --state-dir "$PP_TMP/state" --prefix "$MP" --forwarding route --vip 198.19.255.10:3128 \
        --clients 198.18.1.1-198.18.1.16 --drain-timeout 3s --proxy-arg=--cache-mem=16M
    MANAGER_PID=$PP_LAST_PID
}
api() { in_mid curl -sS --max-time 60 -H "@$(pp_api_headers "$PP_TMP/state/api.token")" "$@"; }
ready_is() { [ "$(api "$API/v1/pool" 2>/dev/null | jq -r .ready)" = "$1" ]; }
scale() {
    expect_eq "$(api -X PUT -d "{\"replicas\": $1}" -o "$PP_TMP/put.json" -w '%{http_code}' "$API/v1/pool")" 200 "PUT replicas=$1"
}
# through K: the instance that answered a new connection of client K.
through() {
    tb exec "client-$1" -- curl -sS --max-time 10 -o /dev/null -D - \
        -x http://198.19.255.10:3128 http://198.19.1.2/obj |
        tr -d '\r' | awk -F': ' 'tolower($1) == "x-cache" { sub(/^(HIT|MISS) from /, "", $2); print $2 }'
}
# owner K: the instance the partition gives client K.
owner() {
    api "$API/v1/partition" | jq -r --argjson k "$1" '.blocks[] | select(.count > 0) |
        select((.first | split(".") | .[3] | tonumber) <= $k and (.last | split(".") | .[3] | tonumber) >= $k) | .instance'
}

start_manager
pp_wait_until 20 ready_is 1 || pp_die "manager not ready: $(tail -5 "$PP_TMP/manager.log")"
expect_eq "$(pin_rules | wc -l)" 1 "one fwmark rule at 1 instance"
expect_match "$(pin_rules)" "fwmark 0x10000/0xff0000 lookup 7101" "instance 1's fwmark rule"
expect_match "$(mangle)" "-A PREROUTING -d 198.19.255.10/32 -p tcp -m tcp --dport 3128 -j $CHAINS-RESTORE" "the restore jump"
expect_match "$(mangle)" "-A FORWARD -d 198.19.255.10/32 -p tcp -m tcp --dport 3128 -j $CHAINS-SAVE" "the save jump"
expect_match "$(mangle)" "-A $CHAINS-RESTORE -j CONNMARK --restore-mark --nfmask 0xff0000 --ctmask 0xff0000" "the restore rule"
expect_match "$(mangle)" "-A $CHAINS-SAVE -m connmark --mark 0x0/0xff0000 -m realm --realm 0x1/0xffff -j CONNMARK --set-xmark 0x10000/0xff0000" "instance 1's save rule"

# load NAME REQUESTS: 16 clients, kept-alive connections (one suffices at
# this rate), 20 requests/s each; a client's connections stay open for the
# whole run, so they are where they were opened until the run ends.
load() {
    "$PP_BIN/loadgen" http://198.19.1.2/obj --proxy 198.19.255.10:3128 --testbed 16 --testbed-prefix "$P" \
        --keepalive --rate 20 -n "$2" -c 2 --timeout 10 --json "$PP_TMP/$1.json" --csv "$PP_TMP/$1.csv" \
        --quiet --no-progress >"$PP_TMP/$1.out" 2>&1 </dev/null &
    LOAD_PID=$!
    pp_track "$LOAD_PID"
}
# load_check NAME PID MIN_REQUESTS WHAT: the run made its requests and none failed.
load_check() {
    wait "$2" || pp_log "loadgen $1 exited: $(tail -n 3 "$PP_TMP/$1.out")"
    echo "# $4: $(jq -r .requests "$PP_TMP/$1.json") requests, $(jq -r .errors.total "$PP_TMP/$1.json") failed: $(jq -c .errors "$PP_TMP/$1.json")"
    expect_ge "$(jq -r .requests "$PP_TMP/$1.json")" "$3" "requests made ($4)"
    expect_eq "$(jq -r .errors.total "$PP_TMP/$1.json")" 0 "no request failed ($4)"
    expect_eq "$(jq -r .errors.reset "$PP_TMP/$1.json")" 0 "no connection reset ($4)"
}

# Run A opens its connections at 1 instance (all on instance 1) and keeps
# them over 1 -> 4; run B opens its own at 4 (clients 5-8 on instance 2,
# 9-12 on 3, 13-16 on 4) and keeps them over 4 -> 2.
load a 120 # 6 s
LOAD_A=$LOAD_PID
sleep 2
scale 4 # clients 5-16 move off instance 1, which keeps serving clients 1-4
expect_eq "$(pin_rules | wc -l)" 4 "one fwmark rule per instance at 4"
expect_eq "$(mangle | grep -c -- "-A $CHAINS-SAVE")" 4 "one save rule per instance at 4"
expect_eq "$(through 16)" "$MP$(owner 16)" "a new connection of client 16 goes to its new instance"
expect_eq "$(owner 16)" 4 "client 16's block is instance 4's"
load b 160 # 8 s
LOAD_B=$LOAD_PID
sleep 3
scale 2 # clients 5-8 move from instance 2 to 1, both running; 3 and 4 drain and stop
expect_eq "$(through 5)" "${MP}1" "a new connection of client 5 goes to instance 1"
expect_eq "$(pin_rules | wc -l)" 2 "fwmark rules of the stopped instances removed"
expect_eq "$(mangle | grep -c -- "-A $CHAINS-SAVE")" 2 "save rules of the stopped instances removed"
expect_eq "$(ip -n "$P-mid" route show table 7103 2>/dev/null | grep -c 198.19.255.10 || true)" 0 "no route in stopped instance 3's table"
# Clients 9-16's connections of run B stayed on 3 and 4 until those drained.
expect_match "$(cat "$PP_TMP/manager.log")" "draining ${MP}3 \(pid [0-9]+, [1-9][0-9]* tracked connections\)" "instance 3's pinned connections counted at its drain"
expect_match "$(cat "$PP_TMP/manager.log")" "${MP}4 stopped \(exit status 0\): [1-9][0-9]* connections drained, 0 cut" "instance 4's connections drained, none cut"
load_check a "$LOAD_A" 1900 "kept-alive load over 1 -> 4"
load_check b "$LOAD_B" 2500 "kept-alive load over 4 -> 2"

kill -TERM "$MANAGER_PID"
pp_wait_until 30 bash -c "! kill -0 $MANAGER_PID 2>/dev/null" || pp_die "manager did not exit"
expect_eq "$(all_rules | wc -l)" 0 "no rule of ours after SIGTERM"
expect_eq "$(mangle | wc -l)" 0 "no mangle chain, rule or jump of ours after SIGTERM"

# kill -9 leaves everything; when the instances died too (nothing to
# adopt), the next manager removes it and says so.
mv "$PP_TMP/manager.log" "$PP_TMP/manager-first.log" # kept for the sanitizer scan
start_manager
pp_wait_until 20 ready_is 1 || pp_die "manager not ready: $(tail -5 "$PP_TMP/manager.log")"
scale 3
mapfile -t inst_pids < <(api "$API/v1/pool" | jq -r '.instances[].pid')
kill -KILL "$MANAGER_PID"
pp_wait_until 10 bash -c "! kill -0 $MANAGER_PID 2>/dev/null" || pp_die "manager did not die"
expect_eq "${#inst_pids[@]}" 3 "instance pids before the crash"
kill -KILL "${inst_pids[@]}"
all_dead() {
    local p
    for p in "${inst_pids[@]}"; do ! kill -0 "$p" 2>/dev/null || return 1; done
}
pp_wait_until 10 all_dead || pp_die "instances did not die"
expect_eq "$(pin_rules | wc -l)" 3 "kill -9 leaves the fwmark rules"
expect_eq "$(mangle | grep -c -- "-A $CHAINS-SAVE")" 3 "kill -9 leaves the save rules"
# Someone else's mangle rule and mark rule stay untouched.
in_mid "$IPT" -t mangle -A PREROUTING -s 10.99.0.0/24 -j MARK --set-mark 0x4000
mv "$PP_TMP/manager.log" "$PP_TMP/manager-killed.log"
start_manager
pp_wait_until 30 ready_is 1 || pp_die "manager not ready after the crash: $(tail -5 "$PP_TMP/manager.log")"
log=$(cat "$PP_TMP/manager.log")
expect_match "$log" "removing leftover chain mangle $CHAINS-SAVE \(3 rules\)" "the leftover save chain is removed and logged"
expect_match "$log" "removing leftover chain mangle $CHAINS-RESTORE" "the leftover restore chain is removed and logged"
expect_match "$log" "removing leftover rule 7099: from all fwmark 0x30000/0xff0000 lookup 7103" "the leftover fwmark rule is removed and logged"
expect_eq "$(pin_rules | wc -l)" 1 "only the new manager's fwmark rule"
expect_eq "$(mangle | grep -c -- "-A $CHAINS-SAVE")" 1 "only the new manager's save rule"
expect_eq "$(mangle | grep -c -- "-j $CHAINS-RESTORE")" 1 "one restore jump"
kill -TERM "$MANAGER_PID"
pp_wait_until 30 bash -c "! kill -0 $MANAGER_PID 2>/dev/null" || pp_die "manager did not exit"
expect_eq "$(all_rules | wc -l)" 0 "no rule of ours after the second manager's SIGTERM"
expect_eq "$(mangle | wc -l)" 0 "no mangle chain of ours after the second manager's SIGTERM"
expect_eq "$(in_mid "$IPT-save" -t mangle | grep -c -- '-s 10.99.0.0/24 -j MARK --set-xmark 0x4000')" 1 "someone else's mangle rule untouched"
