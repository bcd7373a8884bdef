#!/usr/bin/env bash
# A manager restart under load loses nothing: in the testbed (--runtime
# $RUNTIME, process unless set; --forwarding $FORWARDING: nat, balancer, or
# route with containers), loadgen's four clients fetch through the VIP
# while the manager is killed with -9 and started again, then asked to
# leave with SIGUSR2 and started again, then started with --keep-on-exit and
# stopped with SIGTERM and started again. Each new manager adopts the
# running instances (same pids, "adopted" in its log) and the forwarding
# comes out identical (nat: the same chain and jumps, none duplicated;
# route: the same policy rules, in one band; balancer: the same balancer
# process, adopted) and no request fails. Then a new manager at --replicas
# 1 adopts both and drains the second, the next at --replicas 2 adopts the
# first and starts a second, and a plain SIGTERM removes everything.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_need_root "network namespaces"
TESTBED=$PP_REPO/deploy/testbed
P=a$(($$ % 10000000))
ADMIN_PORT=$(pp_free_port)
MP=r$(($$ % 1000)) # the manager's prefix: instances r<pid>1.., chain R<pid>-DNAT
CHAIN=$(echo "$MP" | tr '[:lower:]' '[:upper:]')-DNAT
pp_on_cleanup "$(printf '%q' "$TESTBED") --prefix $P down >/dev/null 2>&1 || true"
tb() { "$TESTBED" --prefix "$P" "$@"; }
in_mid() { nsenter --net="/run/netns/$P-mid" "$@"; }

tb up --clients 4 >/dev/null
API_PORT=$(pp_free_port)
API=http://127.0.0.1:$API_PORT
BASE=$(pp_free_port)
STATE=$PP_TMP/state
# What a failed run may leave: the instances by their pid files.
kill_instances() {
    local f
    for f in "$STATE/$MP"*.pid; do
        [ -f "$f" ] && kill -KILL "$(cut -d' ' -f1 "$f")" 2>/dev/null
    done
    return 0
}
pp_on_cleanup kill_instances

# start_manager NAME REPLICAS [OPTION...]
RUNTIME=${RUNTIME:-process}
if [ "$RUNTIME" = container ]; then
    RUNTIME_ARGS=(--subnet 198.19.0.0/24 --bridge "${MP}br")
    cleanup_cgroups() { # what a failed run may leave: processes by cgroup, then the groups
        local d
        for d in $(find /sys/fs/cgroup -maxdepth 3 -type d -name "$MP*" | sort -r); do
            xargs -r kill -KILL <"$d/cgroup.procs" 2>/dev/null || true
        done
        sleep 0.2
        find /sys/fs/cgroup -maxdepth 3 -depth -type d -name "$MP*" -exec rmdir {} \; 2>/dev/null || true
    }
    pp_on_cleanup cleanup_cgroups
else
    RUNTIME_ARGS=(--process-addr 198.18.0.1)
fi
start_manager() {
    local name=$1 replicas=$2
    shift 2
    pp_bg "$name" nsenter --net="/run/netns/$P-mid" "$PP_BIN/manager" --runtime "$RUNTIME" \
        "${RUNTIME_ARGS[@]}" --base-port "$BASE" --replicas "$replicas" \
        --api "127.0.0.1:$API_PORT" --state-dir "$STATE" --prefix "$MP" \
        --vip 198.19.255.10:3128 --clients 198.18.1.1-198.18.1.4 --drain-timeout 5s \
        --proxy-arg=--cache-mem=16M --forwarding "$FORWARDING" \
        --balancer-admin "127.0.0.1:$ADMIN_PORT" "$@"
    MANAGER_PID=$PP_LAST_PID
}
api() { in_mid curl -sS --max-time 10 "$@"; }
ready_is() { [ "$(api "$API/v1/pool" 2>/dev/null | jq -r .ready)" = "$1" ]; }
pids() { api "$API/v1/pool" | jq -r '[.instances[] | "\(.id):\(.pid)"] | join(" ")'; }
# The chain and the jumps to it, as iptables-save prints them (no counters).
nat_rules() { in_mid iptables-legacy-save -t nat | grep -- "^-A.*$CHAIN" | sort; }
# Route's policy rules (either band, without the priority that alternates).
route_rules() { ip -n "$P-mid" rule show | awk -F':' '$1 == 7100 || $1 == 7101 { print $2 }' | sort; }
# What forwards: nat's rules; route's; the balancer's process and the VIP on lo.
forwarding() {
    if [ "$FORWARDING" = nat ]; then
        nat_rules
    elif [ "$FORWARDING" = route ]; then
        route_rules
    else
        echo "balancer $(cut -d' ' -f1 "$STATE/$MP-balancer.pid" 2>/dev/null)"
        ip -n "$P-mid" -o addr show dev lo | grep -c " 198.19.255.10/32 "
    fi
}
logs_adopted_forwarding() {
    if [ "$FORWARDING" = nat ]; then
        expect_match "$(cat "$PP_TMP/$1.log")" "nat: keeping chain $CHAIN" "$1 keeps the chain"
    elif [ "$FORWARDING" = route ]; then
        expect_match "$(cat "$PP_TMP/$1.log")" "route: keeping [0-9]+ rules" "$1 keeps the rules"
    else
        expect_match "$(cat "$PP_TMP/$1.log")" "balancer: adopted pid " "$1 adopts the balancer"
    fi
}
gone() { ! kill -0 "$1" 2>/dev/null; }

