#!/usr/bin/env bash
# balancer against HAProxy 2.6 in TCP mode, all on loopback: the
# same nginx origin behind each, the same wrk load, and wrk straight to nginx
# ("direct") for what one hop adds. HAProxy runs with nbthread 1 (the
# headline: the balancer is one thread too) and, as haproxy-mt, with its
# default threads (one per CPU it may use, so it is not pinned), both with
# option splice-auto. Interleaved rounds in a rotating order; per target the
# medians of req/s, p50 and p99 (wrk --latency) and of the proxy's own CPU
# (utime+stime from /proc/PID/stat) per GB relayed (requests x object size)
# and per request; then balancer/HAProxy ratios against the issue's target
# (>= 1.1x req/s, p99 no worse), both of the medians and paired (the median
# of the per-round ratios: neighbours on a shared machine come and go, and a
# round's runs are close in time), and the p50/p99 each hop adds over direct.
# Two object sizes: 1m (bandwidth-bound) and 1k (per-request cost bound).
#
# Usage: bench/balancer-peers.sh [--targets direct,haproxy,haproxy-mt,balancer]
#            [--sizes 1m,1k] [--rounds R] [--duration S] [-c C] [-t T]
#            [--algo ALGO] [--out DIR] [--perf] [--proxy-cpu PCT]
#   --perf  after the measured rounds, one extra run per proxy and size under
#           perf record -g (not in the medians); reports in OUT/perf-*.txt
#   --proxy-cpu PCT  each proxy in its own cgroup with PCT% of one CPU (a
#           CFS quota): the same CPU budget for both, so req/s is set by how
#           much each does with it, not by wrk and nginx on the other core
# A verdict is met or missed only when every run behind it is valid; else it
# reads invalid (why): a wrk socket error, timeout or non-2xx answer, zero
# requests, wrk failing, a figure that did not parse, a proxy that did not
# start, was gone after a run or used no CPU, or an object that did not come
# back whole through it before the runs.
# Env: ROUNDS (default 7), DURATION (s per wrk run, default 4), C (wrk
#      connections, default 20), T (wrk threads, default 1), OUT, PP_BUILD,
#      BENCH_OBJECT_SIZE (same as --sizes), SERVER_CPUS / CLIENT_CPUS (taskset
#      lists: the proxy on SERVER_CPUS, wrk and nginx on CLIENT_CPUS; default
#      0 and the rest), BALANCER (the balancer binary, default
#      PP_BUILD/bin/balancer; BALANCER=/bin/false checks the validity gate:
#      the balancer never listens, and every verdict must read invalid),
#      HAPROXY (default /usr/sbin/haproxy).
set -euo pipefail
BENCH_NAME="balancer-peers"
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy no_proxy NO_PROXY

repo=$(cd "$(dirname "$0")/.." && pwd)
PP_BUILD=${PP_BUILD:-$repo/build}
BALANCER=${BALANCER:-$PP_BUILD/bin/balancer}
HAPROXY=${HAPROXY:-/usr/sbin/haproxy}

# Bounds, so a typo cannot run for hours: ROUNDS x targets x sizes x DURATION.
ROUNDS_MAX=20
DURATION_MAX=60
C_MAX=1000
T_MAX=16
# wrk gets this long past its duration before it is killed.
WRK_GRACE_S=30
# A response slower than this counts as a wrk timeout error.
WRK_TIMEOUT=10s
# Proxy timeouts, the same on both: connect 2 s, idle 60 s (balancer defaults).
CONNECT_TIMEOUT=2s
IDLE_TIMEOUT=60s
# Client connections at once, the same on both: what a 20000 open-file limit
# allows the balancer (2 sockets and 2 pipes per connection, 6.25 descriptors
# by its own count) and HAProxy.
MAX_CONNS=3000

rounds=${ROUNDS:-7}
duration=${DURATION:-4}
c=${C:-20}
t=${T:-1}
sizes_wanted=${BENCH_OBJECT_SIZE:-1m,1k}
targets_wanted=direct,haproxy,haproxy-mt,balancer
algo=roundrobin
out=${OUT:-}
perf=0
proxy_cpu=${PROXY_CPU:-}

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

