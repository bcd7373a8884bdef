#!/usr/bin/env bash
# `deploy/testbed exec mid -- manager --runtime container` works: exec enters
# mid's network namespace only (nsenter --net), so /sys and the cgroup
# hierarchies stay visible. With 2 clients up, the manager started that way
# comes up with one container, scales to 2 through its REST API, each
# instance runs in its own cgroup and answers a client across mid with its
# name; SIGTERM leaves no link or cgroup of ours. The same manager under
# `ip netns exec` (which remounts /sys) fails, and says to use nsenter.
# timeout: 90
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_need_root "network namespaces, cgroups"
pp_need_tool nginx
[ -x "$PP_BIN/manager" ] || pp_die "no $PP_BIN/manager (run make)"

TESTBED=$PP_REPO/deploy/testbed
P=x$(($$ % 10000000)) # the testbed's prefix, at most 8 characters
MP=q$(($$ % 1000))    # the manager's: instances q<pid>1.., bridge q<pid>br, cgroups q<pid>*
ORIGIN=http://198.19.1.2
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
tb() { "$TESTBED" --prefix "$P" "$@"; }
our_cgroups() { find /sys/fs/cgroup -maxdepth 3 -type d -name "$MP*" | wc -l | tr -d ' '; }
our_links() { ip -n "$P-mid" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | grep -c "^$MP" || true; }

tb up --clients 2 >"$PP_TMP/up.log" 2>&1 || pp_die "testbed up failed: $(cat "$PP_TMP/up.log")"

API_PORT=$(pp_free_port)
API=http://127.0.0.1:$API_PORT
MANAGER_ARGS=(--runtime container --subnet 198.19.0.0/24 --bridge "${MP}br" --replicas 1
    --api "127.0.0.1:$API_PORT" --state-dir "$PP_TMP/state" --prefix "$MP" --cpus 1
    --memory 256M --drain-timeout 2s --proxy-arg=--cache-mem=16M)

# ---- exec keeps the host's mounts: same mount namespace, cgroups listed
expect_eq "$(tb exec mid -- readlink /proc/self/ns/mnt)" "$(readlink /proc/self/ns/mnt)" \
    "exec's mount namespace is the host's"
expect_eq "$(tb exec mid -- readlink /proc/self/ns/net)" "net:[$(stat -L -c %i "/run/netns/$P-mid")]" \
    "exec's network namespace is mid's"
expect_ge "$(tb exec mid -- grep -cE ' - cgroup2? ' /proc/self/mountinfo)" 1 "cgroup mounts seen through exec"

# ---- under `ip netns exec` the manager fails and says how to start it
rc=0
timeout 20 ip netns exec "$P-mid" "$PP_BIN/manager" "${MANAGER_ARGS[@]}" >"$PP_TMP/ipnetns.log" 2>&1 || rc=$?
expect_eq "$rc" 1 "manager's exit status under ip netns exec"
out=$(cat "$PP_TMP/ipnetns.log")
expect_match "$out" "no cgroup v2 \\(/sys/fs/cgroup/cgroup.controllers\\) nor v1 cpu hierarchy" "what it did not find"
expect_match "$out" "start the manager with \`nsenter --net=/run/netns/$P-mid manager \\.\\.\\.\` instead of \`ip netns exec\`" \
    "the nsenter hint naming mid's namespace"
expect_eq "$(grep -c 'nsenter --net' "$PP_TMP/ipnetns.log")" 1 "the hint is one line"
expect_eq "$(our_cgroups)" 0 "no cgroup of ours after the failed start"
expect_eq "$(our_links)" 0 "no link of ours after the failed start"

# ---- through deploy/testbed exec it runs containers
# pp_bg runs the testbed script, which execs nsenter, which execs the manager:
# the pid is the manager's, and SIGTERM below reaches it.
pp_bg manager "$TESTBED" --prefix "$P" exec mid -- "$PP_BIN/manager" "${MANAGER_ARGS[@]}"
MANAGER_PID=$PP_LAST_PID
# Writes carry the manager's token (STATE/api.token) and the JSON content type.
api() { tb exec mid -- curl -sS --max-time 30 -H "@$(pp_api_headers "$PP_TMP/state/api.token")" "$@"; }
ready_is() {
    kill -0 "$MANAGER_PID" 2>/dev/null || pp_die "manager exited: $(tail -5 "$PP_TMP/manager.log")"
    [ "$(api "$API/v1/pool" 2>/dev/null | jq -r .ready)" = "$1" ]
}
pp_wait_until 20 ready_is 1 || pp_die "manager not ready: $(tail -5 "$PP_TMP/manager.log")"
expect_match "$(cat "$PP_TMP/manager.log")" "container: created bridge ${MP}br with 198.19.0.1/24; cgroup v[12] under /sys/fs/cgroup/" \
    "the container runtime found its cgroups"
expect_eq "$(readlink "/proc/$MANAGER_PID/ns/net")" "net:[$(stat -L -c %i "/run/netns/$P-mid")]" "the manager runs in mid"

out=$(api -X PUT -d '{"replicas": 2}' -o "$PP_TMP/put.json" -w '%{http_code}' "$API/v1/pool")
expect_eq "$out" 200 "PUT replicas=2"
expect_eq "$(jq -r .ready "$PP_TMP/put.json")" 2 "ready after PUT replicas=2"
api "$API/v1/pool" >"$PP_TMP/pool.json"
expect_eq "$(jq -r .runtime "$PP_TMP/pool.json")" container "runtime"
expect_eq "$(jq -r '.instances | length' "$PP_TMP/pool.json")" 2 "instances listed"
for i in 0 1; do
    name=$(jq -r ".instances[$i].name" "$PP_TMP/pool.json")
    addr=$(jq -r ".instances[$i].address" "$PP_TMP/pool.json")
    pid=$(jq -r ".instances[$i].pid" "$PP_TMP/pool.json")
    expect_match "$addr" '^198\.19\.0\.[0-9]+:3128$' "$name's address in the container subnet"
    # Its process is in its own cgroup (in every hierarchy the runtime uses).
    procs=$(find /sys/fs/cgroup -maxdepth 4 -path "*/$MP/$name/cgroup.procs")
    expect_ge "$(echo "$procs" | grep -c .)" 1 "cgroup.procs files of $name"
    for f in $procs; do
        expect_match "$(tr '\n' ' ' <"$f")" "(^| )$pid " "$name's pid $pid in ${f#/sys/fs/cgroup/}"
    done
    # Client K asks instance i across mid (client LAN -> mid's bridge).
    k=$((i + 1))
    tb exec "client-$k" -- curl -sS --max-time 10 -o /dev/null -D "$PP_TMP/h.$k" \
        -x "http://$addr" "$ORIGIN/obj1m" || pp_die "client-$k through $name failed"
    expect_match "$(pp_header "$PP_TMP/h.$k" x-cache)" "(HIT|MISS) from $name\$" "client-$k answered by $name"
done

kill -TERM "$MANAGER_PID"
pp_wait_until 30 bash -c "! kill -0 $MANAGER_PID 2>/dev/null" || pp_die "manager did not exit on SIGTERM"
expect_match "$(cat "$PP_TMP/manager.log")" "every instance stopped; exiting" "the manager stopped its instances"
expect_eq "$(our_cgroups)" 0 "no cgroup of ours after SIGTERM"
expect_eq "$(our_links)" 0 "no link of ours in mid after SIGTERM"