start_manager manager-1 2
pp_wait_until 20 ready_is 2 || pp_die "manager not ready: $(tail -5 "$PP_TMP/manager-1.log")"
before_pids=$(pids)
before_rules=$(forwarding)
if [ "$FORWARDING" = nat ]; then
    expect_eq "$(grep -c -- "-j $CHAIN" <<<"$before_rules")" 2 "one jump per hook"
fi

# Load: loadgen, four clients (one per address) with four connections each,
# keep-alive, for DURATION; the JSON says what failed.
LOADGEN=$PP_BIN/loadgen
start_load() {
    LOAD_JSON=$PP_TMP/load-$1.json
    "$LOADGEN" http://198.19.1.2/obj1m --proxy 198.19.255.10:3128 --testbed 4 --testbed-prefix "$P" \
        -c 4 --duration "$2" --timeout 3s --json "$LOAD_JSON" --quiet >"$PP_TMP/load-$1.out" 2>&1 &
    LOADER=$!
    pp_track "$LOADER"
    sleep 1
}
# check_load WHAT: no request failed, and some were answered.
check_load() {
    wait "$LOADER" || true
    local j=$LOAD_JSON
    [ -s "$j" ] || pp_die "loadgen wrote no summary: $(tail -3 "${j%.json}.out")"
    expect_ge "$(jq -r .ok "$j")" 100 "requests answered across $1"
    expect_eq "$(jq -r '.requests - .ok' "$j")" 0 "failed requests across $1 (errors: $(jq -c .errors "$j"))"
}

# 1. kill -9, then a new manager: it adopts.
start_load kill9 5s
kill -9 "$MANAGER_PID"
sleep 0.5
start_manager manager-2 2
pp_wait_until 20 ready_is 2 || pp_die "manager 2 not ready: $(tail -5 "$PP_TMP/manager-2.log")"
check_load "kill -9 and a new manager"
expect_eq "$(pids)" "$before_pids" "instance pids after kill -9 and a new manager"
expect_eq "$(grep -c "pool: adopted ${MP}[12] " "$PP_TMP/manager-2.log")" 2 "manager 2 logs both adopted"
expect_eq "$(forwarding)" "$before_rules" "forwarding after the adoption"
logs_adopted_forwarding manager-2

# 2. SIGUSR2: exits leaving the pool serving; the next one adopts.
start_load usr2 5s
kill -USR2 "$MANAGER_PID"
pp_wait_until 10 gone "$MANAGER_PID" || pp_die "manager 2 still running after SIGUSR2"
expect_match "$(cat "$PP_TMP/manager-2.log")" "SIGUSR2|User defined signal 2" "the exit is logged"
expect_eq "$(forwarding)" "$before_rules" "forwarding left in place by SIGUSR2"
sleep 0.5
start_manager manager-3 2 --keep-on-exit
pp_wait_until 20 ready_is 2 || pp_die "manager 3 not ready: $(tail -5 "$PP_TMP/manager-3.log")"
check_load "SIGUSR2 and a new manager"
expect_eq "$(pids)" "$before_pids" "instance pids after SIGUSR2 and a new manager"
expect_eq "$(grep -c "pool: adopted ${MP}[12] " "$PP_TMP/manager-3.log")" 2 "manager 3 logs both adopted"
logs_adopted_forwarding manager-3

