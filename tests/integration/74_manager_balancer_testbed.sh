#!/usr/bin/env bash
# Balancer forwarding end to end in the testbed: the manager runs in the
# intermediate host (process runtime, --forwarding balancer), adds the VIP
# 198.19.255.10 to its lo and runs the balancer on VIP:3128 with the ready
# instances as its backends. All 64 clients are answered through the VIP at 1,
# 4 and 32 instances (more than one instance serves at 32), and /v1/pool shows
# each backend up with totals adding up to the requests sent. A connection
# held open on an instance being removed is drained, not cut; scaling down
# under a light load fails no request; a killed balancer is restarted with its
# set; the API answers at once while the balancer is stalled (the manager
# never waits on it); balancer -> nat -> balancer live; a crashed run's
# balancer and VIP are removed at start; after SIGTERM no balancer, no VIP
# on lo, nothing of ours.
# timeout: 120
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_need_root "network namespaces"
[ -x "$PP_BIN/balancer" ] || pp_die "no $PP_BIN/balancer (run make)"
TESTBED=$PP_REPO/deploy/testbed
P=b$(($$ % 10000000))
MP=l$(($$ % 1000)) # the manager's prefix: instances l<pid>1.., VIP label lo:l<pid>lb
CHAIN=$(echo "$MP" | tr '[:lower:]' '[:upper:]')-DNAT
VIP=198.19.255.10
STATE=$PP_TMP/state
pp_on_cleanup "$(printf '%q' "$TESTBED") --prefix $P down >/dev/null 2>&1 || true"
tb() { "$TESTBED" --prefix "$P" "$@"; }
in_mid() { nsenter --net="/run/netns/$P-mid" "$@"; }
vip_on_lo() { ip -n "$P-mid" -o addr show dev lo | grep -c " $VIP/32 " || true; }
balancer_pid() { awk '{ print $1 }' "$STATE/$MP-balancer.pid" 2>/dev/null || true; } # "PID STARTTIME"

tb up --clients 64 >/dev/null
mkdir -p "$STATE"
# What a crashed manager of this prefix would leave: its balancer (found by
# its pid file) and a VIP on lo with its label. Both go at start, logged.
LEFT_ADMIN=$(pp_free_port)
pp_bg leftover nsenter --net="/run/netns/$P-mid" "$PP_BIN/balancer" --listen 127.0.0.1:"$(pp_free_port)" \
    --admin 127.0.0.1:"$LEFT_ADMIN" --no-auth
LEFTOVER_PID=$PP_LAST_PID
disown "$LEFTOVER_PID" 2>/dev/null || true # its SIGKILL below is expected, not news
# The pid file as the manager writes it: the pid and its start time (field 22
# of /proc/PID/stat); a pid alone, or another start time, it would not kill.
echo "$LEFTOVER_PID $(sed 's/.*) //' "/proc/$LEFTOVER_PID/stat" | awk '{print $20}')" >"$STATE/$MP-balancer.pid"
ip -n "$P-mid" addr add 10.99.2.2/32 dev lo label "lo:${MP}lb"

API_PORT=$(pp_free_port)
API=http://127.0.0.1:$API_PORT
BASE=$(pp_free_port)
ADMIN_PORT=$(pp_free_port)
pp_bg manager nsenter --net="/run/netns/$P-mid" "$PP_BIN/manager" --runtime process --process-addr 198.18.0.1 \
    --base-port "$BASE" --replicas 1 --api "127.0.0.1:$API_PORT" --state-dir "$STATE" \
    --prefix "$MP" --forwarding balancer --vip "$VIP:3128" --balancer-admin "127.0.0.1:$ADMIN_PORT" \
    --drain-timeout 8s --proxy-arg=--cache-mem=16M