while [ "$#" -gt 0 ]; do
    case "$1" in
    --targets) targets_wanted=$2 && shift ;;
    --sizes) sizes_wanted=$2 && shift ;;
    --rounds) rounds=$2 && shift ;;
    --duration) duration=$2 && shift ;;
    -c) c=$2 && shift ;;
    -t) t=$2 && shift ;;
    --algo) algo=$2 && shift ;;
    --out) out=$2 && shift ;;
    --perf) perf=1 ;;
    --proxy-cpu) proxy_cpu=$2 && shift ;;
    -h | --help) usage && exit 0 ;;
    *) echo "balancer-peers: unknown argument '$1'" >&2 && usage >&2 && exit 64 ;;
    esac
    shift
done

bad() { echo "balancer-peers: $*" >&2 && exit 64; }
# in_range VALUE LOW HIGH
in_range() { is_uint "$1" && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }
in_range "$rounds" 1 "$ROUNDS_MAX" || bad "ROUNDS must be 1..$ROUNDS_MAX"
in_range "$duration" 1 "$DURATION_MAX" || bad "DURATION must be 1..$DURATION_MAX s"
in_range "$c" 1 "$C_MAX" || bad "C must be 1..$C_MAX"
in_range "$t" 1 "$T_MAX" || bad "T must be 1..$T_MAX"
[ "$t" -le "$c" ] || bad "T must be at most C"
[ -z "$proxy_cpu" ] || in_range "$proxy_cpu" 1 100 || bad "--proxy-cpu must be 1..100 (% of one CPU)"
case "$algo" in p2c-ewma | leastconn | roundrobin | source) ;; *) bad "unknown --algo $algo" ;; esac


targets=()
for x in direct haproxy haproxy-mt balancer; do
    if want "$x" "$targets_wanted"; then targets+=("$x"); fi
done
sizes=()
for x in 1m 1k; do
    if want "$x" "$sizes_wanted"; then sizes+=("$x"); fi
done
[ "${#targets[@]}" -gt 0 ] || bad "no target to run (direct, haproxy, haproxy-mt, balancer)"
[ "${#sizes[@]}" -gt 0 ] || bad "no object size to run (1m, 1k)"

for tool in wrk nginx curl taskset ss; do
    command -v "$tool" >/dev/null || { echo "balancer-peers: $tool missing (deploy/setup.sh)" >&2 && exit 1; }
done
if want balancer "$targets_wanted" && [ ! -x "$BALANCER" ]; then
    echo "balancer-peers: $BALANCER not built (run make)" >&2 && exit 1
fi
if { want haproxy "$targets_wanted" || want haproxy-mt "$targets_wanted"; } && [ ! -x "$HAPROXY" ]; then
    echo "balancer-peers: $HAPROXY missing (deploy/setup.sh)" >&2 && exit 1
fi
if [ "$perf" = 1 ] && ! command -v perf >/dev/null; then
    echo "balancer-peers: --perf needs perf (linux-perf)" >&2 && exit 1
fi

declare -A object_bytes=([1m]=1048576 [1k]=1024)

# CPU placement: the proxy under test alone on SERVER_CPUS; wrk and nginx on
# CLIENT_CPUS, so the client and origin never steal the proxy's cycles unseen.
# direct keeps wrk and nginx where they are in the proxied runs.
ncpu=$(nproc)
clk_tck=$(getconf CLK_TCK)
SERVER_CPUS=${SERVER_CPUS:-0}
if [ "$ncpu" -ge 3 ]; then
    CLIENT_CPUS=${CLIENT_CPUS:-1-$((ncpu - 1))}
elif [ "$ncpu" -eq 2 ]; then
    CLIENT_CPUS=${CLIENT_CPUS:-1}
else
    CLIENT_CPUS=${CLIENT_CPUS:-0}
fi
ALL_CPUS=0-$((ncpu - 1))

[ -n "$out" ] || out=$repo/build/bench/balancer-peers-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
out=$(cd "$out" && pwd)
csv=$out/results.csv
work=$(mktemp -d "${TMPDIR:-/tmp}/pp-balbench.XXXXXX")
chmod 755 "$work"

# ------------------------------------------------------------------ processes

pids=()
cgroups=() # --proxy-cpu cgroups, removed at exit
wrk_pid=""
perf_pid=""



cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [ -z "$perf_pid" ] || stop_pids "$perf_pid"
    [ -z "$wrk_pid" ] || stop_pids "$wrk_pid"
    [ "${#pids[@]}" -eq 0 ] || stop_pids "${pids[@]}"
    local cg
    for cg in "${cgroups[@]}"; do rmdir "$cg" 2>/dev/null || true; done
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT


wait_port() {
    local port=$1 pid=$2 name=$3
    for _ in $(seq 1 300); do
        if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then return 0; fi
        if ! is_running "$pid"; then
            log "$name exited at start-up; its log:"
            tail -n 20 "$work/$name.log" >&2 2>/dev/null || true
            return 1
        fi
        sleep 0.1
    done
    log "$name: port $port not open after 30 s"
    return 1
}

# start NAME CPUS COMMAND...: a foreground server as our child, pinned; a
# proxy (not the origin) is also put under --proxy-cpu's quota.
declare -A pid_of port_of
# Why a target's runs cannot be trusted, by TARGET (did not start) and by
# SIZE.TARGET (the object did not come back whole before the runs).
declare -A why_of
start() {
    local name=$1 cpus=$2
    shift 2
    taskset -c "$cpus" "$@" >"$work/$name.log" 2>&1 </dev/null &
    pids+=("$!")
    pid_of[$name]=$!
    [ -z "$proxy_cpu" ] || [ "$name" = direct ] || cpu_quota "$name" "$!"
}

# cpu_quota NAME PID: PID alone in a cgroup with --proxy-cpu % of one CPU.
cpu_quota() {
    local cg
    if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
        cg=/sys/fs/cgroup/ppbench-$$-$1
        mkdir "$cg" && cgroups+=("$cg")
        echo "$((proxy_cpu * 1000)) 100000" >"$cg/cpu.max"
        echo "$2" >"$cg/cgroup.procs"
    else
        cg=/sys/fs/cgroup/cpu/ppbench-$$-$1
        mkdir "$cg" && cgroups+=("$cg")
        echo 100000 >"$cg/cpu.cfs_period_us"
        echo "$((proxy_cpu * 1000))" >"$cg/cpu.cfs_quota_us"
        echo "$2" >"$cg/tasks"
    fi
}

# CPU time (clock ticks) used so far by one process, all its threads.
cpu_ticks() {
    local line f
    read -r line 2>/dev/null <"/proc/$1/stat" || { echo 0 && return 0; }
    read -ra f <<<"${line##*) }"
    echo $((f[11] + f[12]))
}

# Busy ticks of the whole machine (every CPU: user, nice, system, steal; not
# irq and softirq, where loopback's own packet work is counted): minus what
# the proxy, nginx and wrk used, it is the other tenants' share, the noise of
# a shared machine.
machine_ticks() {
    local f
    read -ra f </proc/stat
    echo $((f[1] + f[2] + f[3] + f[8]))
}


# ------------------------------------------------------------------ servers

# The origin: one nginx worker and no master (one pid to account), sendfile,
# no access log, objects of each size in a docroot of its own.
start_origin() {
    local dir=$work/nginx port
    mkdir -p "$dir/tmp" "$work/www"
    head -c "${object_bytes[1m]}" /dev/urandom >"$work/www/obj1m"
    head -c "${object_bytes[1k]}" /dev/urandom >"$work/www/obj1k"
    port=$(free_port)
    cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
user root;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 65s;
    open_file_cache max=16 inactive=1h;
    open_file_cache_valid 1h;
    server {
        listen 127.0.0.1:$port;
        root $work/www;
    }
}
EOF
    nginx -q -t -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" ||
        { log "nginx rejected $dir/nginx.conf" && return 1; }
    start direct "$CLIENT_CPUS" nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf"
    wait_port "$port" "${pid_of[direct]}" direct
    port_of[direct]=$port
}

