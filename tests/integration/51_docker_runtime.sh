#!/usr/bin/env bash
# The manager with --runtime docker against a private dockerd in the
# testbed's intermediate host: scale 1 -> 4 -> 1 through the REST API (the
# four started through concurrent Engine API calls while the manager's API
# keeps answering), a MISS then a HIT from a client through every container;
# every container labelled with the manager's prefix and slot and limited
# by --cpus/--memory; kill -9 of a container's process replaced and counted,
# its output kept in the instance's log when the container is removed;
# SIGTERM leaves no container, network or bridge with the manager's label.
# timeout: 240
# shellcheck source=tests/integration/docker_lib.sh
. "$(dirname "$0")/docker_lib.sh"

docker_testbed 1
start_manager manager --replicas 1
pp_wait_until 60 ready_is 1 || pp_die "manager not ready: $(tail -5 "$PP_TMP/manager.log")"
expect_eq "$(pool | jq -r .runtime)" docker "runtime"

# check_every_instance N ROUND: a MISS then a HIT through each of the N
# instances (their own object, so each MISS is theirs), at its address.
check_every_instance() {
    local n=$1 round=$2 got i name addr
    got=$(pool)
    expect_eq "$(jq -r .ready <<<"$got")" "$n" "ready instances"
    expect_eq "$(jq -r '.instances | length' <<<"$got")" "$n" "instances listed"
    for ((i = 0; i < n; i++)); do
        name=$(jq -r ".instances[$i].name" <<<"$got")
        addr=$(jq -r ".instances[$i].address" <<<"$got")
        expect_match "$addr" '^198\.19\.0\.[0-9]+:3128$' "address of $name on the manager's network"
        expect_eq "$(through 1 "$addr" "http://198.19.1.2/obj1m?$round-$name")" "MISS $name" "first request through $name"
        expect_eq "$(through 1 "$addr" "http://198.19.1.2/obj1m?$round-$name")" "HIT $name" "second request through $name"
    done
}
check_every_instance 1 a

# The container: our labels, the limits, the image, a user that is not root.
cid=$(dapi "/containers/json?$LABEL_FILTER" | jq -r '.[0].Id')
dapi "/containers/$cid/json" >"$PP_TMP/inspect.json"
expect_eq "$(jq -r '.Config.Labels["proxypool.slot"]' "$PP_TMP/inspect.json")" 1 "slot label"
expect_eq "$(jq -r .HostConfig.NanoCpus "$PP_TMP/inspect.json")" 1000000000 "--cpus 1 as NanoCpus"
expect_eq "$(jq -r .HostConfig.Memory "$PP_TMP/inspect.json")" 268435456 "--memory 256M"
expect_match "$(jq -r .Config.Image "$PP_TMP/inspect.json")" '^proxypool/proxyd:' "image"
expect_eq "$(jq -r .Config.User "$PP_TMP/inspect.json")" proxy "the image's user"
pid=$(jq -r .State.Pid "$PP_TMP/inspect.json")
expect_eq "$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")" 13 "proxyd runs as uid 13 (proxy)"
expect_eq "$(pool | jq -r '.instances[0].pid')" "$pid" "the instance's pid is the container's init"

# Scale to 4: while the three containers start (calls in flight), the
# manager's API answers and shows them starting.
api -X PUT -d '{"replicas": 4}' -o "$PP_TMP/put4.json" -w '%{http_code}' "$API/v1/pool" >"$PP_TMP/put4.code" &
put_pid=$!
saw_starting() { [ "$(pool | jq '[.instances[] | select(.state == "starting")] | length')" -ge 1 ]; }
pp_wait_until 20 saw_starting || pp_die "no instance seen starting: $(pool)"
t0=$(date +%s%N)
expect_eq "$(in_mid curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$API/healthz")" 200 "API answers during the scale"
expect_le "$((($(date +%s%N) - t0) / 1000000))" 2000 "API answer during the scale (ms)"
wait "$put_pid" || pp_die "PUT replicas=4 failed"
expect_eq "$(cat "$PP_TMP/put4.code")" 200 "PUT replicas=4"
expect_match "$(cat "$PP_TMP/manager.log")" "pool: starting ${MP}4" "spawns under way, logged"
check_every_instance 4 b
expect_eq "$(dapi "/containers/json?$LABEL_FILTER" | jq length)" 4 "4 running containers labelled"

out=$(api -X PUT -d '{"replicas": 1}' -o /dev/null -w '%{http_code}' "$API/v1/pool")
expect_eq "$out" 200 "PUT replicas=1"
check_every_instance 1 c
gone_but_one() { [ "$(labelled_containers)" = 1 ]; }
pp_wait_until 30 gone_but_one || pp_die "containers of the drained instances remain: $(labelled_containers)"

# kill -9 of the container's process: replaced and counted.
victim=$(pool | jq -r '.instances[0].pid')
kill -9 "$victim"
replaced() { [ "$(pool | jq -r '.instances[0].restarts')" = 1 ] && ready_is 1; }
pp_wait_until 60 replaced || pp_die "killed container not replaced: $(pool)"
expect_ne "$(pool | jq -r '.instances[0].pid')" "$victim" "new pid after kill -9"
expect_match "$(api "$API/metrics")" "manager_restarts_total 1" "metrics count the restart"
check_every_instance 1 d
pp_wait_until 30 gone_but_one || pp_die "the killed container was not removed: $(labelled_containers)"
# Its output went to the instance's log before it was removed.
kept_log() { grep -q "listening on 0.0.0.0:3128" "$STATE/${MP}1.log" 2>/dev/null; }
pp_wait_until 10 kept_log || pp_die "the killed container's output is not in $STATE/${MP}1.log"
expect_match "$(cat "$STATE/${MP}1.log")" "manager: the output of container ${MP}1-[0-9a-f]+, removed after its exit" "the log says whose output it is"

# SIGTERM: no container, network or bridge with our label left.
kill -TERM "$MANAGER_PID"
pp_wait_until 60 bash -c "! kill -0 $MANAGER_PID 2>/dev/null" || pp_die "manager still running after SIGTERM"
expect_eq "$(labelled_containers)" 0 "containers labelled $MP after SIGTERM"
expect_eq "$(labelled_networks)" 0 "networks labelled $MP after SIGTERM"
expect_eq "$(in_mid ip -o link show | grep -c "$MP" || true)" 0 "links of $MP in mid after SIGTERM"
expect_eq "$(find "$STATE" -name '*.pid' | wc -l)" 0 "pid files left"
expect_match "$(cat "$PP_TMP/manager.log")" "docker: removed network ${MP}br" "the network's removal is logged"
