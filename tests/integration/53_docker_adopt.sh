#!/usr/bin/env bash
# A manager restart with --runtime docker loses nothing: in the testbed,
# with a private dockerd in mid and nat forwarding, loadgen's four clients
# fetch through the VIP while the manager is killed with -9 and started
# again. The new manager adopts both running containers (same pids, the
# same DNAT rules) and no request fails. Then a container the next manager
# cannot adopt (its pid file is gone) is removed by its label at init and
# its slot started afresh; SIGTERM leaves no labelled container or network.
# timeout: 240
# shellcheck source=tests/integration/docker_lib.sh
. "$(dirname "$0")/docker_lib.sh"

CHAIN=$(echo "$MP" | tr '[:lower:]' '[:upper:]')-DNAT
docker_testbed 4
MANAGER_ARGS=(--forwarding nat --vip 198.19.255.10:3128 --clients 198.18.1.1-198.18.1.4)
start_manager manager-1 --replicas 2 "${MANAGER_ARGS[@]}"
pp_wait_until 60 ready_is 2 || pp_die "manager not ready: $(tail -5 "$PP_TMP/manager-1.log")"
pids() { pool | jq -r '[.instances[] | "\(.id):\(.pid)"] | join(" ")'; }
nat_rules() { in_mid iptables-legacy-save -t nat | grep -- "^-A.*$CHAIN" | sort; }
gone() { ! kill -0 "$1" 2>/dev/null; }
before_pids=$(pids)
before_rules=$(nat_rules)
expect_eq "$(grep -c -- "-j $CHAIN" <<<"$before_rules")" 2 "one jump per hook"
expect_match "$before_rules" "to-destination 198\.19\.0\.[0-9]+:3128" "DNAT to a container"

# Load: four clients (one per address), two connections each, keep-alive.
start_load() {
    LOAD_JSON=$PP_TMP/load-$1.json
    "$PP_BIN/loadgen" http://198.19.1.2/obj1m --proxy 198.19.255.10:3128 --testbed 4 \
        --testbed-prefix "$P" -c 2 --duration "$2" --timeout 5s --json "$LOAD_JSON" --quiet \
        >"$PP_TMP/load-$1.out" 2>&1 &
    LOADER=$!
    pp_track "$LOADER"
    sleep 1
}
check_load() {
    wait "$LOADER" || true
    [ -s "$LOAD_JSON" ] || pp_die "loadgen wrote no summary: $(tail -3 "${LOAD_JSON%.json}.out")"
    expect_ge "$(jq -r .ok "$LOAD_JSON")" 20 "requests answered across $1"
    expect_eq "$(jq -r '.requests - .ok' "$LOAD_JSON")" 0 "failed requests across $1 (errors: $(jq -c .errors "$LOAD_JSON"))"
}

# kill -9, then a new manager: it adopts both containers under load.
start_load kill9 8s
kill -9 "$MANAGER_PID"
sleep 0.5
for p in $before_pids; do
    kill -0 "${p#*:}" 2>/dev/null || pp_die "container pid ${p#*:} died with the manager (fail-static expected)"
done
start_manager manager-2 --replicas 2 "${MANAGER_ARGS[@]}"
pp_wait_until 60 ready_is 2 || pp_die "manager 2 not ready: $(tail -5 "$PP_TMP/manager-2.log")"
check_load "kill -9 and a new manager"
expect_eq "$(pids)" "$before_pids" "container pids after kill -9 and a new manager"
expect_eq "$(grep -c "pool: adopted ${MP}[12] " "$PP_TMP/manager-2.log")" 2 "manager 2 logs both adopted"
expect_eq "$(nat_rules)" "$before_rules" "DNAT rules after the adoption"
expect_match "$(cat "$PP_TMP/manager-2.log")" "docker: adopted bridge network ${MP}br" "the network is adopted"
expect_eq "$(labelled_containers)" 2 "labelled containers after the adoption"

# kill -9 again, and instance 2's pid file goes: the next manager cannot
# adopt its container, so init removes it by its label and starts slot 2
# anew.
kill -9 "$MANAGER_PID"
pp_wait_until 10 gone "$MANAGER_PID" || pp_die "manager 2 still running after kill -9"
second=$(cut -d' ' -f1 "$STATE/${MP}2.pid")
rm -f "$STATE/${MP}2.pid"
start_manager manager-3 --replicas 2 "${MANAGER_ARGS[@]}"
pp_wait_until 60 ready_is 2 || pp_die "manager 3 not ready: $(tail -5 "$PP_TMP/manager-3.log")"
expect_match "$(cat "$PP_TMP/manager-3.log")" "docker: removed container [0-9a-f]+ \\(slot 2\\) left by an earlier run" "the unadopted container removed by label"
pp_wait_until 10 gone "$second" || pp_die "the unadopted container's process still runs"
expect_eq "$(pids | cut -d' ' -f1)" "${before_pids%% *}" "instance 1 adopted again, same pid"
expect_ne "$(pids | cut -d' ' -f2)" "${before_pids#* }" "instance 2 is a new container"
expect_eq "$(labelled_containers)" 2 "labelled containers: the adopted one and the new one"
for k in 1 4; do
    code=$(tb exec "client-$k" -- curl -sS --max-time 15 -o /dev/null -w '%{http_code}' -x http://198.19.255.10:3128 http://198.19.1.2/obj1m)
    expect_eq "$code" 200 "client $k through the VIP after the restart"
done

kill -TERM "$MANAGER_PID"
pp_wait_until 60 gone "$MANAGER_PID" || pp_die "manager 3 still running after SIGTERM"
expect_eq "$(labelled_containers)" 0 "containers labelled $MP after SIGTERM"
expect_eq "$(labelled_networks)" 0 "networks labelled $MP after SIGTERM"
expect_eq "$(nat_rules | wc -l)" 0 "no nat rule after SIGTERM"
expect_eq "$(find "$STATE" -name '*.pid' | wc -l)" 0 "pid files left"
