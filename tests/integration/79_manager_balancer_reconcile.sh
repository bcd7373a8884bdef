#!/usr/bin/env bash
# The balancer mode's reconcile in the testbed: the manager runs in the
# intermediate host (process runtime, --forwarding balancer, 3 instances,
# --reconcile-interval 2s). With nothing changed, reconcile runs only read
# the balancer's set (GET /v1/backends): no PUT reaches it (its log counts
# each set it is given) and no repair is counted. A set without instance 2,
# PUT by hand through the balancer's admin API with the manager's token, is
# put back within one period, counted in manager_reconcile_repairs_total,
# and instance 2 serves clients again; a weight changed by hand is changed
# back.
# timeout: 90
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_need_root "network namespaces"
[ -x "$PP_BIN/balancer" ] || pp_die "no $PP_BIN/balancer (run make)"
TESTBED=$PP_REPO/deploy/testbed
P=c$(($$ % 10000000))
MP=c$(($$ % 1000)) # the manager's prefix: instances c<pid>1..
VIP=198.19.255.10
STATE=$PP_TMP/state
PERIOD_MS=2000
pp_on_cleanup "$(printf '%q' "$TESTBED") --prefix $P down >/dev/null 2>&1 || true"
tb() { "$TESTBED" --prefix "$P" "$@"; }
in_mid() { nsenter --net="/run/netns/$P-mid" "$@"; }

tb up --clients 64 >/dev/null
API_PORT=$(pp_free_port)
API=http://127.0.0.1:$API_PORT
BASE=$(pp_free_port)
ADMIN_PORT=$(pp_free_port)
ADMIN=http://127.0.0.1:$ADMIN_PORT
pp_bg manager nsenter --net="/run/netns/$P-mid" "$PP_BIN/manager" --runtime process --process-addr 198.18.0.1 \
    --base-port "$BASE" --replicas 3 --api "127.0.0.1:$API_PORT" --state-dir "$STATE" \
    --prefix "$MP" --forwarding balancer --vip "$VIP:3128" --balancer-admin "127.0.0.1:$ADMIN_PORT" \
    --drain-timeout 5s --proxy-arg=--cache-mem=16M --reconcile-interval "${PERIOD_MS}ms"
