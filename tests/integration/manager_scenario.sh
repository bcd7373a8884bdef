# shellcheck shell=bash
# The manager scenario, sourced by 60_manager_process.sh (RUNTIME=process)
# and 61_manager_container.sh (RUNTIME=container), against real proxyd
# instances and a real nginx origin: scale 1 -> 8 -> 2 -> 32 -> 1 through the
# REST API, every instance proxying a request at each step; bad requests
# refused with their status and the pool unchanged; kill -9 of an instance
# replaced and counted; SIGTERM leaves no process (and, for containers, no
# link or cgroup); kill -9 of the manager, then a new manager, which adopts
# the first one's instances and drains those above its --replicas, leaves
# no orphan. The container runtime runs in a test network
# namespace, so its bridge and veths never touch the host's network.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

[ -x "$PP_BIN/manager" ] || pp_die "no $PP_BIN/manager (run make)"
[ "$RUNTIME" = process ] || pp_need_root "namespaces, cgroups"
pp_make_file "$PP_TMP/www/obj" 65536
PREFIX=t$$
PREFIX=${PREFIX:0:7}
IN=()
EXTRA=()
if [ "$RUNTIME" = container ]; then
    tns=$(pp_netns mgr)
    # nsenter, not `ip netns exec`, which remounts /sys and hides the cgroups.
    IN=(nsenter --net="/run/netns/$tns")
    ip -n "$tns" addr add 198.19.1.2/32 dev lo
    odir=$PP_TMP/nginx-ns
    mkdir -p "$odir/tmp"
    cat >"$odir/nginx.conf" <<NGINX
daemon off; master_process off; worker_processes 1; user root;
pid $odir/nginx.pid; error_log $odir/error.log;
events { worker_connections 256; }
http {
    access_log $odir/access.log;
    client_body_temp_path $odir/tmp; proxy_temp_path $odir/tmp; fastcgi_temp_path $odir/tmp;
    uwsgi_temp_path $odir/tmp; scgi_temp_path $odir/tmp;
    server { listen 198.19.1.2:80; root $PP_TMP/www;
             location / { add_header Cache-Control "max-age=3600"; } }
}
NGINX
    pp_bg nginx-ns "${IN[@]}" nginx -c "$odir/nginx.conf"
    PP_ORIGIN_URL=http://198.19.1.2
    EXTRA=(--subnet 198.19.0.0/24 --bridge "${PREFIX}br" --cpus 1 --memory 256M)
    cleanup_prefix() { # what a failed run may leave: processes by cgroup, then the groups
        local d
        for d in $(find /sys/fs/cgroup -maxdepth 3 -type d -name "$PREFIX*" | sort -r); do
            xargs -r kill -KILL <"$d/cgroup.procs" 2>/dev/null || true
        done
        sleep 0.2
        find /sys/fs/cgroup -maxdepth 3 -depth -type d -name "$PREFIX*" -exec rmdir {} \; 2>/dev/null || true
    }
    pp_on_cleanup cleanup_prefix
else
    pp_start_nginx_origin "$PP_TMP/www"
    # proxyd refuses loopback destinations unless opened: this origin is one.
    EXTRA=(--proxy-arg=--allow-dest=127.0.0.1/32)
fi

STATE=$PP_TMP/state
API_PORT=$(pp_free_port)
API=http://127.0.0.1:$API_PORT
BASE=$(pp_free_port)
# Instances use BASE+1..BASE+32 and their admins BASE+101..BASE+132.

start_manager() {
    pp_bg "manager-$1" "${IN[@]}" "$PP_BIN/manager" --runtime "$RUNTIME" --replicas 1 \
        --api "127.0.0.1:$API_PORT" --base-port "$BASE" --state-dir "$STATE" --prefix "$PREFIX" \
        --drain-timeout 5s --proxy-arg=--cache-mem=16M --proxy-arg=--max-object-size=1M \
        "${EXTRA[@]}"
    MANAGER_PID=$PP_LAST_PID
    pp_wait_until 20 api_up || pp_die "manager API not up: $(tail -5 "$PP_TMP/manager-$1.log")"
}
api_up() {
    kill -0 "$MANAGER_PID" 2>/dev/null || pp_die "manager exited: $(tail -5 "$PP_TMP/manager-$MANAGER_PID.log" 2>/dev/null)"
    [ "$("${IN[@]}" curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$API/healthz")" = 200 ]
}
# Every HTTP client call goes through here: in the test namespace if any.
pp_curl() { "${IN[@]}" curl -sS --max-time "$PP_CURL_MAX_TIME" "$@"; }
ready_is() { [ "$(pool | jq -r .ready 2>/dev/null)" = "$1" ]; }

