#!/usr/bin/env bash
# The control APIs are no open doors.
# The manager's API: a token generated at first start into the state dir
# (0600), writes without it or with a wrong one 401, a foreign Host (DNS
# rebinding) 421, a write without a JSON content type (a cross-site form, a
# body-less POST) 415, none of which changes the pool; ppctl finds the token
# by itself; a token file others can read is refused at start. The
# balancer's admin: the same, and no start without --token-file or --no-auth.
# timeout: 120
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

[ -x "$PP_BIN/manager" ] || pp_die "no $PP_BIN/manager (run make)"
[ -x "$PP_BIN/ppctl" ] || pp_die "no $PP_BIN/ppctl (run make)"
PREFIX=k$$
PREFIX=${PREFIX:0:7}
STATE=$PP_TMP/state
API_PORT=$(pp_free_port)
API=http://127.0.0.1:$API_PORT
BASE=$(pp_free_port)

start_manager() { # NAME ARGS...: a process-runtime manager with one instance
    local name=$1
    shift
    pp_bg "$name" "$PP_BIN/manager" --runtime process --replicas 1 --base-port "$BASE" \
        --prefix "$PREFIX" --drain-timeout 2s --proxy-arg=--cache-mem=16M "$@"
    MANAGER_PID=$PP_LAST_PID
}
healthy() {
    kill -0 "$MANAGER_PID" 2>/dev/null || pp_die "manager exited: $(tail -3 "$PP_TMP/manager.log")"
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$API/healthz")" = 200 ]
}
# code ARGS...: curl's status code; the body in $PP_TMP/out.
code() { curl -s -o "$PP_TMP/out" -w '%{http_code}' --max-time 30 "$@"; }
pool_now() { curl -s --max-time 5 "$API/v1/pool" | jq -c '[.replicas, [.instances[].pid]]'; }
TOKEN_H=() # filled once the token exists
JSON_H=(-H 'Content-Type: application/json')

# ---------------------------------------------------------------- manager API

start_manager manager --api "127.0.0.1:$API_PORT" --state-dir "$STATE"
pp_wait_until 20 healthy || pp_die "manager API not up"
expect_eq "$(stat -c %a "$STATE/api.token" 2>&1)" 600 "mode of the generated token file"
expect_match "$(cat "$STATE/api.token" 2>&1)" '^[0-9a-f]{64}$' "the token: 256 random bits in hex"
TOKEN_H=(-H "Authorization: Bearer $(cat "$STATE/api.token")")
pp_wait_until 20 bash -c "[ \"\$(curl -s '$API/v1/pool' | jq -r .ready)\" = 1 ]" || pp_die "no instance ready"
before=$(pool_now)

expect_eq "$(code -X PUT "${JSON_H[@]}" --data '{"replicas": 2}' "$API/v1/pool")" 401 "PUT without a token"
expect_match "$(jq -r .error "$PP_TMP/out")" "Bearer" "401 says what is needed"
expect_eq "$(code -X PUT "${JSON_H[@]}" -H 'Authorization: Bearer 0123' --data '{"replicas": 2}' \
    "$API/v1/pool")" 401 "PUT with a wrong token"
expect_eq "$(code -X POST "${JSON_H[@]}" "$API/v1/pool/instances/1/restart")" 401 "restart without a token"
# A browser led to 127.0.0.1 by a rebound name sends that name as Host.
expect_eq "$(code -X PUT "${JSON_H[@]}" "${TOKEN_H[@]}" -H 'Host: evil.example:'"$API_PORT" \
    --data '{"replicas": 2}' "$API/v1/pool")" 421 "PUT with a foreign Host"
expect_match "$(jq -r .error "$PP_TMP/out")" "is not this API" "421 in the API's error format"
expect_eq "$(code -H 'Host: rebind.example' "$API/v1/pool")" 421 "GET with a foreign Host"
# A form post or a body-less POST (CSRF) carries no JSON content type.
expect_eq "$(code -X PUT "${TOKEN_H[@]}" --data '{"replicas": 2}' "$API/v1/pool")" 415 \
    "PUT as a form (urlencoded)"
