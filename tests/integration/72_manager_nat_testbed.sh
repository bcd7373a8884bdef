#!/usr/bin/env bash
# NAT forwarding end to end in the testbed: the manager runs in the
# intermediate host (process runtime, --forwarding nat), 64 clients send
# proxy requests to the VIP 198.19.255.10:3128, and each is answered by the
# instance its block names (X-Cache ... from NAME), for 1, 2, 4, 8, 16 and 32
# instances; every client at least once, the edges of every block at every
# step. Then nat -> none -> nat live, and after SIGTERM nothing of ours is left
# in mid's nat table.
# timeout: 150
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_need_root "network namespaces"
TESTBED=$PP_REPO/deploy/testbed
P=n$(($$ % 10000000))
MP=q$(($$ % 1000)) # the manager's prefix: instance names q<pid>1.., chain Q<pid>-DNAT
CHAIN=$(echo "$MP" | tr '[:lower:]' '[:upper:]')-DNAT
pp_on_cleanup "$(printf '%q' "$TESTBED") --prefix $P down >/dev/null 2>&1 || true"
tb() { "$TESTBED" --prefix "$P" "$@"; }
in_mid() { nsenter --net="/run/netns/$P-mid" "$@"; }

tb up --clients 64 >/dev/null
API_PORT=$(pp_free_port)
API=http://127.0.0.1:$API_PORT
BASE=$(pp_free_port)
pp_bg manager nsenter --net="/run/netns/$P-mid" "$PP_BIN/manager" --runtime process --process-addr 198.18.0.1 \
    --base-port "$BASE" --replicas 1 --api "127.0.0.1:$API_PORT" --state-dir "$PP_TMP/state" \
    --prefix "$MP" --forwarding nat --vip 198.19.255.10:3128 --clients 198.18.1.1-198.18.1.64 \
    --drain-timeout 5s --proxy-arg=--cache-mem=16M
MANAGER_PID=$PP_LAST_PID
# Writes carry the manager's token (STATE/api.token) and the JSON content type.
api() { in_mid curl -sS --max-time 60 -H "@$(pp_api_headers "$PP_TMP/state/api.token")" "$@"; }
ready_is() { [ "$(api "$API/v1/pool" 2>/dev/null | jq -r .ready)" = "$1" ]; }
pp_wait_until 20 ready_is 1 || pp_die "manager not ready: $(tail -5 "$PP_TMP/manager.log")"

# through K: the instance name that answered client K's request via the VIP.
through() {
    tb exec "client-$1" -- curl -sS --max-time 10 -o /dev/null -D - \
        -x http://198.19.255.10:3128 http://198.19.1.2/obj1m |
        tr -d '\r' | awk -F': ' 'tolower($1) == "x-cache" { sub(/^(HIT|MISS) from /, "", $2); print $2 }'
}
# expected K: the instance the partition gives client K.
expected() {
    jq -r --arg a "198.18.1.$1" '.blocks[] | select(.count > 0) |
        select(($a | split(".") | map(tonumber)) as $x |
               (.first | split(".") | map(tonumber)) as $f |
               (.last | split(".") | map(tonumber)) as $l |
               ($x[3] >= $f[3] and $x[3] <= $l[3])) | .instance' "$PP_TMP/partition.json"
}

for n in 1 2 4 8 16 32; do
    out=$(api -X PUT -d "{\"replicas\": $n}" -o "$PP_TMP/put.json" -w '%{http_code}' "$API/v1/pool")
    expect_eq "$out" 200 "PUT replicas=$n"
    api "$API/v1/partition" >"$PP_TMP/partition.json"
    expect_eq "$(jq '[.blocks[].count] | add' "$PP_TMP/partition.json")" 64 "clients partitioned at $n"
    expect_eq "$(jq '[.blocks[].count] | max - min' "$PP_TMP/partition.json")" "$((64 % n == 0 ? 0 : 1))" "block sizes at $n differ by at most one"
    expect_eq "$(api "$API/v1/forwarding" | jq -r .mode)" nat "mode"
    expect_match "$(api "$API/v1/forwarding" | jq -r .last_swap_ms)" "^[0-9.]+$" "swap time measured at $n (ms)"
    if [ "$n" = 4 ]; then
        clients=$(seq 1 64) # every client once
    else
        clients=$(jq -r '.blocks[] | select(.count > 0) | .first, .last' "$PP_TMP/partition.json" |
            awk -F. '{ print $4 }' | sort -n | uniq)
    fi
    for k in $clients; do
        want="$MP$(expected "$k")"
        expect_eq "$(through "$k")" "$want" "client $k at $n instances"
    done
    # The instance JSON names its block.
    expect_eq "$(api "$API/v1/pool" | jq '[.instances[].clients.count] | add')" 64 "blocks in /v1/pool at $n"
done