pool() { pp_curl "$API/v1/pool"; }
ready_count() { pool | jq -r .ready; }

# put PATH BODY [CURL ARGS]: prints "STATUS BODY".
put() {
    local path=$1 body=$2
    shift 2
    pp_curl -X PUT -o "$PP_TMP/put.body" -w '%{http_code}' -H "@$(pp_api_headers "$STATE/api.token")" \
        --max-time 60 --data-binary "$body" "$@" "$API$path"
    echo " $(cat "$PP_TMP/put.body")"
}

# Every instance in GET /v1/pool answers a proxied request with its own name.
check_all_instances_proxy() {
    local n=$1 got i name addr
    got=$(pool)
    expect_eq "$(jq -r .replicas <<<"$got")" "$n" "desired replicas"
    expect_eq "$(jq -r .ready <<<"$got")" "$n" "ready instances"
    expect_eq "$(jq -r '.instances | length' <<<"$got")" "$n" "instances listed"
    for ((i = 0; i < n; i++)); do
        name=$(jq -r ".instances[$i].name" <<<"$got")
        addr=$(jq -r ".instances[$i].address" <<<"$got")
        expect_eq "$(jq -r ".instances[$i].state" <<<"$got")" ready "state of $name"
        code=$(pp_curl -x "http://$addr" -o /dev/null -D "$PP_TMP/h" -w '%{http_code}' "$PP_ORIGIN_URL/obj")
        expect_eq "$code" 200 "request through $name at $addr"
        expect_match "$(pp_header "$PP_TMP/h" x-cache)" "(HIT|MISS) from $name\$" "X-Cache of $name"
    done
}

start_manager 1
pp_wait_until 20 ready_is 1 || pp_die "the first instance never became ready: $(pool)"
expect_eq "$(pp_curl -o /dev/null -w '%{http_code}' "$API/healthz")" 200 "manager /healthz"
expect_eq "$(pool | jq -r .runtime)" "$RUNTIME" "runtime"
check_all_instances_proxy 1
expect_ge "$(pool | jq -r '.instances[0].ready_ms')" 0 "ready_ms measured"

