# shellcheck shell=bash disable=SC2034 # sets variables for the scenarios
# What the swarm scenarios (54_swarm_single.sh, 55_swarm_two_nodes.sh) share,
# on top of docker_lib.sh (a testbed of their own, a private dockerd in its
# mid, proxyd's image): the daemon made a Swarm manager advertising mid's
# 198.19.1.1, optionally a second daemon in a namespace of its own joined as
# a worker, and the manager in mid with --runtime swarm behind its balancer
# (round robin, so that consecutive connections visit every task).
# shellcheck source=tests/integration/docker_lib.sh
. "$(dirname "$0")/docker_lib.sh"

NODE2=${P}n2 # the second daemon's name; its namespace is $P-node2
SOCK2=/run/proxypool/dockerd-$NODE2.sock
VIP=198.19.255.10:3128
# {"label":["proxypool.prefix=MP"]} is LABEL_FILTER; {"service":["MP"]}:
SERVICE_FILTER="filters=%7B%22service%22%3A%5B%22$MP%22%5D%7D"
dapi2() { curl -sS --max-time 30 --unix-socket "$SOCK2" "http://docker/v1.41$1"; }
labelled_services() { dapi "/services?$LABEL_FILTER" | jq length; }
# The running tasks of the manager's service: "SLOT NODEID" lines.
running_tasks() {
    dapi "/tasks?$SERVICE_FILTER" | jq -r '.[] | select(.Status.State == "running" and .DesiredState == "running") | "\(.Slot) \(.NodeID)"' | sort -n
}

# swarm_testbed CLIENTS: the testbed, the daemon made a Swarm manager, the
# image in it.
swarm_testbed() {
    tb up --clients "$1" >/dev/null
    "$DOCKERD" --name "$P" --swarm-init 198.19.1.1 up >"$PP_TMP/dockerd-up.log" 2>&1 ||
        pp_die "deploy/dockerd up --swarm-init failed: $(cat "$PP_TMP/dockerd-up.log")"
    PP_SCAN_ALSO+=("/var/lib/proxypool/dockerd-$P.log")
    "$PP_REPO/deploy/images.sh" --socket "$SOCK" --build "$PP_BUILD" >"$PP_TMP/images.log" 2>&1 ||
        pp_die "deploy/images.sh failed: $(cat "$PP_TMP/images.log")"
}

# swarm_node2: a second daemon in namespace $P-node2 (veth to mid,
# 198.19.2.0/24, nothing else), joined as a worker, with the image; mid
# routes its docker_gwbridge (its tasks' way to the origin) through it.
swarm_node2() {
    # Runs before the first daemon's cleanup (last registered first).
    pp_on_cleanup "$(printf '%q' "$DOCKERD") --name $NODE2 down --purge >/dev/null 2>&1 || true"
    "$DOCKERD" --name "$NODE2" --netns "$P-node2" --new-netns --link-to "$P-mid" \
        --link-addrs 198.19.2.1/24,198.19.2.2/24 --gwbridge-subnet 172.31.0.0/16 \
        --swarm-join "$P" --advertise 198.19.2.2 up >"$PP_TMP/dockerd-node2.log" 2>&1 ||
        pp_die "second daemon failed: $(cat "$PP_TMP/dockerd-node2.log")"
    PP_SCAN_ALSO+=("/var/lib/proxypool/dockerd-$NODE2.log")
    "$PP_REPO/deploy/images.sh" --socket "$SOCK2" --build "$PP_BUILD" >"$PP_TMP/images2.log" 2>&1 ||
        pp_die "deploy/images.sh on node 2 failed: $(cat "$PP_TMP/images2.log")"
    in_mid ip route add 172.31.0.0/16 via 198.19.2.2
}

# start_swarm_manager NAME ARGS...: the manager in mid, swarm runtime,
# balancer forwarding.
start_swarm_manager() {
    local name=$1
    shift
    pp_bg "$name" nsenter --net="/run/netns/$P-mid" "$PP_BIN/manager" --runtime swarm \
        --docker-socket "$SOCK" --api "127.0.0.1:$API_PORT" --state-dir "$STATE" --prefix "$MP" \
        --bridge "${MP}net" --subnet 198.19.0.0/24 --cpus 1 --memory 256M --drain-timeout 5s \
        --forwarding balancer --vip "$VIP" --balancer-algo roundrobin \
        --proxy-arg=--cache-mem=16M "$@"
    MANAGER_PID=$PP_LAST_PID
}

# check_every_task N URL: the N running tasks each answer a MISS then a
# HIT for URL through the balancer's VIP (round robin: the same URL 2N
# times, at most 4N, visits each twice). Each task's proxyd is named by its
# hostname, <service>-<Swarm slot>.
check_every_task() {
    local n=$1 url=$2 i got name want=() seen
    declare -A first=() hit=()
    mapfile -t want < <(running_tasks | awk -v s="$MP" '{ print s "-" $1 }')
    expect_eq "${#want[@]}" "$n" "running tasks"
    for ((i = 0; i < 4 * n; i++)); do
        got=$(through 1 "$VIP" "$url")
        name=${got#* }
        [ -n "${first[$name]:-}" ] || first[$name]=${got%% *}
        [ "${got%% *}" != HIT ] || hit[$name]=1
        [ "${#hit[@]}" -lt "$n" ] || break
    done
    for name in "${want[@]}"; do
        expect_eq "${first[$name]:-none}" MISS "first answer from task $name for $url"
        expect_eq "${hit[$name]:-0}" 1 "a HIT from task $name for $url"
    done
    seen=$(printf '%s\n' "${!first[@]}" | sort | tr '\n' ' ')
    expect_eq "$seen" "$(printf '%s\n' "${want[@]}" | sort | tr '\n' ' ')" "tasks that answered"
}