# A drain under load: client 64 (block 2 of 2) has a connection open to
# instance 2 when the pool shrinks to 1. The connection stays pinned to
# instance 2 by conntrack; the manager counts it, proxyd finishes it and
# exits, and the manager reports it drained; a request started after the
# answer goes to instance 1.
out=$(api -X PUT -d '{"replicas": 2}' -o /dev/null -w '%{http_code}' "$API/v1/pool")
expect_eq "$out" 200 "back to 2"
# A raw connection that stays open: the request is answered at once (the
# object is cached) and the response waits, unread, in the client's socket
# while the pool shrinks (curl would read it and close at once on one host).
nsenter --net="/run/netns/$P-c64" bash -c 'exec 3<>/dev/tcp/198.19.255.10/3128
    printf "GET http://198.19.1.2/obj1m HTTP/1.1\r\nHost: 198.19.1.2\r\n\r\n" >&3
    sleep 3; timeout 10 cat <&3' >"$PP_TMP/slow.raw" 2>&1 &
slow=$!
# Wait until the download is being served by instance 2 (its admin counts the
# open connection) before the pool shrinks.
downloading() {
    [ "$(api "http://198.18.0.1:$((BASE + 102))/stats" 2>/dev/null | jq -r .connections.open)" -ge 1 ]
}
pp_wait_until 10 downloading ||
    pp_die "the download never reached instance 2: $(api "http://198.18.0.1:$((BASE + 102))/stats" 2>&1 | head -c 300); $(api "$API/v1/pool" | jq -c '[.instances[] | [.id, .address, .clients]]')"
out=$(api -X PUT -d '{"replicas": 1}' -o "$PP_TMP/put.json" -w '%{http_code}' "$API/v1/pool")
expect_eq "$out" 200 "shrink to 1 under load"
expect_eq "$(jq -r .last_step.drained "$PP_TMP/put.json")" 1 "connections drained"
expect_eq "$(jq -r .last_step.cut "$PP_TMP/put.json")" 0 "connections cut"
expect_ge "$(jq -r .last_step.rules_ms "$PP_TMP/put.json")" 0 "rules committed before the drain"
wait "$slow" || true
expect_match "$(head -n 1 "$PP_TMP/slow.raw")" "^HTTP/1.1 200" "the answer on the drained connection"
expect_ge "$(stat -c %s "$PP_TMP/slow.raw")" 1048576 "the whole body arrived"
expect_eq "$(through 64)" "${MP}1" "client 64 after the answer"

# Scaling under a light load: four clients (one per block edge region) fetch
# in a loop while the pool goes 2 -> 8 -> 3; no request fails, and every
# PUT answer carries the swap time.
light_load() {
    local k=$1 i fails=0
    for i in $(seq 1 40); do
        nsenter --net="/run/netns/$P-c$k" curl -s -o /dev/null --max-time 10 -w '%{http_code}\n' \
            -x http://198.19.255.10:3128 http://198.19.1.2/obj1m | grep -qx 200 || fails=$((fails + 1))
    done
    echo "$fails" >"$PP_TMP/load.$k"
}
loaders=()
for k in 1 20 40 64; do
    light_load "$k" &
    loaders+=($!)
done
for n in 8 3; do
    out=$(api -X PUT -d "{\"replicas\": $n}" -o "$PP_TMP/put.json" -w '%{http_code}' "$API/v1/pool")
    expect_eq "$out" 200 "PUT replicas=$n under load"
    expect_match "$(jq -r .last_step.swap_ms "$PP_TMP/put.json")" "^[0-9.]+$" "swap time in the answer at $n"
done
wait "${loaders[@]}"
for k in 1 20 40 64; do expect_eq "$(cat "$PP_TMP/load.$k")" 0 "failed requests of client $k while scaling"; done

# Live switches: nat -> none removes the rules, none -> nat brings them back.
out=$(api -X PUT -d '{"mode": "none"}' -o /dev/null -w '%{http_code}' "$API/v1/forwarding")
expect_eq "$out" 200 "switch to none"
expect_eq "$(in_mid iptables-legacy-save -t nat | grep -c -- "$CHAIN" || true)" 0 "no rules in mode none"
out=$(api -X PUT -d '{"mode": "route"}' -o "$PP_TMP/r.json" -w '%{http_code}' "$API/v1/forwarding")
expect_eq "$out" 400 "route is refused for now"
expect_match "$(jq -r .error "$PP_TMP/r.json")" "route" "the refusal names the mode"
out=$(api -X PUT -d '{"mode": "nat"}' -o /dev/null -w '%{http_code}' "$API/v1/forwarding")
expect_eq "$out" 200 "switch back to nat"
expect_eq "$(through 1)" "${MP}1" "client 1 after the switch back"

kill -TERM "$MANAGER_PID"
pp_wait_until 20 bash -c "! kill -0 $MANAGER_PID 2>/dev/null" || pp_die "manager did not exit"
expect_eq "$(in_mid iptables-legacy-save -t nat | grep -c -- "$CHAIN" || true)" 0 "no rules after the manager exits"