# start_haproxy NAME CPUS NBTHREAD_LINE: TCP mode, one server (the origin)
# with the same active check as the balancer's (TCP connect every 2 s, rise 2,
# fall 3), the same connect and idle timeouts, splice-auto for zero copy.
start_haproxy() {
    local name=$1 cpus=$2 threads=$3 dir=$work/$1 port
    mkdir -p "$dir"
    port=$(free_port)
    cat >"$dir/haproxy.cfg" <<EOF
global
    $threads
    maxconn $MAX_CONNS
    pidfile $dir/haproxy.pid
defaults
    mode tcp
    option splice-auto
    timeout connect $CONNECT_TIMEOUT
    timeout client $IDLE_TIMEOUT
    timeout server $IDLE_TIMEOUT
listen bench
    bind 127.0.0.1:$port
    balance roundrobin
    server n 127.0.0.1:${port_of[direct]} check inter 2s rise 2 fall 3
EOF
    port_of[$name]=$port
    "$HAPROXY" -c -q -f "$dir/haproxy.cfg" >"$dir/check.log" 2>&1 ||
        { log "haproxy rejected $dir/haproxy.cfg:" && cat "$dir/check.log" >&2 && return 1; }
    # -db: foreground, one process (no master), its own pid for the CPU count.
    start "$name" "$cpus" "$HAPROXY" -db -f "$dir/haproxy.cfg"
    wait_port "$port" "${pid_of[$name]}" "$name"
}

