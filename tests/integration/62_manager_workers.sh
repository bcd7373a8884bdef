#!/usr/bin/env bash
# The manager's Squid and nginx workers (--worker squid|nginx), in the
# process runtime and in the container runtime (in a test network namespace,
# as 61 does), against a real nginx origin serving a 1 MiB object (1024 KB:
# Squid 5 caches it only because the manager raises its object-size limit by
# the headers' allowance): scale 1 -> 4 -> 1, at each step a MISS then a HIT
# through every instance with X-Cache naming it; GET /v1/pool says the
# worker; kill -9 of an instance's main process is replaced with nothing of
# the old one left; SIGTERM of the manager leaves no process, tmpfs cache,
# shared-memory segment, pid file, link or cgroup; kill -9 of the manager,
# then a new manager, adopts the instance it keeps and drains the other,
# every process of it. Access rules:
# through every worker kind in both runtimes, loopback
# (the manager's own API among it, a PUT that would scale the pool),
# localhost and the link-local metadata address are refused with 403 and the
# pool is unchanged; the process runtime's origin on loopback is reached
# because --proxy-arg=--origin names it (the operator's choice, as proxyd's
# reverse origin), on its port only.
# timeout: 150
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

[ -x "$PP_BIN/manager" ] || pp_die "no $PP_BIN/manager (run make)"
pp_need_root "namespaces, cgroups"
pp_need_tool squid "deploy/setup.sh installs it"
pp_need_tool nginx "deploy/setup.sh installs it"
PREFIX=w$$
PREFIX=${PREFIX:0:7}
OBJ_BYTES=1048576 # the paper's 1024 KB object

# Objects: one per step, so each step's first request through an instance
# is a MISS however earlier steps went.
for s in a b c d e f g h; do pp_make_file "$PP_TMP/www/obj-$s" "$OBJ_BYTES"; done

# The container runtime's world: a test network namespace holding the
# origin at 198.19.1.2:80 (the testbed's), the bridge and the veths.
tns=$(pp_netns wk)
NS=(nsenter --net="/run/netns/$tns") # not `ip netns exec`: it hides the cgroups
ip -n "$tns" addr add 198.19.1.2/32 dev lo
odir=$PP_TMP/nginx-ns
mkdir -p "$odir/tmp"
cat >"$odir/nginx.conf" <<NGINX
daemon off; master_process off; worker_processes 1; user root;
pid $odir/nginx.pid; error_log $odir/error.log;
events { worker_connections 256; }
http {
    log_format pp '\$remote_addr \$request_method \$request_uri \$status';
    access_log $odir/access.log pp;
    client_body_temp_path $odir/tmp; proxy_temp_path $odir/tmp; fastcgi_temp_path $odir/tmp;
    uwsgi_temp_path $odir/tmp; scgi_temp_path $odir/tmp;
    server { listen 198.19.1.2:80; root $PP_TMP/www;
             location / { add_header Cache-Control "max-age=3600"; } }
}
NGINX
pp_bg nginx-ns "${NS[@]}" nginx -c "$odir/nginx.conf"
# The process runtime's origin, on loopback.
pp_start_nginx_origin "$PP_TMP/www"
PROC_ORIGIN_URL=$PP_ORIGIN_URL

cleanup_prefix() { # what a failed run may leave: processes by cgroup, the groups, tmpfs
    local d
    for d in $(find /sys/fs/cgroup -maxdepth 3 -type d -name "$PREFIX*" | sort -r); do
        xargs -r kill -KILL <"$d/cgroup.procs" 2>/dev/null || true
    done
    instance_pids | xargs -r kill -KILL 2>/dev/null || true
    sleep 0.2
    find /sys/fs/cgroup -maxdepth 3 -depth -type d -name "$PREFIX*" -exec rmdir {} \; 2>/dev/null || true
    rm -rf /dev/shm/"$PREFIX"-* /dev/shm/"$PREFIX"*-cf__*.shm
}
pp_on_cleanup cleanup_prefix

API_PORT=$(pp_free_port)
API=http://127.0.0.1:$API_PORT
BASE=$(pp_free_port) # process runtime: instances on BASE+1..BASE+4
MGR_SEQ=0

# Run in the test namespace for the container runtime, here for process.
in_ns() {
    if [ "$RUNTIME" = container ]; then "${NS[@]}" "$@"; else "$@"; fi
}
pp_curl() { in_ns curl -sS --max-time "$PP_CURL_MAX_TIME" "$@"; }
pool() { pp_curl "$API/v1/pool"; }
ready_is() { [ "$(pool 2>/dev/null | jq -r .ready 2>/dev/null)" = "$1" ]; }

