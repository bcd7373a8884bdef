#!/usr/bin/env bash
# Crash consistency of a scale step: a manager killed (SIGKILL, no
# cleanup) at any named point of a step never leaves a state from which
# the next start fails, serves wrongly or installs a duplicate. For each
# crash point (manager/crashpoint.c's table, listed by the hooks build
# with PP_TEST_CRASH_AT=list and checked against every PP_CRASH_POINT in
# the sources, so a new point cannot be missed) in the first forwarding
# mode it applies to, in the testbed: a manager with PP_TEST_CRASH_AT=point
# runs the step that reaches it (start; up: 1 -> 2; down: 2 -> 1) and dies
# there (its log's marker line); a normal manager over the same state dir
# and prefix must start, reach the step's target replicas, answer a client
# of every instance through the VIP, and leave in the kernel no duplicate
# (DNAT rules per source, one jump per hook; ip rules per priority and
# source or fwmark, one band; the balancer's backend names) and nothing of
# a slot that is not in use (pid file, worker process, veth, cgroup, route
# table); then a SIGTERM removes everything. nat and balancer run the
# process runtime, route the container runtime.
# PP_CRASH_MODES="nat route balancer" (default) narrows the modes (make
# asan runs nat alone; the points of no mode left are logged as not run);
# PP_CRASH_ONLY="point ..." runs only the points named.
# The hooks exist only in a -DPP_TEST_HOOKS build: PP_BUILD's when it has
# them (make asan), else build-hooks/ (built here once, incrementally).
# timeout: 900
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_need_root "network namespaces"
pp_need_tool iptables-legacy-save "make deps installs iptables"
MODES=${PP_CRASH_MODES:-nat route balancer}

# ---- a manager with the crash hooks
HOOKED=$PP_BIN
if ! grep -qF PP_TEST_CRASH_AT "$PP_BIN/manager" 2>/dev/null; then
    HOOKED=$PP_REPO/build-hooks/bin
    pp_log "$PP_BIN/manager has no test hooks: building $PP_REPO/build-hooks with -DPP_TEST_HOOKS"
    make -C "$PP_REPO" --no-print-directory -j2 BUILD=build-hooks EXTRA_CFLAGS=-DPP_TEST_HOOKS \
        build-hooks/bin/manager build-hooks/bin/proxyd build-hooks/bin/balancer >"$PP_TMP/make-hooks.out" 2>&1 ||
        pp_die "building the hooks build failed: $(tail -5 "$PP_TMP/make-hooks.out")"
fi
grep -qF PP_TEST_CRASH_AT "$HOOKED/manager" || pp_die "$HOOKED/manager has no crash points"
PP_TEST_CRASH_AT=list "$HOOKED/manager" >"$PP_TMP/points.txt"
listed=$(awk '{ print $1 }' "$PP_TMP/points.txt" | sort)
in_sources=$(grep -rhoE 'PP_CRASH_POINT\("[a-z_.]+"\)' "$PP_REPO/manager" | sed 's/.*("\(.*\)")/\1/' | sort -u)
expect_eq "$listed" "$in_sources" "crash points in the table = PP_CRASH_POINT names in manager/"
expect_ge "$(wc -l <"$PP_TMP/points.txt")" 20 "crash points listed"

# ---- the testbed
TESTBED=$PP_REPO/deploy/testbed
P=k$(($$ % 10000000))
MP=k$(($$ % 1000))
CHAIN=$(echo "$MP" | tr '[:lower:]' '[:upper:]')-DNAT
VIP=198.19.255.10
cleanup_prefix() { # processes by cgroup, then the groups (container runtime)
    local d
    for d in $(find /sys/fs/cgroup -maxdepth 3 -type d -name "$MP*" | sort -r); do
        xargs -r kill -KILL <"$d/cgroup.procs" 2>/dev/null || true
    done
    sleep 0.2
    find /sys/fs/cgroup -maxdepth 3 -depth -type d -name "$MP*" -exec rmdir {} \; 2>/dev/null || true
}
pp_on_cleanup "$(printf '%q' "$TESTBED") --prefix $P down >/dev/null 2>&1 || true"
pp_on_cleanup cleanup_prefix
pp_on_cleanup "rm -f /run/proxypool/prefixes/$MP.lock" # flock'd while a manager runs, empty after
tb() { "$TESTBED" --prefix "$P" "$@"; }
in_mid() { nsenter --net="/run/netns/$P-mid" "$@"; }
tb up --clients 64 >/dev/null
API_PORT=$(pp_free_port)
API=http://127.0.0.1:$API_PORT
BASE=$(pp_free_port)
ADMIN_PORT=$(pp_free_port)