start_balancer() {
    local port admin
    port=$(free_port)
    admin=$(free_port)
    port_of[balancer]=$port
    # The admin API's token (the bench only reads /healthz, which needs none).
    [ -s "$work/balancer.token" ] || (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$work/balancer.token")
    start balancer "$SERVER_CPUS" "$BALANCER" --listen "127.0.0.1:$port" --admin "127.0.0.1:$admin" \
        --token-file "$work/balancer.token" \
        --backend "n=127.0.0.1:${port_of[direct]}" --algo "$algo" --log-level warn --max-conns "$MAX_CONNS" \
        --connect-timeout "$CONNECT_TIMEOUT" --idle-timeout "$IDLE_TIMEOUT"
    wait_port "$port" "${pid_of[balancer]}" balancer || return 1
    for _ in $(seq 1 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$admin/healthz")" = 200 ] && return 0
        sleep 0.1
    done
    log "balancer: /healthz did not answer 200 within 10 s"
    return 1
}

# The whole object must come back through each target before any run; if it
# does not, the target's runs at that size are invalid.
check_target() {
    local target=$1 size=$2 got
    got=$(curl -s --max-time 20 -o /dev/null -w '%{http_code} %{size_download}' \
        "http://127.0.0.1:${port_of[$target]}/obj$size") || true
    if [ "$got" != "200 ${object_bytes[$size]}" ]; then
        why_of[$size.$target]="GET /obj$size answered '$got' before the runs, not '200 ${object_bytes[$size]}'"
        return 1
    fi
    unset "why_of[$size.$target]"
}

# ------------------------------------------------------------------ measuring

# run_wrk TARGET SIZE ROUND: one wrk run; appends a CSV row (ROUND "perf":
# a profiled run, kept out of the medians).
run_wrk() {
    local target=$1 size=$2 round=$3 raw url rc=0 load t0 t1 alive=1
    local px0 px1 ng0 ng1 cl0 cl1 mc0 mc1 pxpid=""
    raw=$out/wrk-$size-$target-r$round.txt
    url=http://127.0.0.1:${port_of[$target]}/obj$size
    [ "$target" = direct ] || pxpid=${pid_of[$target]}
    if [ "$round" = perf ]; then
        perf record -F 999 -g -p "$pxpid" -o "$out/perf-$target-$size.data" \
            -- sleep $((duration + 2)) >"$work/perf.log" 2>&1 </dev/null &
        perf_pid=$!
        sleep 0.5
    fi
    load=$(cut -d ' ' -f 1 /proc/loadavg)
    px0=0
    [ -z "$pxpid" ] || px0=$(cpu_ticks "$pxpid")
    ng0=$(cpu_ticks "${pid_of[direct]}")
    cl0=$(children_ticks)
    mc0=$(machine_ticks)
    t0=$(date +%s.%N)
    # In the background so a signal to this script is handled at once.
    timeout -k 5 $((duration + WRK_GRACE_S)) taskset -c "$CLIENT_CPUS" \
        wrk -t "$t" -c "$c" -d "${duration}s" --timeout "$WRK_TIMEOUT" --latency "$url" \
        >"$raw" 2>&1 </dev/null &
    wrk_pid=$!
    wait "$wrk_pid" || rc=$?
    wrk_pid=""
    t1=$(date +%s.%N)
    mc1=$(machine_ticks)
    cl1=$(children_ticks)
    px1=0
    [ -z "$pxpid" ] || px1=$(cpu_ticks "$pxpid")
    ng1=$(cpu_ticks "${pid_of[direct]}")
    is_running "${pxpid:-${pid_of[direct]}}" || alive=0
    if [ -n "$perf_pid" ]; then
        wait "$perf_pid" 2>/dev/null || true
        perf_pid=""
        perf report --stdio --no-children --percent-limit 0.5 -i "$out/perf-$target-$size.data" \
            2>/dev/null | grep -v '^$' | head -n 200 >"$out/perf-$target-$size.txt" || true
        perf report --stdio --no-children -g none --percent-limit 0.3 --sort dso,symbol \
            -i "$out/perf-$target-$size.data" 2>/dev/null | grep -v '^$' |
            head -n 80 >"$out/perf-$target-$size-flat.txt" || true
        log "perf profile: $out/perf-$target-$size{,-flat}.txt"
    fi
    [ "$rc" -eq 0 ] || log "wrk against $target exited $rc (see $raw)"
    # wrk prints latencies with their unit (us, ms, s): all to ms here. A
    # figure wrk did not print stays empty in the CSV (never 0): the report
    # reads an empty field as "did not parse".
    awk -v size="$size" -v round="$round" -v target="$target" -v c="$c" -v d="$duration" \
        -v rc="$rc" -v load="$load" -v hz="$clk_tck" -v t0="$t0" -v t1="$t1" -v alive="$alive" \
        -v px="$((px1 - px0))" -v ng="$((ng1 - ng0))" -v cl="$((cl1 - cl0))" \
        -v mc="$((mc1 - mc0))" -v ob="${object_bytes[$size]}" '
        function ms(v) {
            if (v ~ /us$/) return v * 0.001
            if (v ~ /ms$/) return v * 1
            if (v ~ /m$/) return v * 60000
            if (v ~ /s$/) return v * 1000
            return v
        }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        / requests in / { reqs = $1 }
        /^Requests\/sec:/ { rps = $2 }
        /Socket errors:/ { gsub(/,/, ""); errs = $4 + $6 + $8 + $10 }
        /Non-2xx or 3xx responses:/ { non2xx = $5 }
        function num(v, f) { return v == "" ? "" : sprintf(f, v) }
        END {
            other = (mc - px - ng - cl) / hz
            gb = reqs * ob / 1e9
            printf "%s,%s,%s,%d,%d,%s,%s,%s,%s,%d,%d,%d,%s,%.3f,%.2f,%.2f,%.2f,%.2f,%s,%d\n", size, round, target,
                c, d, reqs, num(rps, "%.1f"), num(p50, "%.3f"), num(p99, "%.3f"), errs, non2xx, rc, load,
                t1 - t0, px / hz, ng / hz, cl / hz, (other < 0 ? 0 : other), (gb > 0 ? sprintf("%.4f", px / hz / gb) : ""),
                alive
        }' "$raw" >>"$csv"
    tail -n 1 "$csv" | awk -F, -v ob="${object_bytes[$size]}" '{ e = $14 > 0 ? $14 : 1
        gb = $6 * ob / 1e9
        printf "  %-10s %-3s round %-4s: %8s req/s  p50 %7s ms  p99 %7s ms  proxy CPU %3.0f%%  %6s s/GB  nginx %3.0f%%  wrk %3.0f%%  others %3.0f%%  errors %d non-2xx %d\n",
            $3, $1, $2, ($7 == "" ? "-" : $7), ($8 == "" ? "-" : $8), ($9 == "" ? "-" : $9), 100 * $15 / e,
            (gb > 0 && $3 != "direct" ? sprintf("%.3f", $15 / gb) : "-"),
            100 * $16 / e, 100 * $17 / e, 100 * $18 / e, $10, $11 }' >&2
}

# ------------------------------------------------------------------ report