start_manager() {
    local extra=("$@") wrap=()
    MGR_SEQ=$((MGR_SEQ + 1))
    STATE=$PP_TMP/state
    if [ "$RUNTIME" = container ]; then
        wrap=("${NS[@]}")
        extra+=(--subnet 198.19.0.0/24 --bridge "${PREFIX}br" --cpus 1 --memory 1G)
    else
        extra+=("--proxy-arg=--origin=${PROC_ORIGIN_URL#http://}")
    fi
    MGR_LOG=$PP_TMP/manager-$MGR_SEQ.log
    pp_bg "manager-$MGR_SEQ" "${wrap[@]}" "$PP_BIN/manager" --worker "$WORKER" --runtime "$RUNTIME" --replicas 1 \
        --api "127.0.0.1:$API_PORT" --base-port "$BASE" --state-dir "$STATE" --prefix "$PREFIX" \
        --drain-timeout 10s --ready-timeout 10s \
        --proxy-arg=--cache-mem=64M --proxy-arg=--max-object-size=1024K "${extra[@]}"
    MANAGER_PID=$PP_LAST_PID
    pp_wait_until 20 ready_is 1 || pp_die "manager $MGR_SEQ ($WORKER, $RUNTIME) not ready: $(tail -5 "$MGR_LOG")"
}

stop_manager() {
    kill -TERM "$MANAGER_PID"
    pp_wait_until 30 bash -c "! kill -0 $MANAGER_PID 2>/dev/null" || pp_die "manager still running 30 s after SIGTERM"
}

# Every process of the current run's instances: their command lines name
# the state dir (squid -f DIR/squid.conf; nginx -p DIR, its worker inherits
# the master's title) or, in containers, they sit in the manager's cgroups.
instance_pids() {
    local d
    {
        pgrep -f -- "$PP_TMP/state/" || true
        pgrep -f -- "nginx: (worker|cache manager|cache loader) process" | while read -r p; do
            # nginx children carry no path: theirs is their parent's.
            if ps -o args= -p "$(ps -o ppid= -p "$p" | tr -d ' ')" 2>/dev/null | grep -q -- "$PP_TMP/state/"; then echo "$p"; fi
        done
        find /sys/fs/cgroup -maxdepth 3 -type d -name "${PREFIX}[0-9]*" -exec cat {}/cgroup.procs \;
    } | sort -u
}

# N instances listed, ready, each answering a MISS then a HIT for the
# step's object, naming itself in X-Cache.
check_step() {
    local n=$1 obj=$2 got i name addr code xc
    got=$(pool)
    expect_eq "$(jq -r .worker <<<"$got")" "$WORKER" "GET /v1/pool worker"
    expect_eq "$(jq -r .ready <<<"$got")" "$n" "ready instances ($WORKER, $RUNTIME)"
    expect_eq "$(jq -r '.instances | length' <<<"$got")" "$n" "instances listed"
    for ((i = 0; i < n; i++)); do
        name=$(jq -r ".instances[$i].name" <<<"$got")
        addr=$(jq -r ".instances[$i].address" <<<"$got")
        expect_eq "$(jq -r ".instances[$i].admin" <<<"$got")" null "admin of $name (none: the balancer checks by connect)"
        for want in MISS HIT; do
            code=$(pp_curl -x "http://$addr" -o "$PP_TMP/body" -D "$PP_TMP/h" -w '%{http_code}' "$ORIGIN_URL/$obj")
            expect_eq "$code" 200 "$obj through $name at $addr"
            expect_file_eq "$PP_TMP/body" "$PP_TMP/www/$obj" "$obj through $name"
            xc=$(pp_header "$PP_TMP/h" x-cache)
            expect_match "$xc" "^$want from $name\$" "X-Cache of $name, request for a $want"
        done
    done
}