MANAGER_PID=$PP_LAST_PID
# Writes carry the manager's token (STATE/api.token) and the JSON content type.
api() { in_mid curl -sS --max-time 60 -H "@$(pp_api_headers "$PP_TMP/state/api.token")" "$@"; }
ready_is() { [ "$(api "$API/v1/pool" 2>/dev/null | jq -r .ready)" = "$1" ]; }
pp_wait_until 20 ready_is 1 || pp_die "manager not ready: $(tail -5 "$PP_TMP/manager.log")"
expect_match "$(cat "$PP_TMP/manager.log")" "stopping balancer pid $LEFTOVER_PID left by an earlier run" "the leftover balancer is stopped and logged"
expect_match "$(cat "$PP_TMP/manager.log")" "removing address 10.99.2.2(/32)? \(label lo:${MP}lb\) from lo" "the leftover VIP is removed and logged"
expect_eq "$(pp_alive "$LEFTOVER_PID" && echo alive || echo gone)" gone "the leftover balancer"
expect_eq "$(ip -n "$P-mid" -o addr show dev lo | grep -c 10.99.2.2 || true)" 0 "no leftover address on lo"
expect_eq "$(vip_on_lo)" 1 "the VIP on mid's lo"
expect_match "$(ip -n "$P-mid" -o addr show dev lo | grep " $VIP/32 ")" "lo:${MP}lb" "the VIP carries our label"
BPID=$(balancer_pid)
expect_match "$(readlink "/proc/$BPID/exe" 2>/dev/null)" "/balancer$" "the balancer runs (pid file $BPID)"

# through K: the instance name that answered client K's request via the VIP.
through() {
    tb exec "client-$1" -- curl -sS --max-time 10 -o /dev/null -D - \
        -x "http://$VIP:3128" http://198.19.1.2/obj1m |
        tr -d '\r' | awk -F': ' 'tolower($1) == "x-cache" { sub(/^(HIT|MISS) from /, "", $2); print $2 }'
}
# all_clients OUT: every client once, at the same time; OUT gets "K NAME".
all_clients() {
    local k pids=()
    for k in $(seq 1 64); do
        (echo "$k $(through "$k")" >"$PP_TMP/through.$k") &
        pids+=($!)
    done
    wait "${pids[@]}"
    cat "$PP_TMP"/through.* >"$1"
    rm -f "$PP_TMP"/through.*
}

sent=0
for n in 1 4 32; do
    out=$(api -X PUT -d "{\"replicas\": $n}" -o "$PP_TMP/put.json" -w '%{http_code}' "$API/v1/pool")
    expect_eq "$out" 200 "PUT replicas=$n"
    api "$API/v1/forwarding" >"$PP_TMP/fwd.json"
    expect_eq "$(jq -r .mode "$PP_TMP/fwd.json")" balancer "mode"
    expect_eq "$(jq -r .rules "$PP_TMP/fwd.json")" "$n" "backends told at $n"
    all_clients "$PP_TMP/answers.$n"
    sent=$((sent + 64))
    expect_eq "$(wc -l <"$PP_TMP/answers.$n")" 64 "answers at $n"
    expect_eq "$(awk -v re="^${MP}[0-9]+\$" '$2 ~ re' "$PP_TMP/answers.$n" | wc -l)" 64 "every client answered by an instance at $n"
    used=$(awk '{ print $2 }' "$PP_TMP/answers.$n" | sort -u | wc -l)
    echo "# $n instances: $used served the 64 clients"
    [ "$n" = 1 ] || expect_ge "$used" 2 "instances that served at $n"
    api "$API/v1/pool" >"$PP_TMP/pool.json"
    expect_eq "$(jq '[.instances[] | select(.balancer.state == "up")] | length' "$PP_TMP/pool.json")" "$n" "backends up at $n"
    expect_eq "$(jq '[.instances[].balancer.total] | add' "$PP_TMP/pool.json")" "$sent" "balancer totals = requests sent by $n"
    expect_eq "$(jq '[.instances[] | select(has("clients"))] | length' "$PP_TMP/pool.json")" 0 "no client block in balancer mode"
done
expect_match "$(jq -r '.instances[0].balancer.p50_ms' "$PP_TMP/pool.json")" "^[0-9.]+(e-?[0-9]+)?$" "p50 of instance 1 measured"
expect_match "$(jq -r '.instances[0].balancer.last_check' "$PP_TMP/pool.json")" "." "last check shown"