# run_median SIZE TARGET AWK_EXPR: the median over the measured rounds of an
# expression of one CSV row ($6 requests, $7 req/s, $8 p50 ms, $9 p99 ms,
# $14 elapsed s, $15 proxy CPU s, $16 nginx CPU s, $17 wrk CPU s, $18 the
# other tenants' CPU s, $19 proxy CPU s per GB, $20 the target still
# running after the run); empty values are left out, "" for none.
run_median() {
    awk -F, -v sz="$1" -v tg="$2" -v ob="${object_bytes[$1]}" \
        "NR > 1 && \$1 == sz && \$3 == tg && \$2 != \"perf\" { v = $3; if (v != \"\") print v }" "$csv" | median
}

# paired SIZE TARGET COLUMN: the median over rounds of balancer/TARGET of one
# column, each round's balancer run against the same round's TARGET run
# ("" when no round has both).
paired() {
    awk -F, -v sz="$1" -v tg="$2" -v col="$3" '
        NR > 1 && $1 == sz && $2 != "perf" && $3 == "balancer" { b[$2] = $col }
        NR > 1 && $1 == sz && $2 != "perf" && $3 == tg { h[$2] = $col }
        END { for (r in b) if ((r in h) && b[r] != "" && h[r] != "" && h[r] > 0) print b[r] / h[r] }' "$csv" |
        median | awk '{ if ($1 != "") printf "%.2f", $1 }'
}