# Through the first instance: destinations that are this host are refused,
# and the manager's API is not reached (the pool stays as it is).
check_refusals() {
    local addr before code url
    addr=$(pool | jq -r '.instances[0].address')
    before=$(pool | jq -c '[.replicas, (.instances | length)]')
    code=$(pp_curl -x "http://$addr" -X PUT -H 'Content-Type: application/json' --data '{"replicas": 3}' \
        -o "$PP_TMP/refused.body" -w '%{http_code}' "$API/v1/pool")
    expect_eq "$code" 403 "$WORKER ($RUNTIME): PUT to the manager's API through $addr"
    for url in "http://localhost:$API_PORT/v1/pool" "http://127.0.0.2:${PROC_ORIGIN_URL##*:}/obj-a" \
        http://169.254.169.254/latest/meta-data/ "http://0.0.0.0:$API_PORT/v1/pool"; do
        code=$(pp_curl -x "http://$addr" -o "$PP_TMP/refused.body" -w '%{http_code}' "$url")
        expect_eq "$code" 403 "$WORKER ($RUNTIME): $url through $addr"
    done
    sleep 0.3
    expect_eq "$(pool | jq -c '[.replicas, (.instances | length)]')" "$before" "$WORKER ($RUNTIME): pool unchanged"
}
# Privileges: every process of the instances but nginx's
# master runs as a user other than root, and in the container runtime none
# can ever hold CAP_SYS_ADMIN or CAP_NET_ADMIN (bits 21 and 12 of CapBnd).
check_privileges() {
    local p st uid bnd comm
    for p in $(instance_pids); do
        st=$(cat "/proc/$p/status" 2>/dev/null) || continue
        comm=$(ps -o args= -p "$p")
        uid=$(awk '/^Uid:/ { print $3 }' <<<"$st")
        bnd=$(awk '/^CapBnd:/ { print $2 }' <<<"$st")
        pp_log "$WORKER ($RUNTIME) pid $p ($comm): euid $uid CapBnd $bnd CapEff $(awk '/^CapEff:/ { print $2 }' <<<"$st")"
        if [[ "$comm" != "nginx: master process"* ]]; then
            expect_ne "$uid" 0 "$WORKER ($RUNTIME) pid $p runs as a user other than root"
        fi
        if [ "$RUNTIME" = container ]; then
            expect_eq "$((16#$bnd & (1 << 21 | 1 << 12)))" 0 "$WORKER ($RUNTIME) pid $p: no CAP_SYS_ADMIN, CAP_NET_ADMIN in CapBnd"
        fi
    done
}

nothing_left() {
    local what=$1 left
    left=$(instance_pids)
    expect_eq "$(echo -n "$left" | grep -c . || true)" 0 "$WORKER processes left after $what ($left)"
    expect_eq "$(find /dev/shm -maxdepth 1 -name "$PREFIX*" | wc -l)" 0 "tmpfs caches and shm segments left after $what"
    expect_eq "$(find "$STATE" -name '*.pid' | wc -l)" 0 "pid files left after $what"
    if [ "$RUNTIME" = container ]; then
        expect_eq "$("${NS[@]}" ip -o link show | grep -c "$PREFIX" || true)" 0 "links left after $what"
        expect_eq "$(find /sys/fs/cgroup -maxdepth 3 -type d -name "$PREFIX*" | wc -l)" 0 "cgroups left after $what"
    fi
}