for n in 8 2 32 1; do
    out=$(put /v1/pool "{\"replicas\": $n}")
    expect_eq "${out%% *}" 200 "PUT replicas=$n"
    expect_eq "$(jq -r .ready <<<"${out#* }")" "$n" "answer of PUT replicas=$n says ready"
    check_all_instances_proxy "$n"
done
# Scaled down: the processes of instances 2..32 are gone.
expect_eq "$(pgrep -f -c -- "--name ${PREFIX}(2|3|[12][0-9]|3[0-2]) " || true)" 0 "proxyd processes of removed instances"

# Bad requests: each refused with its status and a one-sentence error; the
# pool is unchanged.
before=$(pool | jq -c '[.replicas, [.instances[].pid]]')
check_refused() {
    local want=$1 what=$2 out
    shift 2
    out=$("$@")
    expect_eq "${out%% *}" "$want" "$what: status"
    expect_match "$(jq -r .error <<<"${out#* }")" "^[A-Za-z].{8,}" "$what: error sentence"
}
check_refused 400 "replicas 0" put /v1/pool '{"replicas": 0}'
check_refused 400 "replicas 33" put /v1/pool '{"replicas": 33}'
check_refused 400 "replicas -1" put /v1/pool '{"replicas": -1}'
check_refused 400 "replicas 2.5" put /v1/pool '{"replicas": 2.5}'
check_refused 400 "replicas a string" put /v1/pool '{"replicas": "4"}'
check_refused 400 "replicas 2^63" put /v1/pool '{"replicas": 9223372036854775808}'
check_refused 400 "invalid JSON" put /v1/pool '{"replicas": '
check_refused 400 "unknown field" put /v1/pool '{"replicas": 2, "color": "red"}'
check_refused 400 "not an object" put /v1/pool '[2]'
head -c 2000000 /dev/zero | tr '\0' ' ' >"$PP_TMP/big.json"
check_refused 413 "oversized body" put /v1/pool "@$PP_TMP/big.json"
out=$(pp_curl -o "$PP_TMP/b" -w '%{http_code}' "$API/v1/nothing-here"); expect_eq "$out" 404 "unknown path"
out=$(pp_curl -o "$PP_TMP/b" -w '%{http_code}' -X DELETE "$API/v1/pool"); expect_eq "$out" 405 "DELETE /v1/pool"
out=$(pp_curl -o "$PP_TMP/b" -w '%{http_code}' "$API/v1/pool/instances/7"); expect_eq "$out" 404 "unused instance"
expect_eq "$(pool | jq -c '[.replicas, [.instances[].pid]]')" "$before" "pool unchanged by refused requests"

# kill -9 of an instance: replaced and counted.
victim=$(pool | jq -r '.instances[0].pid')
kill -9 "$victim"
restarted_and_ready() { [ "$(pool | jq -r '.instances[0].restarts')" = 1 ] && ready_is 1; }
pp_wait_until 20 restarted_and_ready || pp_die "killed instance not replaced: $(pool)"
expect_ne "$(pool | jq -r '.instances[0].pid')" "$victim" "new pid after kill -9"
check_all_instances_proxy 1
expect_match "$(pp_curl "$API/metrics")" "restarts_total 1" "metrics count the restart"

# Explicit restart.
code=$(pp_api POST "$API/v1/pool/instances/1/restart" "" -o /dev/null -w '%{http_code}' --max-time 30)
expect_eq "$code" 200 "POST restart"
expect_eq "$(pool | jq -r '.instances[0].restarts')" 2 "restart counted"

# SIGTERM: every instance drained and stopped, nothing left.
put /v1/pool '{"replicas": 4}' >/dev/null
pids=$(pool | jq -r '.instances[].pid')
kill -TERM "$MANAGER_PID"
pp_wait_until 20 bash -c "! kill -0 $MANAGER_PID 2>/dev/null" || pp_die "manager still running after SIGTERM"
for p in $pids; do
    if kill -0 "$p" 2>/dev/null; then pp_die "instance pid $p outlived the manager's SIGTERM"; fi
done
expect_eq "$(find "$STATE" -name '*.pid' | wc -l)" 0 "pid files left"
if [ "$RUNTIME" = container ]; then
    expect_eq "$("${IN[@]}" ip -o link show | grep -c "$PREFIX" || true)" 0 "links left after SIGTERM"
    expect_eq "$(find /sys/fs/cgroup -maxdepth 3 -type d -name "$PREFIX*" | wc -l)" 0 "cgroups left after SIGTERM"
fi

# kill -9 of the manager leaves its instances running (they keep serving).
# The next manager adopts them (same pids; at --replicas 1 it drains the two
# above, and with containers removes their veths and cgroups).
start_manager 2
pp_wait_until 20 ready_is 1 || pp_die "second manager not ready"
put /v1/pool '{"replicas": 3}' >/dev/null
old=$(pool | jq -r '.instances[].pid')
kill -9 "$MANAGER_PID"
sleep 0.2
for p in $old; do kill -0 "$p" 2>/dev/null || pp_die "instance $p died with the manager (fail-static expected)"; done
start_manager 3
pp_wait_until 20 ready_is 1 || pp_die "third manager not ready"
running() { kill -0 "$1" 2>/dev/null && [[ "$(ps -o stat= -p "$1")" != Z* ]]; }
others_gone() {
    local p
    for p in "$@"; do if running "$p"; then return 1; fi; done
}
first=$(head -n 1 <<<"$old")
expect_eq "$(pool | jq -r '.instances[0].pid')" "$first" "instance 1 adopted: same pid"
expect_match "$(cat "$PP_TMP/manager-3.log")" "pool: adopted ${PREFIX}1 " "the adoption is logged"
# shellcheck disable=SC2046 # one pid per word
pp_wait_until 10 others_gone $(tail -n +2 <<<"$old") ||
    pp_die "adopted instances above --replicas 1 still running"
if [ "$RUNTIME" = container ]; then
    veths() { "${IN[@]}" ip -o link show | grep -c "${PREFIX}v" || true; }
    pp_wait_until 10 test "$(veths)" = 1 || pp_die "veths of the drained instances left: $(veths)"
    expect_eq "$(find /sys/fs/cgroup -maxdepth 3 -type d -name "${PREFIX}[23]" | wc -l)" 0 "cgroups of the drained instances"
fi
check_all_instances_proxy 1

# Last: SIGTERM again leaves nothing.
kill -TERM "$MANAGER_PID"
pp_wait_until 20 bash -c "! kill -0 $MANAGER_PID 2>/dev/null" || pp_die "manager still running after SIGTERM"
expect_eq "$(pgrep -f -c -- "--name ${PREFIX}[0-9]" || true)" 0 "proxyd processes left"
if [ "$RUNTIME" = container ]; then
    expect_eq "$("${IN[@]}" ip -o link show | grep -c "$PREFIX" || true)" 0 "links left"
    expect_eq "$(find /sys/fs/cgroup -maxdepth 3 -type d -name "$PREFIX*" | wc -l)" 0 "cgroups left"
fi