# 3. --keep-on-exit: SIGTERM leaves the pool serving too.
start_load keep 5s
kill -TERM "$MANAGER_PID"
pp_wait_until 10 gone "$MANAGER_PID" || pp_die "manager 3 still running after SIGTERM"
sleep 0.5
start_manager manager-4 2
pp_wait_until 20 ready_is 2 || pp_die "manager 4 not ready: $(tail -5 "$PP_TMP/manager-4.log")"
check_load "--keep-on-exit, SIGTERM and a new manager"
expect_eq "$(pids)" "$before_pids" "instance pids after --keep-on-exit and a new manager"
expect_eq "$(forwarding)" "$before_rules" "forwarding after three restarts"
logs_adopted_forwarding manager-4

# 4. Reconciling to the configured count: adopted 2, --replicas 1.
kill -USR2 "$MANAGER_PID"
pp_wait_until 10 gone "$MANAGER_PID" || pp_die "manager 4 still running after SIGUSR2"
second=$(cut -d' ' -f1 "$STATE/${MP}2.pid")
start_manager manager-5 1
pp_wait_until 20 ready_is 1 || pp_die "manager 5 not ready: $(tail -5 "$PP_TMP/manager-5.log")"
pp_wait_until 10 gone "$second" || pp_die "the adopted instance above --replicas still runs"
expect_eq "$(pids)" "${before_pids%% *}" "instance 1 kept, same pid"
expect_match "$(cat "$PP_TMP/manager-5.log")" "pool: draining ${MP}2 " "instance 2 drained"
if [ "$FORWARDING" = nat ]; then
    expect_eq "$(nat_rules | grep -c -- "-j $CHAIN")" 2 "one jump per hook after the shrink"
elif [ "$FORWARDING" = balancer ]; then
    expect_eq "$(forwarding)" "$before_rules" "the same balancer after the shrink"
fi


# 5. Adopted 1, --replicas 2: one more is started beside it.
kill -USR2 "$MANAGER_PID"
pp_wait_until 10 gone "$MANAGER_PID" || pp_die "manager 5 still running after SIGUSR2"
start_manager manager-6 2
pp_wait_until 20 ready_is 2 || pp_die "manager 6 not ready: $(tail -5 "$PP_TMP/manager-6.log")"
expect_eq "$(pids | cut -d' ' -f1)" "${before_pids%% *}" "instance 1 adopted again, same pid"
expect_match "$(cat "$PP_TMP/manager-6.log")" "pool: started ${MP}2 " "instance 2 started anew"
expect_ne "$(pids | cut -d' ' -f2)" "${before_pids#* }" "instance 2 is a new process"
if [ "$FORWARDING" != balancer ]; then
    expect_eq "$(forwarding)" "$before_rules" "$FORWARDING rules for two instances again"
fi

# An adopted instance that dies is restarted as a child would be: its exit
# comes through its pidfd.
first=${before_pids%% *}
first=${first#*:}
kill -9 "$first"
restarted() { [ "$(api "$API/v1/pool" | jq -r '.instances[0].restarts')" = 1 ] && ready_is 2; }
pp_wait_until 20 restarted || pp_die "the adopted instance 1 was not restarted: $(tail -3 "$PP_TMP/manager-6.log")"
expect_match "$(cat "$PP_TMP/manager-6.log")" "pool: ${MP}1 died \\(exited; adopted" "its death is logged"
expect_ne "$(pids | cut -d' ' -f1)" "${before_pids%% *}" "instance 1 is a new process"
first=$(pids | cut -d' ' -f1)
first=${first#*:}

# 6. A plain SIGTERM still removes everything.
kill -TERM "$MANAGER_PID"
pp_wait_until 20 gone "$MANAGER_PID" || pp_die "manager 6 still running after SIGTERM"
pp_wait_until 10 gone "$first" || pp_die "instance 1 outlived a plain SIGTERM"
expect_eq "$(nat_rules | wc -l)" 0 "no nat rule after a plain SIGTERM"
expect_eq "$(route_rules | wc -l)" 0 "no route rule after a plain SIGTERM"
expect_eq "$(ip -n "$P-mid" -o addr show dev lo | grep -c " 198.19.255.10/32 " || true)" 0 "no VIP on lo after a plain SIGTERM"
expect_eq "$(find "$STATE" -name '*.pid' | wc -l)" 0 "pid files left"