expect_eq "$(code -X PUT "${TOKEN_H[@]}" -H 'Content-Type: text/plain' --data '{"replicas": 2}' \
    "$API/v1/pool")" 415 "PUT as text/plain"
expect_eq "$(code -X POST "${TOKEN_H[@]}" "$API/v1/pool/instances/1/restart")" 415 "body-less POST restart"
expect_match "$(jq -r .error "$PP_TMP/out")" "application/json" "415 says what is needed"
expect_eq "$(pool_now)" "$before" "pool unchanged by the refused writes"
expect_eq "$(code "$API/v1/pool")" 200 "reads need no token"

# The right token, Host and content type: done.
expect_eq "$(code -X PUT "${JSON_H[@]}" "${TOKEN_H[@]}" --data '{"replicas": 2}' "$API/v1/pool")" 200 \
    "PUT with the token"
expect_eq "$(jq -r .ready "$PP_TMP/out")" 2 "scaled to 2"
expect_eq "$(code -X POST "${JSON_H[@]}" "${TOKEN_H[@]}" -H "Host: localhost:$API_PORT" \
    "$API/v1/pool/instances/2/restart")" 200 "restart with the token and Host localhost"

# ppctl finds the token in the state dir by itself (--state-dir or PP_STATE_DIR).
expect_eq "$("$PP_BIN/ppctl" --api "$API" --state-dir "$STATE" scale 1 >"$PP_TMP/ppctl.out" 2>&1; echo $?)" 0 \
    "ppctl --state-dir scale 1 ($(head -c 300 "$PP_TMP/ppctl.out"))"
expect_eq "$(PP_STATE_DIR=$STATE "$PP_BIN/ppctl" --api "$API" restart 1 >"$PP_TMP/ppctl.out" 2>&1; echo $?)" 0 \
    "PP_STATE_DIR ppctl restart 1 ($(head -c 300 "$PP_TMP/ppctl.out"))"
expect_eq "$("$PP_BIN/ppctl" --api "$API" --state-dir "$PP_TMP/nowhere" scale 2 >"$PP_TMP/ppctl.out" 2>&1; echo $?)" 1 \
    "ppctl without the token is refused"
expect_match "$(cat "$PP_TMP/ppctl.out")" "Bearer" "ppctl says why"
expect_eq "$(curl -s "$API/v1/pool" | jq -r .replicas)" 1 "replicas after ppctl"

kill -TERM "$MANAGER_PID"
pp_wait_until 20 bash -c "! kill -0 $MANAGER_PID 2>/dev/null" || pp_die "manager still running after SIGTERM"

# A token file group or others may read is no secret: refused at start.
printf '%s\n' 0123456789abcdef0123456789abcdef >"$PP_TMP/loose.token"
chmod 644 "$PP_TMP/loose.token"
rc=0
timeout 10 "$PP_BIN/manager" --runtime process --replicas 1 --base-port "$BASE" --prefix "$PREFIX" \
    --api "127.0.0.1:$(pp_free_port)" --state-dir "$PP_TMP/state-loose" \
    --token-file "$PP_TMP/loose.token" >"$PP_TMP/loose.log" 2>&1 || rc=$?
expect_eq "$rc" 1 "exit status of a manager given a token file others can read"
expect_match "$(cat "$PP_TMP/loose.log")" "loose.token has mode 0644: group or others may read it" \
    "the refusal names the file and its mode"

# --no-auth opens writes on purpose, saying so; Host and content type still hold.
start_manager manager-noauth --api "127.0.0.1:$API_PORT" --state-dir "$STATE" --no-auth
pp_wait_until 20 healthy || pp_die "manager --no-auth not up"
expect_match "$(cat "$PP_TMP/manager-noauth.log")" "warn.*--no-auth" "--no-auth warns"
expect_eq "$(code -X PUT --data '{"replicas": 1}' "$API/v1/pool")" 415 "--no-auth: a form post still refused"
expect_eq "$(code -X PUT "${JSON_H[@]}" --data '{"replicas": 1}' "$API/v1/pool")" 200 "--no-auth: PUT without a token"
kill -TERM "$MANAGER_PID"
pp_wait_until 20 bash -c "! kill -0 $MANAGER_PID 2>/dev/null" || pp_die "manager still running after SIGTERM"