# A drain: client 64 holds a connection whose answer waits unread in its
# socket while the pool shrinks below the instance serving it. The balancer
# is told first (the instance leaves the set), the manager counts the
# connection from the balancer's view, proxyd finishes it, and the step
# reports it drained, not cut.
held=0
for _ in 1 2 3; do
    nsenter --net="/run/netns/$P-c64" bash -c "exec 3<>/dev/tcp/$VIP/3128
        printf 'GET http://198.19.1.2/obj1m HTTP/1.1\r\nHost: 198.19.1.2\r\n\r\n' >&3
        sleep 3; timeout 10 cat <&3" >"$PP_TMP/slow.raw" 2>&1 &
    slow=$!
    holder() {
        api "$API/v1/pool" | jq -r '[.instances[] | select(.balancer.active > 0) | .id] | max // empty' >"$PP_TMP/holder"
        [ -s "$PP_TMP/holder" ]
    }
    pp_wait_until 5 holder || pp_die "the held connection never reached an instance: $(api "$API/v1/pool" | jq -c '[.instances[].balancer.active]')"
    held=$(cat "$PP_TMP/holder")
    [ "$held" -gt 1 ] && break
    wait "$slow" || true # on instance 1, which stays: try again
done
expect_ge "$held" 2 "the held connection is on an instance that goes"
out=$(api -X PUT -d "{\"replicas\": $((held - 1))}" -o "$PP_TMP/put.json" -w '%{http_code}' "$API/v1/pool")
expect_eq "$out" 200 "shrink to $((held - 1)) with a connection held on instance $held"
expect_ge "$(jq -r .last_step.drained "$PP_TMP/put.json")" 1 "connections drained"
expect_eq "$(jq -r .last_step.cut "$PP_TMP/put.json")" 0 "connections cut"
expect_ge "$(jq -r .last_step.drain_ms "$PP_TMP/put.json")" 0 "the step drained instances"
wait "$slow" || true
expect_match "$(head -n 1 "$PP_TMP/slow.raw")" "^HTTP/1.1 200" "the answer on the drained connection"
expect_ge "$(stat -c %s "$PP_TMP/slow.raw")" 1048576 "the whole body arrived"

# Scaling down under a light load: four clients fetch in a loop (bounded in
# count and time) while the pool goes 8 -> 2; no request fails.
out=$(api -X PUT -d '{"replicas": 8}' -o /dev/null -w '%{http_code}' "$API/v1/pool")
expect_eq "$out" 200 "up to 8"
light_load() {
    local k=$1 i fails=0 end=$((SECONDS + 15))
    for i in $(seq 1 25); do
        [ "$SECONDS" -lt "$end" ] || break
        nsenter --net="/run/netns/$P-c$k" curl -s -o /dev/null --max-time 10 -w '%{http_code}\n' \
            -x "http://$VIP:3128" http://198.19.1.2/obj1m | grep -qx 200 || fails=$((fails + 1))
    done
    echo "$fails $i" >"$PP_TMP/load.$k"
}
loaders=()
for k in 1 20 40 64; do
    light_load "$k" &
    loaders+=($!)
done
sleep 0.5
out=$(api -X PUT -d '{"replicas": 2}' -o "$PP_TMP/put.json" -w '%{http_code}' "$API/v1/pool")
expect_eq "$out" 200 "PUT replicas=2 under load"
expect_ge "$(jq -r .last_step.drain_ms "$PP_TMP/put.json")" 0 "the step reports its drains"
expect_eq "$(jq -r .last_step.cut "$PP_TMP/put.json")" 0 "no connection cut while scaling down"
echo "# 8 -> 2 under load: $(jq -c .last_step "$PP_TMP/put.json")"
wait "${loaders[@]}"
for k in 1 20 40 64; do
    read -r fails count <"$PP_TMP/load.$k"
    expect_eq "$fails" 0 "failed requests of client $k while scaling down ($count sent)"
done
api "$API/v1/pool" >"$PP_TMP/pool.json"
expect_eq "$(jq '[.instances[] | select(.balancer.state == "up")] | length' "$PP_TMP/pool.json")" 2 "backends up at 2"
# No connection was sent to a stopped instance (it would have been refused
# and redispatched): each step took the instances out before stopping them.
expect_eq "$(api "http://127.0.0.1:$ADMIN_PORT/v1/backends" | jq .connections.redispatched)" 0 "connections redispatched by the balancer"

# The balancer dies: the manager restarts it and tells it the set again.
old=$(balancer_pid)
kill -9 "$old"
restarted() {
    local pid
    pid=$(balancer_pid)
    [ -n "$pid" ] && [ "$pid" != "$old" ] &&
        [ "$(api "$API/v1/pool" | jq '[.instances[] | select(.balancer.state == "up")] | length')" = 2 ]
}
pp_wait_until 10 restarted || pp_die "the balancer was not restarted: $(tail -5 "$PP_TMP/manager.log")"
expect_match "$(cat "$PP_TMP/manager.log")" "balancer: pid $old died \(signal 9\)" "the death is logged"
expect_match "$(through 17)" "^${MP}[12]\$" "client 17 through the restarted balancer"

