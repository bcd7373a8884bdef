#!/usr/bin/env bash
# The manager with --runtime swarm on a two-node Swarm: the testbed's mid
# runs the manager node, a second daemon in a namespace of its own (a veth
# to mid, no link to the host's network) joins as a worker. A pool of 4
# spreads over both nodes (the tasks' NodeID), and every task answers a
# MISS then a HIT through the balancer's VIP; the instances on node 2 are
# reached at node 2's address. Measured, not asserted: whether a task on
# one node reaches a task on the other over the overlay network (VXLAN);
# the pool does not need it (the balancer reaches tasks at their node's
# published ports). SIGTERM leaves no service, network or container on
# either node.
# timeout: 360
# shellcheck source=tests/integration/swarm_lib.sh
. "$(dirname "$0")/swarm_lib.sh"

swarm_testbed 1
swarm_node2
dapi /nodes >"$PP_TMP/nodes.json"
expect_eq "$(jq length "$PP_TMP/nodes.json")" 2 "nodes in the swarm"
expect_eq "$(jq -r '[.[] | select(.Status.State == "ready")] | length' "$PP_TMP/nodes.json")" 2 "nodes ready"

start_swarm_manager manager --replicas 4
pp_wait_until 150 ready_is 4 || pp_die "manager not ready at 4: $(tail -5 "$PP_TMP/manager.log")"
expect_eq "$(running_tasks | awk '{ print $2 }' | sort -u | wc -l)" 2 "nodes running the pool's 4 tasks"
expect_eq "$(dapi2 '/containers/json' | jq length)" "$(running_tasks | grep -c "$(jq -r '.[] | select(.Spec.Role == "worker") | .ID' "$PP_TMP/nodes.json")" || true)" "node 2's containers are its tasks"
expect_match "$(pool | jq -r '[.instances[].address] | join(" ")')" '198\.19\.2\.2:[0-9]+' "instances at node 2's address"
check_every_task 4 "http://198.19.1.2/obj1m?two"

# The overlay between the nodes, measured: a task of node 1 asks a task of
# node 2 for its /healthz at its overlay address.
pid1=$(dapi "/containers/$(dapi '/containers/json' | jq -r '.[0].Id')/json" | jq -r .State.Pid)
addr2=$(dapi2 "/containers/$(dapi2 '/containers/json' | jq -r '.[0].Id')/json" | jq -r ".NetworkSettings.Networks[\"${MP}net\"].IPAddress")
if nsenter --net="/proc/$pid1/ns/net" curl -sS --max-time 3 -o /dev/null "http://$addr2:9101/healthz" 2>"$PP_TMP/overlay.err"; then
    pp_log "overlay: a task on node 1 reached a task on node 2 at $addr2 (VXLAN works here)"
else
    pp_log "overlay: a task on node 1 did not reach node 2's task at $addr2: $(cat "$PP_TMP/overlay.err") (docs/swarm.md)"
fi

kill -TERM "$MANAGER_PID"
pp_wait_until 90 bash -c "! kill -0 $MANAGER_PID 2>/dev/null" || pp_die "manager still running after SIGTERM"
expect_eq "$(labelled_services)" 0 "services labelled $MP after SIGTERM"
expect_eq "$(labelled_networks)" 0 "networks labelled $MP after SIGTERM"
no_containers() { [ "$(dapi '/containers/json?all=1' | jq length)" = 0 ] && [ "$(dapi2 '/containers/json?all=1' | jq length)" = 0 ]; }
pp_wait_until 30 no_containers || pp_die "containers left on a node"

# The second daemon's down removes its namespace and the link in mid.
"$DOCKERD" --name "$NODE2" down --purge >/dev/null
expect_eq "$(ip netns list | grep -c "^$P-node2\b" || true)" 0 "node 2's namespace after down"
expect_eq "$(in_mid ip -o link show | grep -c "$NODE2-sw" || true)" 0 "node 2's link in mid after down"
pp_log "swarm two nodes: 4 tasks over 2 nodes, each a MISS then a HIT through the VIP"