# ---------------------------------------------------------------- balancer admin

[ -x "$PP_BIN/balancer" ] || pp_die "no $PP_BIN/balancer (run make)"
# No silent default: a token file or an explicit --no-auth.
rc=0
timeout 10 "$PP_BIN/balancer" --listen "127.0.0.1:$(pp_free_port)" --admin "127.0.0.1:$(pp_free_port)" \
    --backend "a=127.0.0.1:$BASE" >"$PP_TMP/bal-open.log" 2>&1 || rc=$?
expect_eq "$rc" 2 "exit status of a balancer with neither --token-file nor --no-auth"
expect_match "$(cat "$PP_TMP/bal-open.log")" "needs --token-file" "the balancer says what it needs"
chmod 644 "$PP_TMP/loose.token"
rc=0
timeout 10 "$PP_BIN/balancer" --listen "127.0.0.1:$(pp_free_port)" --admin "127.0.0.1:$(pp_free_port)" \
    --token-file "$PP_TMP/loose.token" >"$PP_TMP/bal-loose.log" 2>&1 || rc=$?
expect_eq "$rc" 1 "exit status of a balancer given a token file others can read"
expect_match "$(cat "$PP_TMP/bal-loose.log")" "mode 0644: group or others may read it" "... and why"

pp_start_balancer --backend "a=127.0.0.1:$BASE" # lib.sh makes it a token file
BAL_TOKEN_H=(-H "Authorization: Bearer $(cat "$PP_BAL_TOKEN_FILE")")
bal_names() { curl -s "$PP_BAL_ADMIN/v1/backends" | jq -r '[.backends[] | select(.removed | not) | .name] | join(",")'; }
evil='{"backends": [{"name": "evil", "address": "127.0.0.1:9"}]}'
expect_eq "$(code -X PUT "${JSON_H[@]}" --data "$evil" "$PP_BAL_ADMIN/v1/backends")" 401 "balancer PUT without a token"
expect_match "$(jq -r .error "$PP_TMP/out")" "Bearer" "... in the error format"
expect_eq "$(code -X PUT "${JSON_H[@]}" -H 'Authorization: Bearer nope' --data "$evil" \
    "$PP_BAL_ADMIN/v1/backends")" 401 "balancer PUT with a wrong token"
expect_eq "$(code -X POST "${JSON_H[@]}" "$PP_BAL_ADMIN/v1/backends/a/drain")" 401 "balancer drain without a token"
expect_eq "$(code -X DELETE "${JSON_H[@]}" "$PP_BAL_ADMIN/v1/backends/a")" 401 "balancer DELETE without a token"
expect_eq "$(code -X POST "${JSON_H[@]}" "$PP_BAL_ADMIN/v1/stats/reset")" 401 "balancer stats reset without a token"
expect_eq "$(code -X PUT "${JSON_H[@]}" "${BAL_TOKEN_H[@]}" -H 'Host: evil.example' --data "$evil" \
    "$PP_BAL_ADMIN/v1/backends")" 421 "balancer PUT with a foreign Host"
expect_eq "$(code -X PUT "${BAL_TOKEN_H[@]}" --data "$evil" "$PP_BAL_ADMIN/v1/backends")" 415 \
    "balancer PUT as a form"
expect_eq "$(bal_names)" a "the backend set unchanged by the refused writes"
expect_eq "$(code -X PUT "${JSON_H[@]}" "${BAL_TOKEN_H[@]}" --data "$evil" "$PP_BAL_ADMIN/v1/backends")" 200 \
    "balancer PUT with the token"
expect_eq "$(bal_names)" evil "the backend set after the PUT with the token"

# ---------------------------------------------------------------- state directory