# run_why SIZE TARGET: why the target's measured runs at this size cannot be
# judged; nothing when every run is valid.
run_why() {
    local size=$1 target=$2 from_csv
    from_csv=$(awk -F, -v sz="$size" -v tg="$target" '
        function add(s) { out = out (out == "" ? "" : "; ") s }
        NR > 1 && $1 == sz && $3 == tg && $2 != "perf" {
            k++
            if ($20 != 1) dead++
            if ($12 != 0) wrkfail++
            if ($6 == "" || $7 == "" || $9 == "") noparse++
            else if ($6 == 0) zero++
            bad += $10 + $11
            if (tg != "direct" && $15 <= 0) nocpu++
        }
        END {
            if (k == 0) { print "no runs"; exit }
            if (dead) add("not running after " dead " of " k " runs")
            if (wrkfail) add("wrk failed in " wrkfail " of " k " runs")
            if (noparse) add("wrk output did not parse in " noparse " runs")
            if (zero) add("zero requests in " zero " runs")
            if (bad) add(bad " socket errors, timeouts or non-2xx answers")
            if (nocpu) add("no proxy CPU counted in " nocpu " runs")
            print out
        }' "$csv")
    reasons "${why_of[$target]:-}" "${why_of[$size.$target]:-}" "$from_csv"
}


minus() {
    if [ -n "$1" ] && [ -n "$2" ]; then awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.3f", a - b }'; else echo "n/a"; fi
}


report() {
    local size target rps p50 p99 cpu_gb us_req px_pct ng_pct wrk_pct oth_pct errs r rp why
    declare -A m_rps m_p50 m_p99 m_gb m_why
    # shellcheck disable=SC2016 # awk expressions, expanded by awk
    {
        echo
        echo "balancer-peers: wrk -t$t -c$c -d${duration}s --latency, $rounds interleaved rounds, medians"
        echo "proxy on CPU $SERVER_CPUS (haproxy-mt: CPUs $ALL_CPUS), wrk and nginx on CPU $CLIENT_CPUS;" \
            "$(nproc) CPUs: $(lscpu | sed -n 's/^Model name: *//p')"
        echo "$("$HAPROXY" -v 2>/dev/null | head -n 1 | cut -d ' ' -f 1-3); $(nginx -v 2>&1);" \
            "$(wrk -v 2>&1 | head -n 1 | cut -d ' ' -f 1-2); balancer $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?') --algo $algo"
        awk -F, 'NR > 1 && $14 > 0 { o = 100 * $18 / $14; s += o; if (o > m) m = o; k++ }
            END { if (k) printf "CPU of other tenants during the runs (of %d%%): mean %.0f%%, max %.0f%%%s\n",
                  100 * ncpu, s / k, m, (m > 20 ? "  (a shared machine: expect noise)" : "") }' ncpu="$(nproc)" "$csv"
        for size in "${sizes[@]}"; do
            echo
            printf '%-4s %-10s %9s %8s %8s %9s %10s %7s %7s %6s %7s %6s  %s\n' size target "req/s" "p50 ms" "p99 ms" \
                "CPU s/GB" "CPU us/req" "proxy%" "nginx%" "wrk%" "others%" errors validity
            for target in "${targets[@]}"; do
                why=$(run_why "$size" "$target")
                m_why[$size.$target]=$why
                rps=$(run_median "$size" "$target" '$7')
                if [ -z "$rps" ]; then
                    printf '%-4s %-10s %9s %8s %8s %9s %10s %7s %7s %6s %7s %6s  %s\n' "$size" "$target" - - - - - - - - - - \
                        "invalid: $why"
                    continue
                fi
                p50=$(run_median "$size" "$target" '$8')
                p99=$(run_median "$size" "$target" '$9')
                cpu_gb=$(run_median "$size" "$target" '($6 > 0 ? $15 / ($6 * ob / 1e9) : 0)')
                us_req=$(run_median "$size" "$target" '($6 > 0 ? 1e6 * $15 / $6 : 0)')
                px_pct=$(run_median "$size" "$target" '($14 > 0 ? 100 * $15 / $14 : 0)')
                ng_pct=$(run_median "$size" "$target" '($14 > 0 ? 100 * $16 / $14 : 0)')
                wrk_pct=$(run_median "$size" "$target" '($14 > 0 ? 100 * $17 / $14 : 0)')
                oth_pct=$(run_median "$size" "$target" '($14 > 0 ? 100 * $18 / $14 : 0)')
                errs=$(awk -F, -v sz="$size" -v tg="$target" 'NR > 1 && $1 == sz && $3 == tg && $2 != "perf" { s += $10 + $11 + ($12 != 0) } END { print s + 0 }' "$csv")
                if [ "$target" = direct ]; then
                    printf '%-4s %-10s %9.1f %8.3f %8.3f %9s %10s %7s %7.0f %6.0f %7.0f %6s  %s\n' "$size" "$target" "$rps" \
                        "${p50:-0}" "${p99:-0}" - - - "$ng_pct" "$wrk_pct" "$oth_pct" "$errs" "${why:+invalid: }${why:-valid}"
                else
                    printf '%-4s %-10s %9.1f %8.3f %8.3f %9.3f %10.1f %7.0f %7.0f %6.0f %7.0f %6s  %s\n' "$size" "$target" "$rps" \
                        "${p50:-0}" "${p99:-0}" "${cpu_gb:-0}" "$us_req" "$px_pct" "$ng_pct" "$wrk_pct" "$oth_pct" "$errs" \
                        "${why:+invalid: }${why:-valid}"
                fi
                m_rps[$size.$target]=$rps
                m_p50[$size.$target]=$p50
                m_p99[$size.$target]=$p99
                m_gb[$size.$target]=$cpu_gb
            done
        done
        for size in "${sizes[@]}"; do
            echo
            echo "$size: balancer against HAProxy (issue 5 target: req/s >= 1.10x, p99 <= 1.00x)"
            for target in haproxy haproxy-mt; do
                if ! want "$target" "$targets_wanted" || ! want balancer "$targets_wanted"; then continue; fi
                # The first reason of each side (the table above has them all).
                why=$(reasons "${m_why[$size.balancer]:+balancer: ${m_why[$size.balancer]%%;*}}" \
                    "${m_why[$size.$target]:+$target: ${m_why[$size.$target]%%;*}}")
                r=$(ratio "${m_rps[$size.balancer]:-}" "${m_rps[$size.$target]:-}")
                rp=$(ratio "${m_p99[$size.balancer]:-}" "${m_p99[$size.$target]:-}")
                printf '  balancer/%-10s of medians: req/s %5s (%s)  p99 %5s (%s)  CPU/GB %5s\n' "$target" \
                    "$r" "$(verdict "$r" '>=' 1.10 "$why")" "$rp" "$(verdict "$rp" '<=' 1.00 "$why")" \
                    "$(ratio "${m_gb[$size.balancer]:-}" "${m_gb[$size.$target]:-}")"
                r=$(paired "$size" "$target" 7)
                rp=$(paired "$size" "$target" 9)
                printf '  balancer/%-10s paired:     req/s %5s (%s)  p99 %5s (%s)  CPU/GB %5s\n' "$target" \
                    "${r:--}" "$(verdict "$r" '>=' 1.10 "$why")" "${rp:--}" "$(verdict "$rp" '<=' 1.00 "$why")" \
                    "$(r=$(paired "$size" "$target" 19) && echo "${r:--}")"
            done
            [ -n "${m_p50[$size.direct]:-}" ] || continue
            echo "$size: latency one hop adds over direct (median p50 / p99, ms)"
            for target in haproxy haproxy-mt balancer; do
                if [ -z "${m_p50[$size.$target]:-}" ] || [ -n "${m_why[$size.$target]}" ]; then continue; fi
                printf '  %-10s p50 %8s  p99 %8s\n' "$target" "$(minus "${m_p50[$size.$target]}" "${m_p50[$size.direct]}")" \
                    "$(minus "${m_p99[$size.$target]}" "${m_p99[$size.direct]}")"
            done
        done
        echo
        echo "(headline HAProxy: nbthread 1 pinned to the balancer's CPU — both one event loop on one"
        echo " core; haproxy-mt may also use the client's CPU. CPU = the proxy's own utime+stime;"
        echo " GB = requests x object size; % = of one CPU; others = the rest of the machine's busy"
        echo " time (other tenants). errors = wrk socket errors + non-2xx + failed runs)"
        echo
        echo "raw: $csv"
    } | tee "$out/summary.txt"
}

# ------------------------------------------------------------------ main

echo "size,round,target,connections,duration_s,requests,rps,p50_ms,p99_ms,errors,non2xx,wrk_exit,load1,elapsed_s,proxy_cpu_s,nginx_cpu_s,wrk_cpu_s,others_cpu_s,proxy_cpu_s_per_gb,running" >"$csv"
log "results in $out"
start_origin
log "nginx on 127.0.0.1:${port_of[direct]} (CPU $CLIENT_CPUS)"
for target in "${targets[@]}"; do
    # A proxy that does not start is not fatal: its runs fail against a
    # closed port and every verdict that names it reads invalid.
    ok=1
    case "$target" in
    haproxy) start_haproxy haproxy "$SERVER_CPUS" "nbthread 1" || ok=0 ;;
    # No nbthread: HAProxy 2.6 starts one thread per CPU it is allowed on.
    haproxy-mt) start_haproxy haproxy-mt "$ALL_CPUS" "" || ok=0 ;;
    balancer) start_balancer || ok=0 ;;
    esac
    if [ "$ok" = 0 ]; then
        why_of[$target]="did not start"
        log "$target did not start: its runs are invalid"
    elif [ "$target" != direct ]; then
        log "$target on 127.0.0.1:${port_of[$target]} (pid ${pid_of[$target]})"
    fi