# The manager's loop never waits on the balancer. With the balancer stopped
# (SIGSTOP), a GET /v1/pool waits for its admin's answer (up to 2 s), and a
# switch away from it for its exit (SIGTERM is held while it is stopped: it
# is killed 5 s on); meanwhile the API answers /healthz at once.
healthz_s() { in_mid curl -sS -o /dev/null --max-time 10 -w '%{time_total}' "$API/healthz"; }
is_fast() { awk -v t="$1" 'BEGIN { print (t < 0.2) ? "fast" : "slow (" t " s)" }'; }
bpid=$(balancer_pid)
kill -STOP "$bpid"
api -o "$PP_TMP/stalled.json" -w '%{http_code}' "$API/v1/pool" >"$PP_TMP/stalled.code" &
stalled=$!
sleep 0.3
expect_eq "$(is_fast "$(healthz_s)")" fast "GET /healthz while GET /v1/pool waits on a stopped balancer"
wait "$stalled" || true
expect_eq "$(cat "$PP_TMP/stalled.code")" 200 "GET /v1/pool with the balancer stopped"

# Live switches: balancer -> nat stops the balancer and takes the VIP off lo;
# nat -> balancer brings both back.
api -X PUT -d '{"mode": "nat"}' -o /dev/null -w '%{http_code}' "$API/v1/forwarding" >"$PP_TMP/switch.code" &
switching=$!
sleep 0.3
expect_eq "$(is_fast "$(healthz_s)")" fast "GET /healthz while the switch to nat waits for the balancer's exit"
wait "$switching" || true
kill -CONT "$bpid" 2>/dev/null || true
expect_eq "$(cat "$PP_TMP/switch.code")" 200 "switch to nat"
expect_eq "$(pp_alive "$bpid" && echo alive || echo gone)" gone "the balancer in nat mode"
expect_eq "$(vip_on_lo)" 0 "no VIP on lo in nat mode"
expect_ge "$(in_mid iptables-legacy-save -t nat | grep -c -- "-A $CHAIN")" 1 "DNAT rules in nat mode"
expect_eq "$(through 1)" "${MP}1" "client 1 in nat mode"
expect_eq "$(through 64)" "${MP}2" "client 64 in nat mode"
expect_eq "$(api "$API/v1/pool" | jq '[.instances[] | select(has("balancer"))] | length')" 0 "no balancer object in nat mode"
out=$(api -X PUT -d '{"mode": "balancer"}' -o /dev/null -w '%{http_code}' "$API/v1/forwarding")
expect_eq "$out" 200 "switch back to balancer"
expect_eq "$(in_mid iptables-legacy-save -t nat | grep -c -- "$CHAIN" || true)" 0 "no DNAT rules in balancer mode"
expect_eq "$(vip_on_lo)" 1 "the VIP back on lo"
expect_match "$(through 1)" "^${MP}[12]\$" "client 1 after the switch back"
expect_match "$(through 64)" "^${MP}[12]\$" "client 64 after the switch back"
bpid=$(balancer_pid)

kill -TERM "$MANAGER_PID"
pp_wait_until 30 bash -c "! kill -0 $MANAGER_PID 2>/dev/null" || pp_die "manager did not exit"
expect_eq "$(pp_alive "$bpid" && echo alive || echo gone)" gone "the balancer after the manager exits"
expect_eq "$(vip_on_lo)" 0 "no VIP on lo after the manager exits"
expect_eq "$(ip -n "$P-mid" -o addr show dev lo | grep -c "lo:$MP" || true)" 0 "no address of ours on lo"
expect_eq "$(pgrep -f -c -- "--name ${MP}[0-9]+ " || true)" 0 "no proxyd of ours"
expect_eq "$(find "$STATE" -name "*.pid" | wc -l)" 0 "no pid file left"
expect_eq "$(in_mid iptables-legacy-save -t nat | grep -c -- "$CHAIN" || true)" 0 "no DNAT rules after the manager exits"