run_worker() {
    WORKER=$1 RUNTIME=$2
    pp_log "==== $WORKER workers, $RUNTIME runtime"
    if [ "$RUNTIME" = container ]; then ORIGIN_URL=http://198.19.1.2; else ORIGIN_URL=$PROC_ORIGIN_URL; fi
    local step=0 objs=(a b c d e) pids out n victim

    start_manager
    check_step 1 "obj-${objs[0]}"
    check_refusals
    check_privileges
    for n in 4 1; do
        step=$((step + 1))
        out=$(pp_curl -X PUT -o "$PP_TMP/put.body" -w '%{http_code}' -H "@$(pp_api_headers "$STATE/api.token")" \
            --max-time 60 --data-binary "{\"replicas\": $n}" "$API/v1/pool")
        expect_eq "$out" 200 "PUT replicas=$n: $(cat "$PP_TMP/put.body")"
        check_step "$n" "obj-${objs[$step]}"
    done
    # Scaled down to 1: the processes of instances 2..4 are gone.
    expect_eq "$(instance_pids | xargs -r ps -o args= -p | grep -c -E "${PREFIX}[2-4]/" || true)" 0 "processes of removed instances"
    pids=$(instance_pids | wc -l)
    expect_ge "$pids" 1 "processes of instance 1"
    pp_log "instance 1 runs as $pids process(es): $(instance_pids | xargs -r ps -o comm= -p | sort | uniq -c | tr -s ' \n' ' ')"

    # kill -9 of its main process: every process of it goes, a new one serves.
    victim=$(pool | jq -r '.instances[0].pid')
    local before
    before=$(instance_pids | tr '\n' ' ')
    kill -9 "$victim"
    replaced() { [ "$(pool | jq -r '.instances[0].restarts')" = 1 ] && ready_is 1; }
    pp_wait_until 20 replaced || pp_die "killed $WORKER not replaced: $(pool)"
    for p in $before; do
        if kill -0 "$p" 2>/dev/null && [[ "$(ps -o stat= -p "$p")" != Z* ]]; then
            pp_die "process $p ($(ps -o args= -p "$p")) of the killed $WORKER still running"
        fi
    done
    check_step 1 "obj-${objs[3]}"

    stop_manager
    nothing_left "SIGTERM of the manager"

    # kill -9 of the manager: instances keep serving; the next manager
    # adopts them, keeps instance 1 (--replicas 1) and drains instance 2,
    # every process of it (its process group).
    start_manager
    out=$(pp_curl -X PUT -o /dev/null -w '%{http_code}' -H "@$(pp_api_headers "$STATE/api.token")" \
        --max-time 60 --data-binary '{"replicas": 2}' "$API/v1/pool")
    expect_eq "$out" 200 "PUT replicas=2"
    local old first second
    old=$(instance_pids | tr '\n' ' ')
    first=$(pool | jq -r '.instances[0].pid')
    second=$(pool | jq -r '.instances[1].pid')
    kill -9 "$MANAGER_PID"
    sleep 0.3
    for p in $old; do kill -0 "$p" 2>/dev/null || pp_die "$WORKER pid $p died with the manager (fail-static expected)"; done
    start_manager
    expect_eq "$(pool | jq -r '.instances[0].pid')" "$first" "instance 1 adopted: same pid"
    expect_match "$(cat "$MGR_LOG")" "pool: adopted ${PREFIX}1 " "the adoption is logged"
    group_gone() { ! pgrep -g "$second" >/dev/null; }
    pp_wait_until 20 group_gone ||
        pp_die "processes of the adopted instance 2 still running after its drain: $(pgrep -a -g "$second")"
    check_step 1 "obj-${objs[4]}"
    stop_manager
    nothing_left "kill -9 of the manager, a new one, and its SIGTERM"
}

# Balancer forwarding (container runtime, in the test namespace): the
# instances are its backends with no health address, so it checks them by
# TCP connect, and clients reach them through the VIP.
run_balancer() {
    WORKER=$1 RUNTIME=container ORIGIN_URL=http://198.19.1.2
    pp_log "==== $WORKER workers behind the balancer"
    local bal_admin out i xc
    bal_admin=127.0.0.1:$(pp_free_port)
    start_manager --forwarding balancer --vip 198.19.255.10:3128 --balancer-admin "$bal_admin"
    out=$(pp_curl -X PUT -o /dev/null -w '%{http_code}' -H "@$(pp_api_headers "$STATE/api.token")" \
        --max-time 60 --data-binary '{"replicas": 2}' "$API/v1/pool")
    expect_eq "$out" 200 "PUT replicas=2 (balancer)"
    backends_up() { [ "$(pp_curl "http://$bal_admin/v1/backends" | jq -r '[.backends[] | select(.state == "up")] | length')" = 2 ]; }
    pp_wait_until 10 backends_up || pp_die "balancer backends not up: $(pp_curl "http://$bal_admin/v1/backends")"
    expect_eq "$(pp_curl "http://$bal_admin/v1/backends" | jq -c '[.backends[].health]')" "[null,null]" "backends' health addresses (TCP connect checks)"
    for i in 1 2 3 4; do
        code=$(pp_curl -x http://198.19.255.10:3128 -o "$PP_TMP/body" -D "$PP_TMP/h" -w '%{http_code}' "$ORIGIN_URL/obj-f")
        expect_eq "$code" 200 "request $i through the balancer's VIP"
        xc=$(pp_header "$PP_TMP/h" x-cache)
        expect_match "$xc" "^(MISS|HIT) from ${PREFIX}[12]\$" "X-Cache through the VIP"
    done
    stop_manager
    nothing_left "SIGTERM of the manager (balancer mode)"
}

for rt in process container; do
    for w in squid nginx; do
        run_worker "$w" "$rt"
    done
done
for w in squid nginx; do
    run_balancer "$w"
done
