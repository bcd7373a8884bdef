#!/usr/bin/env bash
# The manager with --runtime swarm on a one-node Swarm (a private dockerd in
# the testbed's mid, made a manager): the pool is one service labelled with
# the manager's prefix, endpoint mode dnsrr, ports published in host mode;
# the missing IPVS (no routing mesh) is detected and logged; scale 1 -> 3 -> 1
# through the REST API with a MISS then a HIT through the balancer's VIP
# from every task; kill -9 of a task's process seen through the API and the
# slot restarted and reached through the VIP at its new ports; SIGTERM leaves
# no service, network or container.
# timeout: 300
# shellcheck source=tests/integration/swarm_lib.sh
. "$(dirname "$0")/swarm_lib.sh"

swarm_testbed 1
start_manager_log=$PP_TMP/manager.log
start_swarm_manager manager --replicas 1
pp_wait_until 90 ready_is 1 || pp_die "manager not ready: $(tail -5 "$start_manager_log")"
expect_eq "$(pool | jq -r .runtime)" swarm "runtime"
if [ -e /proc/net/ip_vs ]; then
    expect_match "$(cat "$start_manager_log")" "swarm: IPVS is present" "IPVS presence logged"
else
    expect_match "$(cat "$start_manager_log")" "swarm: this kernel has no IPVS" "IPVS absence logged"
fi

# The service: ours, dnsrr, host-mode ports, the image, the limits.
expect_eq "$(labelled_services)" 1 "services labelled $MP"
dapi "/services/$MP" >"$PP_TMP/service.json"
expect_eq "$(jq -r .Spec.EndpointSpec.Mode "$PP_TMP/service.json")" dnsrr "endpoint mode"
expect_eq "$(jq -r '[.Spec.EndpointSpec.Ports[].PublishMode] | unique | join(",")' "$PP_TMP/service.json")" host "ports published in host mode"
expect_match "$(jq -r .Spec.TaskTemplate.ContainerSpec.Image "$PP_TMP/service.json")" '^proxypool/proxyd:' "image"
expect_eq "$(jq -r .Spec.TaskTemplate.Resources.Limits.MemoryBytes "$PP_TMP/service.json")" 268435456 "--memory 256M"
expect_eq "$(jq -r .Spec.Mode.Replicated.Replicas "$PP_TMP/service.json")" 1 "replicas"
expect_match "$(pool | jq -r '.instances[0].address')" '^198\.19\.1\.1:[0-9]+$' "the task at its node's address and published port"
check_every_task 1 "http://198.19.1.2/obj1m?a"

out=$(api -X PUT -d '{"replicas": 3}' -o /dev/null -w '%{http_code}' "$API/v1/pool")
expect_eq "$out" 200 "PUT replicas=3"
expect_eq "$(pool | jq -r .ready)" 3 "ready after the scale to 3"
expect_eq "$(dapi "/services/$MP" | jq -r .Spec.Mode.Replicated.Replicas)" 3 "service replicas"
expect_match "$(cat "$start_manager_log")" "swarm: service $MP scaled to 3 replicas" "the versioned update logged"
check_every_task 3 "http://198.19.1.2/obj1m?b"

out=$(api -X PUT -d '{"replicas": 1}' -o /dev/null -w '%{http_code}' "$API/v1/pool")
expect_eq "$out" 200 "PUT replicas=1"
expect_eq "$(dapi "/services/$MP" | jq -r .Spec.Mode.Replicated.Replicas)" 1 "service replicas"
one_task() { [ "$(running_tasks | wc -l)" = 1 ] && ready_is 1; }
pp_wait_until 60 one_task || pp_die "not down to one task: $(running_tasks) $(pool)"
check_every_task 1 "http://198.19.1.2/obj1m?c"
expect_eq "$(grep -c "swarm: ${MP}[23] leaves" "$start_manager_log")" 2 "two slots left on the scale-down"
# Which tasks Swarm removed is its choice: logged, not asserted.
pp_log "scale-down: $(grep -cE "ended \(scaled down\)" "$start_manager_log") slot(s) ended with their own task, $(grep -c "kept by Swarm" "$start_manager_log") handed theirs over"

# kill -9 of the task's proxyd (its container's init, on this node): the
# poll sees the task end, the pool restarts the slot, counted, and it serves.
cid=$(dapi "/containers/json?$LABEL_FILTER" | jq -r '.[0].Id')
victim=$(dapi "/containers/$cid/json" | jq -r .State.Pid)
expect_match "$victim" '^[0-9]+$' "the task's process"
kill -9 "$victim"
replaced() { [ "$(pool | jq -r '.instances[0].restarts')" = 1 ] && ready_is 1; }
pp_wait_until 90 replaced || pp_die "killed task not replaced: $(pool)"
expect_match "$(cat "$start_manager_log")" "swarm: ${MP}1's task [0-9a-z]+: no longer runs" "the task's end seen through the API"
expect_match "$(api "$API/metrics")" "manager_restarts_total 1" "metrics count the restart"
single_task() { [ "$(running_tasks | wc -l)" = 1 ]; }
pp_wait_until 60 single_task || pp_die "not one task after the restart: $(running_tasks)"
# The restarted task has new published ports: the manager reconciles the
# balancer as soon as the slot is ready at them, so the VIP reaches it.
addr=$(pool | jq -r '.instances[0].address')
expect_match "$addr" '^198\.19\.1\.1:[0-9]+$' "the restarted task's address"
expect_match "$(cat "$start_manager_log")" "steer: ${MP}1 is now at $addr: reconciling balancer now" "the new address reconciled at once"
task=$(running_tasks | awk -v s="$MP" '{ print s "-" $1 }')
vip_reaches() { [ "$(through 1 "$VIP" "http://198.19.1.2/obj1m?d")" = "MISS $task" ]; }
pp_wait_until 10 vip_reaches || pp_die "the VIP does not reach the restarted task: $(through 1 "$VIP" "http://198.19.1.2/obj1m?d0")"
expect_eq "$(through 1 "$VIP" "http://198.19.1.2/obj1m?d")" "HIT $task" "second request through the VIP to the restarted task"

# SIGTERM: no service, network or container with our label left.
kill -TERM "$MANAGER_PID"
pp_wait_until 90 bash -c "! kill -0 $MANAGER_PID 2>/dev/null" || pp_die "manager still running after SIGTERM"
expect_eq "$(labelled_services)" 0 "services labelled $MP after SIGTERM"
expect_eq "$(labelled_networks)" 0 "networks labelled $MP after SIGTERM"
no_containers() { [ "$(dapi '/containers/json?all=1' | jq length)" = 0 ]; }
pp_wait_until 30 no_containers || pp_die "containers left: $(dapi '/containers/json?all=1' | jq -r '.[].Names[0]')"
expect_match "$(cat "$start_manager_log")" "swarm: removed network ${MP}net" "the network's removal is logged"
pp_log "swarm single node: 1 -> 3 -> 1, every task a MISS then a HIT through the VIP"