done
# Both proxies' active checks must have passed (rise 2 at 2 s for HAProxy).
sleep 1
for target in "${targets[@]}"; do
    [ -z "${why_of[$target]:-}" ] || continue
    for size in "${sizes[@]}"; do
        for _ in $(seq 1 50); do
            check_target "$target" "$size" && break
            sleep 0.2
        done
        if [ -n "${why_of[$size.$target]:-}" ]; then log "$target: ${why_of[$size.$target]}: its $size runs are invalid"; fi
    done
done
for target in haproxy haproxy-mt; do
    [ -n "${pid_of[$target]:-}" ] || continue
    log "$target threads: $(find "/proc/${pid_of[$target]}/task" -mindepth 1 -maxdepth 1 | wc -l)"
done

for size in "${sizes[@]}"; do
    log "object $size: ${#targets[@]} targets x $rounds rounds x ${duration}s"
    # Warm-up: one short untimed run per target (connections, page cache).
    for target in "${targets[@]}"; do
        timeout 20 taskset -c "$CLIENT_CPUS" wrk -t "$t" -c "$c" -d 1s \
            "http://127.0.0.1:${port_of[$target]}/obj$size" >/dev/null 2>&1 </dev/null || true
    done
    for round in $(seq 1 "$rounds"); do
        # Rotate the order each round so no target always runs first or last.
        for i in $(seq 0 $((${#targets[@]} - 1))); do
            run_wrk "${targets[$(((i + round - 1) % ${#targets[@]}))]}" "$size" "$round"
        done
    done
    if [ "$perf" = 1 ]; then
        for target in "${targets[@]}"; do
            [ "$target" = direct ] || run_wrk "$target" "$size" perf
        done
    fi
done

report