MANAGER_PID=$PP_LAST_PID
api() { in_mid curl -sS --max-time 20 "$@"; }
ready_is() { [ "$(api "$API/v1/pool" 2>/dev/null | jq -r .ready)" = "$1" ]; }
pp_wait_until 20 ready_is 3 || pp_die "manager not ready: $(tail -5 "$PP_TMP/manager.log")"
metric() { api "$API/metrics" | awk -v m="$1" '$1 == m { v = $2 } END { print v + 0 }'; }
runs() { metric manager_reconcile_runs_total; }
repairs() { metric 'manager_reconcile_repairs_total{what="backend"}'; }
runs_reach() { [ "$(runs)" -ge "$1" ]; }
# The balancer logs each set it is given ("backend set replaced").
puts() { grep -c "backend set replaced" "$STATE/$MP-balancer.log" || true; }
# members: the names in the balancer's set, sorted, one line.
members() { api "$ADMIN/v1/backends" | jq -r '[.backends[] | select(.removed | not) | .name] | sort | join(" ")'; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

expect_eq "$(members)" "${MP}1 ${MP}2 ${MP}3" "the balancer's set"

# No drift: runs go by, read the set, and send nothing.
r0=$(runs)
pp_wait_until 10 runs_reach $((r0 + 1)) || pp_die "no reconcile run within 10 s: $(tail -5 "$PP_TMP/manager.log")"
puts0=$(puts)
repairs0=$(repairs)
r1=$(runs)
pp_wait_until 10 runs_reach $((r1 + 2)) || pp_die "reconcile runs stopped"
expect_eq "$(puts)" "$puts0" "sets PUT to the balancer during two runs with no drift"
expect_eq "$(repairs)" "$repairs0" "backend repairs with no drift"
expect_eq "$(metric manager_reconcile_failures_total)" 0 "failed runs"

# Someone with the token PUTs a set without instance 2.
hand_set=$(api "$ADMIN/v1/backends" | jq -c --arg drop "${MP}2" \
    '{backends: [.backends[] | select(.removed | not) | select(.name != $drop) | {name, address, health, weight}]}')
code=$(api -X PUT -H "@$(pp_api_headers "$STATE/api.token")" --data-binary "$hand_set" \
    -o "$PP_TMP/hand.json" -w '%{http_code}' "$ADMIN/v1/backends")
expect_eq "$code" 200 "PUT of a set without ${MP}2 through the balancer's admin"
expect_eq "$(members)" "${MP}1 ${MP}3" "the set after the PUT by hand"
start=$(now_ms)
restored() { [ "$(members)" = "${MP}1 ${MP}2 ${MP}3" ]; }
pp_wait_until $((PERIOD_MS / 1000 + 3)) restored || pp_die "${MP}2 was not put back: $(members); $(tail -5 "$PP_TMP/manager.log")"
elapsed=$(($(now_ms) - start))
echo "# ${MP}2 back in the set after $elapsed ms"
expect_le "$elapsed" $((PERIOD_MS + 500)) "ms until ${MP}2 was back (period $PERIOD_MS ms)"
expect_ge "$(repairs)" $((repairs0 + 1)) "backend repairs counted"
expect_match "$(cat "$PP_TMP/manager.log")" "reconcile: balancer had drifted \(1 backend not as installed\); repaired" "the repair is logged"
# A backend changed by hand (instance 3 weighing 5) is changed back.
repairs1=$(repairs)
hand_set=$(api "$ADMIN/v1/backends" | jq -c --arg heavy "${MP}3" \
    '{backends: [.backends[] | select(.removed | not) | {name, address, health,
      weight: (if .name == $heavy then 5 else .weight end)}]}')
code=$(api -X PUT -H "@$(pp_api_headers "$STATE/api.token")" --data-binary "$hand_set" \
    -o "$PP_TMP/hand.json" -w '%{http_code}' "$ADMIN/v1/backends")
expect_eq "$code" 200 "PUT of a set with ${MP}3 weighing 5"
weight3() { api "$ADMIN/v1/backends" | jq -r --arg n "${MP}3" '.backends[] | select(.removed | not) | select(.name == $n) | .weight'; }
expect_eq "$(weight3)" 5 "${MP}3's weight after the PUT by hand"
weight_back() { [ "$(weight3)" = 1 ]; }
pp_wait_until $((PERIOD_MS / 1000 + 3)) weight_back || pp_die "${MP}3's weight was not put back: $(weight3)"
expect_ge "$(repairs)" $((repairs1 + 1)) "backend repairs counted for the changed weight"
expect_eq "$(members)" "${MP}1 ${MP}2 ${MP}3" "the set after the second repair"

# The restored backend serves: some client among 64 reaches it.
seen=$(for k in $(seq 1 64); do
    tb exec "client-$k" -- curl -sS --max-time 10 -o /dev/null -D - -x "http://$VIP:3128" http://198.19.1.2/obj1m |
        tr -d '\r' | awk -F': ' 'tolower($1) == "x-cache" { sub(/^(HIT|MISS) from /, "", $2); print $2 }'
done | sort -u | tr '\n' ' ')
expect_match "$seen" "${MP}2 " "${MP}2 among the instances that answered 64 clients"

kill -TERM "$MANAGER_PID"
pp_wait_until 30 bash -c "! kill -0 $MANAGER_PID 2>/dev/null" || pp_die "manager did not exit"
expect_eq "$(ip -n "$P-mid" -o addr show dev lo | grep -c "lo:$MP" || true)" 0 "no address of ours on lo"