# start_manager NAME MODE REPLICAS STATE [VAR=VALUE]: a manager in mid.
start_manager() {
    local name=$1 mode=$2 n=$3 state=$4 bin=$HOOKED
    shift 4
    local args=(--replicas "$n" --api "127.0.0.1:$API_PORT" --state-dir "$state" --prefix "$MP"
        --forwarding "$mode" --vip "$VIP:3128" --clients 198.18.1.1-198.18.1.64
        --drain-timeout 2s --proxy-arg=--cache-mem=16M)
    case $mode in
        route) args+=(--runtime container --subnet 198.19.0.0/24 --bridge "${MP}br") ;;
        *) args+=(--runtime process --process-addr 198.18.0.1 --base-port "$BASE") ;;
    esac
    # proxyd and the balancer: the hooks build's, beside its manager
    if [ "$mode" = balancer ]; then args+=(--balancer-admin "127.0.0.1:$ADMIN_PORT"); fi
    pp_bg "$name" env "$@" nsenter --net="/run/netns/$P-mid" "$bin/manager" "${args[@]}"
    MANAGER_PID=$PP_LAST_PID
}
api() { in_mid curl -sS --max-time 30 -H "@$(pp_api_headers "$STATE/api.token")" "$@"; }
pool_is() { # N: N replicas asked for, N instances, all ready
    local j
    j=$(api "$API/v1/pool" 2>/dev/null) || return 1
    [ "$(jq -r '"\(.replicas) \(.ready) \(.instances | length)"' <<<"$j")" = "$1 $1 $1" ]
}
dead() { ! kill -0 "$1" 2>/dev/null; }
# through K [N]: the instances that answered N (default 1) requests of
# client K through the VIP, one line each. One curl for the lot, each
# request on a connection of its own (the balancer picks a backend per
# connection), straight in the client's namespace: a process per request
# (tb exec's bash, nsenter, curl, a pipeline) cost more than the requests
# themselves, seconds per point on a loaded host.
through() {
    local k=$1 n=${2:-1} args=()
    for _ in $(seq 1 "$n"); do args+=(-o /dev/null http://198.19.1.2/obj1m); done
    nsenter --net="/run/netns/$P-c$k" curl -sS --max-time 10 -H 'Connection: close' \
        -w '%header{x-cache}\n' -x "http://$VIP:3128" "${args[@]}" 2>/dev/null |
        tr -d '\r' | sed -E 's/^(HIT|MISS) from //' | grep . || true
}

# served_by_every N MODE: a client of each of instances 1..N is answered
# by it (nat, route: client 1 by 1, client 64 by N); the balancer spreads
# requests, so 40 requests from a few clients must reach every instance.
served_by_every() {
    local n=$1 mode=$2 k seen="" pids=()
    if [ "$mode" = balancer ]; then
        # ten clients at once, four requests each
        for k in $(seq 2 11); do
            through "$k" 4 >"$PP_TMP/through.$k" &
            pids+=($!)
        done
        wait "${pids[@]}" || true
        seen=$(cat "$PP_TMP"/through.*)
        rm -f "$PP_TMP"/through.*
        for k in $(seq 1 "$n"); do
            expect_ge "$(grep -cx "$MP$k" <<<"$seen" || true)" 1 "$WHAT: requests answered by $MP$k"
        done
        expect_eq "$(grep -c . <<<"$seen")" 40 "$WHAT: answered requests of 40"
        return
    fi
    expect_eq "$(through 1)" "${MP}1" "$WHAT: client 1 through the VIP"
    expect_eq "$(through 64)" "$MP$n" "$WHAT: client 64 through the VIP"
}

# no_duplicates_or_leftovers N MODE: the kernel and the state dir hold
# exactly what instances 1..N need.
no_duplicates_or_leftovers() {
    local n=$1 mode=$2 f id pids ours
    # pid files: one per instance 1..N, each naming a live process
    ours=$(cd "$STATE" && find . -maxdepth 1 -regex "\./${MP}[0-9]+\.pid" | sed "s|^\./$MP||; s|\.pid$||" | sort -n | tr '\n' ' ')
    expect_eq "$ours" "$(seq -s ' ' 1 "$n") " "$WHAT: instance pid files"
    for f in "$STATE/$MP"[0-9]*.pid; do
        expect_eq "$(pp_alive "$(awk '{ print $1 }' "$f")" && echo alive)" alive "$WHAT: the process of $(basename "$f")"
    done
    case $mode in
        nat | balancer)
            # worker processes named for the prefix: one per instance
            pids=$(pgrep -f -- "--name ${MP}[0-9]+( |\$)" | sort | tr '\n' ' ' || true)
            expect_eq "$(wc -w <<<"$pids")" "$n" "$WHAT: proxyd processes of the prefix ($pids)"
            ;;
        route)
            expect_eq "$(ip -n "$P-mid" -o link show | grep -cE ": ${MP}v[0-9]+@" || true)" "$n" "$WHAT: veths"
            # by name (cgroup v1 has one per controller hierarchy): the
            # instances', and each in as many hierarchies as the others
            local groups
            groups=$(find /sys/fs/cgroup -maxdepth 3 -type d -name "${MP}[0-9]*" -printf '%f\n' | sort)
            expect_eq "$(uniq <<<"$groups" | tr '\n' ' ')" "$(for id in $(seq 1 "$n"); do printf '%s%d ' "$MP" "$id"; done)" "$WHAT: cgroups"
            expect_eq "$(uniq -c <<<"$groups" | awk '{ print $1 }' | sort -u | wc -l)" 1 "$WHAT: every cgroup in every hierarchy"
            ;;
    esac
    case $mode in
        nat)
            local saved
            saved=$(in_mid iptables-legacy-save -t nat)
            expect_eq "$(grep -- "^-A $CHAIN " <<<"$saved" | sort | uniq -d)" "" "$WHAT: duplicate DNAT rules"
            expect_eq "$(grep -- "^-A $CHAIN " <<<"$saved" | awk '{ print $4 }' | sort | uniq -d)" "" "$WHAT: sources with two DNAT rules"
            expect_eq "$(grep -- "^-A $CHAIN " <<<"$saved" | sed 's/.*--to-destination //' | sort -u | tr '\n' ' ')" \
                "$(for id in $(seq 1 "$n"); do printf '198.18.0.1:%d ' $((BASE + id)); done)" "$WHAT: DNAT destinations"
            expect_eq "$(grep -c -- "^-A PREROUTING .*-j $CHAIN\$" <<<"$saved")" 1 "$WHAT: jumps from PREROUTING"
            expect_eq "$(grep -c -- "^-A OUTPUT .*-j $CHAIN\$" <<<"$saved")" 1 "$WHAT: jumps from OUTPUT"
            ;;
        route)
            local rules
            rules=$(ip -n "$P-mid" rule show | grep -E '^71[0-9][0-9]:' || true)
            expect_eq "$(sort <<<"$rules" | uniq -d)" "" "$WHAT: duplicate ip rules"
            expect_eq "$(grep -E '^710[01]:' <<<"$rules" | cut -d: -f1 | sort -u | wc -l)" 1 "$WHAT: bands in use"
            expect_eq "$(grep -E '^710[01]:' <<<"$rules" | awk '{ print $3 }' | sort | uniq -d)" "" "$WHAT: sources with two rules"
            expect_eq "$(grep -oE 'lookup 71[0-9][0-9]' <<<"$rules" | sort -u | tr '\n' ' ')" \
                "$(for id in $(seq 1 "$n"); do printf 'lookup %d ' $((7100 + id)); done)" "$WHAT: tables looked up"
            # routes per table, all tables in one listing (one ip per
            # table cost seconds a point)
            local -A in_table=()
            local t c
            while read -r t c; do in_table[$t]=$c; done < <(ip -n "$P-mid" route show table all |
                awk '{ for (i = 1; i < NF; i++) if ($i == "table") n[$(i + 1)]++ } END { for (t in n) print t, n[t] }')
            for id in $(seq 1 32); do
                local routes=${in_table[$((7100 + id))]:-0}
                if [ "$id" -le "$n" ]; then
                    expect_eq "$routes" 1 "$WHAT: routes in table $((7100 + id))"
                else
                    [ "$routes" = 0 ] || expect_eq "$routes" 0 "$WHAT: routes in table $((7100 + id)) (no instance)"
                fi
            done
            ;;
        balancer)
            local names
            names=$(in_mid curl -sS --max-time 10 -H "@$(pp_api_headers "$STATE/api.token")" \
                "http://127.0.0.1:$ADMIN_PORT/v1/backends" | jq -r '.backends[] | select(.removed != true) | .name' | sort)
            expect_eq "$(uniq -d <<<"$names")" "" "$WHAT: duplicate backends"
            expect_eq "$(tr '\n' ' ' <<<"$names")" "$(for id in $(seq 1 "$n"); do printf '%s%d ' "$MP" "$id"; done)" "$WHAT: the balancer's backends"
            expect_eq "$(pgrep -fc -- "--admin 127.0.0.1:$ADMIN_PORT" || true)" 1 "$WHAT: balancer processes"
            ;;
    esac
}

