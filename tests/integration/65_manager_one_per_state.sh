#!/usr/bin/env bash
# One manager per state directory and per prefix. A second manager started
# by mistake over a live one's state dir (or with its prefix and another
# state dir) refuses with one line naming the live manager's pid, and
# changes nothing: the live manager's instances keep their pids and serve,
# its API answers. The lock dies with its holder: after kill -9 of the first
# manager a new one starts over the same state dir.
# timeout: 90
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

[ -x "$PP_BIN/manager" ] || pp_die "no $PP_BIN/manager (run make)"
pp_need_root "the prefix lock lives in /run/proxypool"
pp_make_file "$PP_TMP/www/obj" 4096
pp_start_nginx_origin "$PP_TMP/www"
PREFIX=o$(($$ % 100000))
STATE=$PP_TMP/state
pp_on_cleanup "rm -f /run/proxypool/prefixes/$PREFIX.lock"

# start_manager NAME STATE_DIR API_PORT: in the background; sets LAST_API.
start_manager() {
    LAST_API=http://127.0.0.1:$3
    pp_bg "manager-$1" "$PP_BIN/manager" --runtime process --replicas 2 --api "127.0.0.1:$3" \
        --base-port "$BASE" --state-dir "$2" --prefix "$PREFIX" \
        --proxy-arg=--allow-dest=127.0.0.1/32 --proxy-arg=--cache-mem=16M
}
pool() { pp_api GET "$API/v1/pool"; }
ready_is() { [ "$(pool | jq -r .ready 2>/dev/null)" = "$1" ]; }
instance_pids() { pool | jq -r '[.instances[].pid] | sort | join(" ")'; }
serves_all() {
    local addr
    for addr in $(pool | jq -r '.instances[].address'); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -x "$addr" "$PP_ORIGIN_URL/obj")" = 200 ] || return 1
    done
}

BASE=$(pp_free_port)
start_manager first "$STATE" "$(pp_free_port)"
FIRST=$PP_LAST_PID
API=$LAST_API
pp_wait_until 20 ready_is 2 || pp_die "the first manager did not get 2 ready instances: $(tail -5 "$PP_TMP/manager-first.log")"
PIDS=$(instance_pids)
expect_match "$PIDS" '^[0-9]+ [0-9]+$' "two instance pids"
serves_all || pp_die "the first manager's instances do not serve"

# --- the same state dir: refused, nothing touched
start_manager second "$STATE" "$(pp_free_port)"
SECOND=$PP_LAST_PID
pp_wait_until 10 sh -c "! kill -0 $SECOND 2>/dev/null" || pp_die "a second manager over the same state dir kept running"
rc=0
wait "$SECOND" 2>/dev/null || rc=$?
expect_ne "$rc" 0 "exit status of the second manager"
expect_match "$(cat "$PP_TMP/manager-second.log")" "state dir $STATE is in use by manager pid $FIRST" \
    "the refusal names the state dir and the live manager's pid"
expect_eq "$(grep -c -i 'kill\|stopp\|remov' "$PP_TMP/manager-second.log")" 0 "the second manager stopped or removed nothing"
expect_eq "$(instance_pids)" "$PIDS" "the first manager's instances, same pids"
serves_all || pp_die "the first manager's instances stopped serving after the refused start"

# --- the same prefix, another state dir: refused too
start_manager third "$PP_TMP/state3" "$(pp_free_port)"
THIRD=$PP_LAST_PID
pp_wait_until 10 sh -c "! kill -0 $THIRD 2>/dev/null" || pp_die "a manager with the same prefix kept running"
expect_match "$(cat "$PP_TMP/manager-third.log")" "prefix $PREFIX .* is in use by manager pid $FIRST" \
    "the refusal names the prefix and the live manager's pid"
expect_eq "$(instance_pids)" "$PIDS" "the first manager's instances, same pids, after the prefix refusal"

# --- kill -9 of the first manager: the locks go with it
kill -KILL "$FIRST"
pp_wait_until 5 sh -c "! kill -0 $FIRST 2>/dev/null" || pp_die "the first manager survived kill -9"
start_manager fourth "$STATE" "$(pp_free_port)"
API=$LAST_API
pp_wait_until 20 ready_is 2 || pp_die "a manager over the dead one's state dir did not start: $(tail -5 "$PP_TMP/manager-fourth.log")"
pp_log "ok: one manager per state dir and prefix; the lock dies with its holder"