# refused DIR WHAT PATTERN: a manager given DIR as its state dir exits 1 at
# once, saying PATTERN, and starts nothing.
refused() {
    local rc=0
    timeout 10 "$PP_BIN/manager" --runtime process --replicas 1 --base-port "$BASE" --prefix "$PREFIX" \
        --api "127.0.0.1:$(pp_free_port)" --state-dir "$1" --proxy-arg=--cache-mem=16M \
        >"$PP_TMP/refused.log" 2>&1 || rc=$?
    expect_eq "$rc" 1 "exit status of a manager given $2"
    expect_match "$(cat "$PP_TMP/refused.log")" "$3" "... and why"
    expect_eq "$(pgrep -f -c -- "--name ${PREFIX}1 " || true)" 0 "... no instance started"
}
# A symlink planted where the manager writes its pid file and log: refused,
# both targets (root-only files) untouched.
printf 'precious\n' >"$PP_TMP/victim-pid"
printf 'precious\n' >"$PP_TMP/victim-log"
chmod 600 "$PP_TMP/victim-pid" "$PP_TMP/victim-log"
mkdir -m 700 "$PP_TMP/state-link"
ln -s "$PP_TMP/victim-pid" "$PP_TMP/state-link/${PREFIX}1.pid"
ln -s "$PP_TMP/victim-log" "$PP_TMP/state-link/${PREFIX}1.log"
refused "$PP_TMP/state-link" "a state dir with a planted symlink" "holds a symlink, ${PREFIX}1\.(pid|log): refused"
expect_eq "$(cat "$PP_TMP/victim-pid")" precious "the pid file symlink's target"
expect_eq "$(cat "$PP_TMP/victim-log")" precious "the log symlink's target"
# Owned by another user, or writable by group: that user could plant them.
mkdir -m 700 "$PP_TMP/state-nobody"
chown nobody "$PP_TMP/state-nobody"
refused "$PP_TMP/state-nobody" "a state dir owned by nobody" "is owned by uid [0-9]+, not by the manager's uid 0"
mkdir -m 770 "$PP_TMP/state-group"
chmod 770 "$PP_TMP/state-group" # past the umask
refused "$PP_TMP/state-group" "a group-writable state dir" "has mode 0770: group or others may write"

# Pid files naming processes that are not the manager's: not killed at start.
# Copies of sleep named as the manager's children, so the name check alone
# would take them for its own.
mkdir -p "$PP_TMP/fake"
cp /bin/sleep "$PP_TMP/fake/proxyd"
cp /bin/sleep "$PP_TMP/fake/balancer"
pp_bg foreign-1 "$PP_TMP/fake/proxyd" 300
F1=$PP_LAST_PID
pp_bg foreign-2 "$PP_TMP/fake/proxyd" 300
F2=$PP_LAST_PID
pp_bg foreign-3 "$PP_TMP/fake/balancer" 300
F3=$PP_LAST_PID
mkdir -m 700 "$PP_TMP/state-pids"
echo "$F1" >"$PP_TMP/state-pids/${PREFIX}1.pid"                 # a pid alone
echo "$F2 1" >"$PP_TMP/state-pids/${PREFIX}2.pid"               # not its start time
echo "$F3" >"$PP_TMP/state-pids/${PREFIX}-balancer.pid"
API_PORT=$(pp_free_port)
API=http://127.0.0.1:$API_PORT
start_manager manager-pids --api "127.0.0.1:$API_PORT" --state-dir "$PP_TMP/state-pids"
pp_wait_until 20 healthy || pp_die "manager not up"
for f in "$F1" "$F2" "$F3"; do
    expect_eq "$(pp_alive "$f" && echo alive || echo killed)" alive "a foreign process named by a pid file (pid $f)"
done
expect_match "$(cat "$PP_TMP/manager-pids.log")" "not stopping pid $F2 named by ${PREFIX}2.pid: .*not at 1 as recorded" \
    "the manager says why it spared it"
expect_match "$(cat "$PP_TMP/state-pids/${PREFIX}1.pid")" "^[0-9]+ [0-9]+$" "its own pid file records the start time"
kill -TERM "$MANAGER_PID"
pp_wait_until 20 bash -c "! kill -0 $MANAGER_PID 2>/dev/null" || pp_die "manager still running after SIGTERM"