# all_gone MODE: after the recovering manager's SIGTERM, nothing of ours.
all_gone() {
    local mode=$1
    expect_eq "$(find "$STATE" -maxdepth 1 -name '*.pid' | wc -l)" 0 "$WHAT: pid files after SIGTERM"
    expect_eq "$(pgrep -fc -- "--name ${MP}[0-9]+( |\$)" || true)" 0 "$WHAT: proxyd processes after SIGTERM"
    expect_eq "$(in_mid iptables-legacy-save -t nat | grep -c -- "$CHAIN" || true)" 0 "$WHAT: nat rules after SIGTERM"
    expect_eq "$(ip -n "$P-mid" rule show | grep -cE '^71[0-9][0-9]:' || true)" 0 "$WHAT: ip rules after SIGTERM"
    expect_eq "$(find /sys/fs/cgroup -maxdepth 3 -type d -name "${MP}[0-9]*" | wc -l)" 0 "$WHAT: cgroups after SIGTERM"
}

# crash_at MODE POINT TRIGGER: one crash and one recovery.
crash_at() {
    local mode=$1 point=$2 trigger=$3 from to
    case $trigger in
        start) from=2 to=2 ;;
        up) from=1 to=2 ;;
        down) from=2 to=1 ;;
    esac
    WHAT="$point ($mode)"
    STATE=$PP_TMP/state-$point
    local t0=$SECONDS
    start_manager "crash-$point" "$mode" "$from" "$STATE" PP_TEST_CRASH_AT="$point"
    local crashed=$MANAGER_PID
    if [ "$trigger" != start ]; then
        pp_wait_until 30 pool_is "$from" || pp_die "$WHAT: the crashing manager never had $from ready: $(tail -5 "$PP_TMP/crash-$point.log")"
        api -X PUT -d "{\"replicas\": $to}" -o /dev/null "$API/v1/pool" 2>/dev/null || true
    fi
    pp_wait_until 30 dead "$crashed" || pp_die "$WHAT: the manager did not crash: $(tail -5 "$PP_TMP/crash-$point.log")"
    local t1=$SECONDS
    expect_match "$(cat "$PP_TMP/crash-$point.log")" "PP_TEST_CRASH_AT: crashing at ${point//./\\.}(\$|[[:space:]])" "$WHAT: died at the point"
    start_manager "after-$point" "$mode" "$to" "$STATE"
    local after=$MANAGER_PID
    pp_wait_until 30 pool_is "$to" || pp_die "$WHAT: the next manager never had $to ready: $(tail -8 "$PP_TMP/after-$point.log")"
    local t2=$SECONDS
    served_by_every "$to" "$mode"
    local t3=$SECONDS
    no_duplicates_or_leftovers "$to" "$mode"
    local t4=$SECONDS
    kill -TERM "$after"
    pp_wait_until 30 dead "$after" || pp_die "$WHAT: the next manager did not exit on SIGTERM"
    local t5=$SECONDS
    all_gone "$mode"
    pp_log "$WHAT: crashed and recovered in $((SECONDS - t0)) s (crash $((t1 - t0)), ready $((t2 - t1)), served $((t3 - t2)), kernel $((t4 - t3)), exit $((t5 - t4)), gone $((SECONDS - t5)))"
}

# Each point in the first of its modes that this run covers.
ran=0
for mode in $MODES; do
    while read -r -u 3 point trigger modes; do
        first=""
        for m in ${modes//,/ }; do
            case " $MODES " in *" $m "*) first=$m && break ;; esac
        done
        [ "$first" = "$mode" ] || continue
        if [ -n "${PP_CRASH_ONLY:-}" ]; then
            case " $PP_CRASH_ONLY " in *" $point "*) ;; *) continue ;; esac
        fi
        crash_at "$mode" "$point" "$trigger"
        ran=$((ran + 1))
    done 3<"$PP_TMP/points.txt"
done
# What a narrowed run (PP_CRASH_MODES, as make asan's) left out: the points
# none of whose modes it covers.
skipped=""
while read -r point trigger modes; do
    covered=""
    for m in ${modes//,/ }; do
        case " $MODES " in *" $m "*) covered=yes ;; esac
    done
    [ -n "$covered" ] || skipped+=" $point ($modes)"
done <"$PP_TMP/points.txt"
pp_log "$ran crash points run in: $MODES"
[ -z "$skipped" ] || pp_log "not run, no mode of theirs in PP_CRASH_MODES='$MODES':$skipped"
[ "$PP_FAILED" = 0 ] && pp_log PASS
