#!/usr/bin/env bash
# shellcheck disable=SC2016 # awk programs in single quotes: awk expands them
# proxyd against its peers on objects of 1 KiB, 16 KiB and 1 MiB, all on
# loopback: Squid 5 (memory cache), nginx proxy_cache, proxyd, and nginx
# serving the file itself (sendfile: the ceiling a proxy should approach). The
# same ab -k client and concurrency for each, interleaved rounds (peers in a
# rotating order, sizes in turn), two phases: hits (cache on, warmed) and
# cache off. Per size, phase and peer: medians of req/s, p50, p99, the
# server's CPU per request, the CPU each side used (server; ab + origin) and
# which side was the bottleneck. Verdicts are judged on CPU per request, the
# median of the per-round ratios proxyd/peer: the server's own CPU, and for
# the CPU-per-hit target against nginx also all the run's (server, ab,
# origin), since on loopback part of a server's sending runs on ab's CPU
# time. With the client on one core of two, ab (not the server) is often the
# limit, and then req/s measures ab. A verdict is met or missed only when every run behind it is
# valid; otherwise it reads invalid (why): a failed or non-2xx request, fewer
# requests completed than asked, ab failing, a figure that did not parse, a
# server that was not running or used too little CPU to measure, or an origin
# fetch during hits. Raw rows go to OUT/results.csv.
#
# Usage: bench/proxy-peers.sh [--peers squid,nginx,proxyd,ceiling]
#            [--phases hit,nocache] [--sizes 1k,16k,1m] [--rounds R] [-n N]
#            [-c C] [--out DIR] [--perf]
# Env: N (requests per run at every size; default 50000 at 1k and 16k, 2000
#      at 1m), C (concurrency, default 50), ROUNDS (default 5), SIZES, OUT
#      (result dir), PP_BUILD (proxyd's build dir), SERVER_CPUS / CLIENT_CPUS
#      (taskset lists; default 0 and the rest), PROXYD (the proxyd binary,
#      default PP_BUILD/bin/proxyd; PROXYD=/bin/false checks the validity
#      gate: proxyd never listens, and every verdict naming it must read
#      invalid).
set -euo pipefail
BENCH_NAME="proxy-peers"
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

repo=$(cd "$(dirname "$0")/.." && pwd)
PP_BUILD=${PP_BUILD:-$repo/build}
PROXYD=${PROXYD:-$PP_BUILD/bin/proxyd}

# Bounds on the load, so a typo cannot run for hours: N requests per run, each
# run cut at AB_TIMEOUT_S; sizes x peers x rounds runs.
N_MAX=100000
C_MAX=1000
ROUNDS_MAX=20
AB_TIMEOUT_S=120
# Below this much server CPU in a run, CPU per request is mostly start-up and
# scheduling noise (and, where CPU is counted in 10 ms ticks, rounding): the
# run is too short to judge on it (raise -n).
MIN_SERVER_CPU_MS=50
# A side at or above this % of its CPUs is saturated: the bottleneck.
SATURATED_PCT=85
# Neither side saturated while other tenants held this % of the CPUs or
# more: they were the limit.
OTHERS_BUSY_PCT=25

declare -A object_bytes=([1k]=1024 [16k]=16384 [1m]=1048576)
# Requests per run by default: a second or more of work at each size.
declare -A default_n=([1k]=50000 [16k]=50000 [1m]=2000)

n=${N:-}
c=${C:-50}
rounds=${ROUNDS:-5}
peers_wanted=squid,nginx,proxyd,ceiling
phases_wanted=hit,nocache
sizes_wanted=${SIZES:-1k,16k,1m}
out=${OUT:-}
perf=0

usage() {
    sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

while [ "$#" -gt 0 ]; do
    case "$1" in
    --peers) peers_wanted=$2 && shift ;;
    --phases) phases_wanted=$2 && shift ;;
    --sizes) sizes_wanted=$2 && shift ;;
    --rounds) rounds=$2 && shift ;;
    -n) n=$2 && shift ;;
    -c) c=$2 && shift ;;
    --out) out=$2 && shift ;;
    --perf) perf=1 ;;
    -h | --help) usage && exit 0 ;;
    *) echo "proxy-peers: unknown argument '$1'" >&2 && usage >&2 && exit 64 ;;
    esac
    shift
done

if [ -n "$n" ] && { ! is_uint "$n" || [ "$n" -lt 1 ] || [ "$n" -gt "$N_MAX" ]; }; then
    echo "proxy-peers: N must be 1..$N_MAX" >&2
    exit 64
fi
if ! is_uint "$c" || [ "$c" -lt 1 ] || [ "$c" -gt "$C_MAX" ] || [ "$c" -gt "${n:-$C_MAX}" ]; then
    echo "proxy-peers: C must be 1..$C_MAX and at most N" >&2
    exit 64
fi
sizes=()
for s in ${sizes_wanted//,/ }; do
    [ -n "${object_bytes[$s]:-}" ] || { echo "proxy-peers: unknown size '$s' (1k, 16k, 1m)" >&2 && exit 64; }
    sizes+=("$s")
done
[ "${#sizes[@]}" -gt 0 ] || { echo "proxy-peers: no size to run" >&2 && exit 64; }
declare -A n_of
for s in "${sizes[@]}"; do n_of[$s]=${n:-${default_n[$s]}}; done
if ! is_uint "$rounds" || [ "$rounds" -lt 1 ] || [ "$rounds" -gt "$ROUNDS_MAX" ]; then
    echo "proxy-peers: ROUNDS must be 1..$ROUNDS_MAX" >&2
    exit 64
fi

for tool in ab nginx squid curl taskset ss; do
    command -v "$tool" >/dev/null || { echo "proxy-peers: $tool missing (deploy/setup.sh)" >&2 && exit 1; }
done


if want proxyd "$peers_wanted" && [ ! -x "$PROXYD" ]; then
    echo "proxy-peers: $PROXYD not built (run make, or point PP_BUILD at a build)" >&2
    exit 1
fi

# CPU placement: the servers under test on one set, ab and the origin on the
# other, so the client does not steal the proxy's cycles unseen (DESIGN.md).
ncpu=$(nproc)
clk_tck=$(getconf CLK_TCK)
if [ "$ncpu" -ge 2 ]; then
    SERVER_CPUS=${SERVER_CPUS:-0}
    if [ "$ncpu" -eq 2 ]; then CLIENT_CPUS=${CLIENT_CPUS:-1}; else CLIENT_CPUS=${CLIENT_CPUS:-1-$((ncpu - 1))}; fi
else
    SERVER_CPUS=${SERVER_CPUS:-0}
    CLIENT_CPUS=${CLIENT_CPUS:-0}
fi
# cpu_expand LIST: the CPUs a taskset list (0,2-3) names, one per line.
cpu_expand() {
    local part
    for part in ${1//,/ }; do
        if [[ "$part" == *-* ]]; then seq "${part%-*}" "${part#*-}"; else echo "$part"; fi
    done
}
server_ncpu=$(cpu_expand "$SERVER_CPUS" | wc -l)
client_ncpu=$(cpu_expand "$CLIENT_CPUS" | wc -l)

# cpus_time LIST: "busy irq" clock ticks of those CPUs so far, from
# /proc/stat. busy is everything but idle and iowait: our processes, the
# irq and softirq time where loopback's packet work is counted (charged to
# no process), steal, and whatever other tenants ran there.
cpus_time() {
    awk -v want=" $(cpu_expand "$1" | tr '\n' ' ')" '
        $1 ~ /^cpu[0-9]+$/ && index(want, " " substr($1, 4) " ") {
            busy += $2 + $3 + $4 + $7 + $8 + $9
            irq += $7 + $8
        }
        END { printf "%d %d\n", busy, irq }' /proc/stat
}

[ -n "$out" ] || out=$repo/build/bench/proxy-peers-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
out=$(cd "$out" && pwd)
csv=$out/results.csv
work=$(mktemp -d "${TMPDIR:-/tmp}/pp-bench.XXXXXX")
chmod 755 "$work"
shm=""
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    shm=$(mktemp -d /dev/shm/pp-bench.XXXXXX)
else
    shm=$work/shm
    mkdir -p "$shm"
fi

# ------------------------------------------------------------------ processes

pids=()
ab_pid=""



# Every server this script started, with whatever it forked (nginx workers).
stop_all() {
    local all=() pid kid
    for pid in "${pids[@]}"; do
        all+=("$pid")
        for kid in $(ps -o pid= --ppid "$pid" 2>/dev/null); do all+=("$kid"); done
    done
    stop_pids "${all[@]}"
    pids=()
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [ -z "$ab_pid" ] || stop_pids "$ab_pid"
    [ "${#pids[@]}" -eq 0 ] || stop_all
    cpu_group_remove "${peer_group[@]}"
    rm -rf "$work" "$shm"
    rm -f /dev/shm/ppbench$$-*.shm # left only if Squid was killed hard
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
            log "$name exited at start-up; its logs:"
            tail -n 20 "$work/$name"*.log "$work/$name"/*.log 2>/dev/null >&2 || true
            return 1
        fi
        sleep 0.1
    done
    log "$name: port $port not open after 30 s"
    return 1
}

# start NAME CPUS COMMAND...: a foreground server as our child, pinned; a
# peer (not the origin) in a CPU accounting group of its own.
declare -A peer_pid peer_group
# Why a peer's runs cannot be trusted, by phase.peer and size.phase.peer
# (did not start, no hit after warm-up); empty when nothing was seen.
declare -A peer_why
start() {
    local name=$1 cpus=$2
    shift 2
    if [ "$name" != origin ] && [ -z "${peer_group[$name]+set}" ]; then
        peer_group[$name]=$(cpu_group_new "$name")
    fi
    if [ -n "${peer_group[$name]:-}" ]; then
        (cpu_group_exec "${peer_group[$name]}" taskset -c "$cpus" "$@") >"$work/$name.log" 2>&1 </dev/null &
    else
        taskset -c "$cpus" "$@" >"$work/$name.log" 2>&1 </dev/null &
    fi
    pids+=("$!")
    last_pid=$!
    peer_pid[$name]=$!
}

# CPU time (clock ticks) used so far by the given pids and their children
# (nginx workers): when the client is the bottleneck, req/s says little and
# the server's CPU per request says what it costs.
cpu_ticks() {
    local pid p line f total=0
    for pid in "$@"; do
        for p in "$pid" $(ps -o pid= --ppid "$pid" 2>/dev/null); do
            read -r line 2>/dev/null <"/proc/$p/stat" || continue
            read -ra f <<<"${line##*) }"
            total=$((total + f[11] + f[12]))
        done
    done
    echo "$total"
}

# server_ns PEER: CPU nanoseconds the peer used so far: its accounting group
# when it has one, else its processes' ticks.
server_ns() {
    if [ -n "${peer_group[$1]:-}" ]; then
        cpu_group_ns "${peer_group[$1]}"
    else
        echo $(($(cpu_ticks "${peer_pid[$1]}") * 1000000000 / clk_tck))
    fi
}


# ------------------------------------------------------------------ peers

# nginx_conf DIR PORT SERVER_BODY [HTTP_EXTRA]: one worker, no access log
# unless SERVER_BODY sets one, every path inside DIR.
nginx_conf() {
    local dir=$1 port=$2 body=$3 extra=${4:-}
    mkdir -p "$dir/tmp"
    cat >"$dir/nginx.conf" <<EOF
daemon off;
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
    $extra
    server {
        listen 127.0.0.1:$port;
        $body
    }
}
EOF
}

start_nginx() {
    local name=$1 cpus=$2 port=$3 dir=$work/$1
    nginx -q -t -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" ||
        { log "nginx rejected $dir/nginx.conf" && return 1; }
    start "$name" "$cpus" nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf"
    wait_port "$port" "$last_pid" "$name"
}

origin_port=""
start_origin() {
    local s
    mkdir -p "$work/www"
    for s in "${sizes[@]}"; do head -c "${object_bytes[$s]}" /dev/urandom >"$work/www/obj$s"; done
    origin_port=$(free_port)
    # The access log counts origin fetches, so a hit run can prove it made none.
    nginx_conf "$work/origin" "$origin_port" "
        access_log $work/origin/access.log;
        root $work/www;
        location / { add_header Cache-Control \"max-age=3600\"; }"
    start_nginx origin "$CLIENT_CPUS" "$origin_port"
}
url_of() { echo "http://127.0.0.1:$origin_port/obj$1"; }

origin_fetches() {
    if [ -f "$work/origin/access.log" ]; then wc -l <"$work/origin/access.log"; else echo 0; fi
}

declare -A port_of

start_ceiling() {
    local port
    port=$(free_port)
    # Tuned as a static server would be: no open/fstat/close per request.
    nginx_conf "$work/ceiling" "$port" "root $work/www;
        open_file_cache max=16 inactive=1h; open_file_cache_valid 1h;"
    port_of[ceiling]=$port
    start_nginx ceiling "$SERVER_CPUS" "$port"
}

# nginx as a forward proxy, set up as its own documentation tunes a caching
# proxy: absolute-form requests go to the one origin over kept-alive upstream
# connections (HTTP/1.1, Connection cleared, keepalive_requests raised past
# the run); sendfile and tcp_nopush (from nginx_conf); in the hit phase
# proxy_cache on tmpfs (use_temp_path=off: a miss is written in place),
# proxy_cache_lock (one origin fetch per object) and open_file_cache, which
# the cache's own file opens go through (ngx_http_file_cache_open), so a hit
# costs no open/fstat/close; with the cache off, no temp files
# (proxy_max_temp_file_size 0): bodies are relayed through the buffers.
start_nginx_proxy() {
    local phase=$1 port cache="" cache_path=""
    port=$(free_port)
    if [ "$phase" = hit ]; then
        cache_path="proxy_cache_path $shm/nginx-cache levels=1:2 keys_zone=pp:16m max_size=260m inactive=1h use_temp_path=off;"
        cache="proxy_cache pp; proxy_cache_valid 200 1h; proxy_cache_lock on;
               open_file_cache max=64 inactive=1h; open_file_cache_valid 1h;
               add_header X-Cache-Status \$upstream_cache_status;"
    else
        cache="proxy_max_temp_file_size 0;"
    fi
    rm -rf "$work/nginx"
    nginx_conf "$work/nginx" "$port" "
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_buffer_size 64k;
            proxy_buffers 16 64k;
            $cache
        }" "$cache_path
    upstream origin { server 127.0.0.1:$origin_port; keepalive 64; keepalive_requests 1000000; }"
    port_of[nginx]=$port
    start_nginx nginx "$SERVER_CPUS" "$port"
}

start_squid() {
    local phase=$1 port dir=$work/squid cache_rule=""
    port=$(free_port)
    [ "$phase" = hit ] || cache_rule="cache deny all"
    rm -rf "$dir"
    mkdir -p "$dir"
    # Tuned as Squid's directive docs advise for a memory cache: no cache_dir
    # (Squid 5 then caches in memory only), cache_mem holding the working
    # set, maximum_object_size_in_memory above the largest object, every
    # fetched object kept in memory; no access or store log (their writes
    # are per request); collapsed_forwarding on (nginx's proxy_cache_lock);
    # read_ahead_gap of a whole 1 MiB object, so a miss is read from the
    # origin at its pace, as nginx's 1 MiB of proxy_buffers does; client_db
    # off (no per-client statistics); persistent client and server
    # connections are Squid's defaults.
    cat >"$dir/squid.conf" <<EOF
http_port 127.0.0.1:$port
visible_hostname bench-squid
cache_effective_user proxy
pid_filename $dir/squid.pid
cache_log $dir/cache.log
access_log none
cache_store_log none
coredump_dir $dir
workers 1
cache_mem 260 MB
maximum_object_size_in_memory 1100 KB
maximum_object_size 1100 KB
memory_cache_mode always
collapsed_forwarding on
read_ahead_gap 1 MB
client_db off
max_filedescriptors 65536
$cache_rule
http_access allow localhost
http_access deny all
dns_nameservers 127.0.0.1
pinger_enable off
shutdown_lifetime 1 seconds
logfile_rotate 0
EOF
    chown -R proxy:proxy "$dir"
    squid -k parse -f "$dir/squid.conf" >"$dir/parse.log" 2>&1 ||
        { log "squid rejected $dir/squid.conf:" && tail "$dir/parse.log" >&2 && return 1; }
    # -n: a service name of our own, so Squid's shared-memory segments
    # (/dev/shm/NAME-*.shm) cannot collide with another Squid's.
    port_of[squid]=$port
    start squid "$SERVER_CPUS" squid -N -n "ppbench$$" -f "$dir/squid.conf"
    wait_port "$port" "$last_pid" squid
}

proxyd_pid=""
start_proxyd() {
    local phase=$1 port admin extra=()
    port=$(free_port)
    admin=$(free_port)
    [ "$phase" = hit ] || extra=(--no-cache)
    port_of[proxyd]=$port
    start proxyd "$SERVER_CPUS" "$PROXYD" --listen "127.0.0.1:$port" --admin "127.0.0.1:$admin" \
        --name bench --cache-mem 260M --max-object-size 1100K --allow-dest 127.0.0.1/32 "${extra[@]}"
    proxyd_pid=$last_pid
    wait_port "$port" "$proxyd_pid" proxyd || return 1
    for _ in $(seq 1 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$admin/healthz")" = 200 ] && return 0
        sleep 0.1
    done
    log "proxyd: /healthz did not answer 200 within 10 s"
    return 1
}

# The status code and the header that says whether a proxy served from its
# cache ("200 HIT from bench").
cache_status() {
    local peer=$1 size=$2
    curl -s --max-time 20 -o /dev/null -D - -x "http://127.0.0.1:${port_of[$peer]}" "$(url_of "$size")" |
        tr -d '\r' | awk -F': ' 'NR == 1 { split($0, w, " "); code = w[2] }
            tolower($1) == "x-cache" || tolower($1) == "x-cache-status" { st = st " " $2 }
            END { print (code == "" ? "none" : code) st }'
}

# warm PEER PHASE SIZE: a few fetches through the proxy, then one more must
# answer 200 and, in the hit phase, say HIT; if not, the peer's runs at this
# size are invalid.
warm() {
    local peer=$1 phase=$2 size=$3 status
    [ "$peer" != ceiling ] || return 0
    for _ in 1 2 3; do
        curl -s --max-time 20 -o /dev/null -x "http://127.0.0.1:${port_of[$peer]}" "$(url_of "$size")" || true
    done
    status=$(cache_status "$peer" "$size")
    if [[ "$status" != 200* ]] || { [ "$phase" = hit ] && [[ "$status" != *HIT* ]]; }; then
        log "$peer ($phase, $size): after warm-up answered '$status', not 200${phase/nocache/}${phase/hit/ with a HIT}"
        peer_why[$size.$phase.$peer]="warm-up answered '$status'"
    fi
}

# ------------------------------------------------------------------ measuring

# run_ab PEER PHASE SIZE ROUND: one ab run; appends a CSV row.
run_ab() {
    local peer=$1 phase=$2 size=$3 round=$4 raw before after load proxy=() rc=0 perf_pid=""
    local srv0 srv1 org0 org1 cli0 cli1 t0 t1 alive=0 target n=${n_of[$3]}
    local sb0 st0 cb0 ct0 sb1 st1 cb1 ct1
    raw=$out/ab-$size-$phase-$peer-r$round.txt
    [ "$peer" = ceiling ] || proxy=(-X "127.0.0.1:${port_of[$peer]}")
    target=$(url_of "$size")
    [ "$peer" != ceiling ] || target=http://127.0.0.1:${port_of[ceiling]}/obj$size
    if [ "$perf" = 1 ] && [ "$peer" = proxyd ] && [ "$round" = 1 ] && command -v perf >/dev/null; then
        perf record -F 999 -g -p "$proxyd_pid" -o "$out/perf-proxyd-$phase-$size.data" >"$work/perf.log" 2>&1 &
        perf_pid=$!
        sleep 0.5
    fi
    before=$(origin_fetches)
    load=$(cut -d ' ' -f 1 /proc/loadavg)
    srv0=$(server_ns "$peer")
    org0=$(cpu_ticks "$origin_pid")
    cli0=$(children_ticks)
    read -r sb0 st0 <<<"$(cpus_time "$SERVER_CPUS")"
    read -r cb0 ct0 <<<"$(cpus_time "$CLIENT_CPUS")"
    t0=$(date +%s.%N)
    # In the background so a signal to this script is handled at once.
    timeout "$AB_TIMEOUT_S" taskset -c "$CLIENT_CPUS" ab -q -k -n "$n" -c "$c" -s 30 "${proxy[@]}" "$target" \
        >"$raw" 2>&1 </dev/null &
    ab_pid=$!
    wait "$ab_pid" || rc=$?
    ab_pid=""
    t1=$(date +%s.%N)
    read -r sb1 st1 <<<"$(cpus_time "$SERVER_CPUS")"
    read -r cb1 ct1 <<<"$(cpus_time "$CLIENT_CPUS")"
    cli1=$(children_ticks)
    srv1=$(server_ns "$peer")
    org1=$(cpu_ticks "$origin_pid")
    after=$(origin_fetches)
    ! is_running "${peer_pid[$peer]}" || alive=1
    if [ -n "$perf_pid" ]; then
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" 2>/dev/null || true
        # A flat profile to read; the .data (with call graphs) for perf report.
        perf report --stdio --no-children -g none --percent-limit 0.5 \
            -i "$out/perf-proxyd-$phase-$size.data" 2>/dev/null | grep -v '^$' |
            head -n 80 >"$out/perf-proxyd-$phase-$size.txt" || true
        log "perf profile: $out/perf-proxyd-$phase-$size.txt"
    fi
    [ "$rc" -eq 0 ] || log "ab against $peer exited $rc (see $raw)"
    # A figure ab did not print stays empty in the CSV (never 0): the report
    # reads an empty field as "did not parse".
    awk -v size="$size" -v phase="$phase" -v round="$round" -v peer="$peer" -v n="$n" -v c="$c" \
        -v fetches="$((after - before))" -v rc="$rc" -v load="$load" -v hz="$clk_tck" \
        -v srv="$((srv1 - srv0))" -v cli="$((cli1 - cli0))" -v org="$((org1 - org0))" \
        -v t0="$t0" -v t1="$t1" -v alive="$alive" -v sb="$((sb1 - sb0))" -v si="$((st1 - st0))" \
        -v cb="$((cb1 - cb0))" -v ci="$((ct1 - ct0))" -v sn="$server_ncpu" -v cn="$client_ncpu" '
        /^Complete requests:/ { done = $3 }
        /^Failed requests:/ { failed = $3 }
        /^Non-2xx responses:/ { non2xx = $3 }
        /^Requests per second:/ { rps = $4 }
        /^Time per request:.*\(mean\)$/ { mean = $4 }
        /^Transfer rate:/ { kbps = $3 }
        $1 == "50%" { p50 = $2 }
        $1 == "99%" { p99 = $2 }
        END {
            # How busy the CPUs of each side were, and the others: the busy
            # time of both sides less our processes and the irq/softirq
            # time (the packet work of loopback, ours too). Where the kernel
            # also charges irq time to the task it interrupted, this counts
            # it twice and the others come out low: a conservative figure.
            e = t1 - t0 > 0 ? t1 - t0 : 1
            sbusy = 100 * sb / hz / e / sn
            cbusy = 100 * cb / hz / e / cn
            other = 100 * ((sb + cb - si - ci - cli - org) / hz - srv / 1e9) / e / (sn + cn)
            printf "%s,%s,%s,%s,%d,%d,%s,%s,%s,%s,%s,%s,%s,%s,%d,%d,%s,%.3f,%.6f,%.2f,%.2f,%.1f,%d,%.0f,%.0f,%.0f\n",
                size, phase, round, peer, n, c, done, rps, p50, p99, mean, failed, non2xx, kbps,
                fetches, rc, load, t1 - t0, srv / 1e9, cli / hz, org / hz, srv / 1e6, alive,
                (sbusy > 100 ? 100 : sbusy), (cbusy > 100 ? 100 : cbusy), (other < 0 ? 0 : other)

        }' "$raw" >>"$csv"
    tail -n 1 "$csv" | awk -F, -v sn="$server_ncpu" -v cn="$client_ncpu" '{ e = $18 > 0 ? $18 : 1
        printf "  %-3s %-7s %-8s round %s: %8.1f req/s  p50 %4s ms  p99 %4s ms  server %3.0f%% (its CPUs busy %s%%)  ab+origin %3.0f%% (theirs %s%%)  others %s%%  done %s failed %s non-2xx %s origin fetches %s\n",
            $1, $2, $4, $3, $8, $9, $10, 100 * $19 / e / sn, $24, 100 * ($20 + $21) / e / cn, $25, $26,
            ($7 == "" ? "-" : $7), ($12 == "" ? "-" : $12), ($13 == "" ? 0 : $13), $15 }' >&2
}

# Starts every peer of the phase and warms each size through it. A peer that
# does not start is not fatal: its runs fail against a closed port and every
# verdict that names it reads invalid.
start_phase() {
    local phase=$1 peer size ok
    for peer in "${peers[@]}"; do
        [ "$phase" = nocache ] && [ "$peer" = ceiling ] && continue
        ok=1
        case "$peer" in
        squid) start_squid "$phase" || ok=0 ;;
        nginx) start_nginx_proxy "$phase" || ok=0 ;;
        proxyd) start_proxyd "$phase" || ok=0 ;;
        ceiling) start_ceiling || ok=0 ;;
        esac
        if [ "$ok" = 0 ]; then
            peer_why[$phase.$peer]="did not start"
            log "$peer ($phase) did not start: its runs are invalid"
            continue
        fi
        for size in "${sizes[@]}"; do warm "$peer" "$phase" "$size"; done
        log "$peer ($phase) up on port ${port_of[$peer]}"
    done
}

# Stops every peer of the phase; the origin stays for the next one.
stop_phase() {
    local pid others=()
    for pid in "${pids[@]}"; do
        if [ "$pid" != "$origin_pid" ]; then others+=("$pid"); fi
    done
    pids=("${others[@]}")
    [ "${#pids[@]}" -eq 0 ] || stop_all
    pids=("$origin_pid")
    rm -rf "${shm:?}"/*
}

# ------------------------------------------------------------------ report

# CSV columns: 1 size, 2 phase, 3 round, 4 peer, 5 requests asked, 6 c,
# 7 complete, 8 req/s, 9 p50 ms, 10 p99 ms, 11 mean ms, 12 failed, 13 non-2xx,
# 14 KB/s, 15 origin fetches, 16 ab exit, 17 load1, 18 elapsed s, 19 server
# CPU s, 20 ab CPU s, 21 origin CPU s, 22 server CPU ms, 23 server running,
# 24 and 25 how busy the server's and the client's CPUs were (%, all but
# idle and iowait), 26 others % (both sides' busy time less our processes
# and irq/softirq: other tenants, steal; in % of all those CPUs).
CSV_HEAD=size,phase,round,peer,requests,concurrency,complete,rps,p50_ms,p99_ms,mean_ms,failed,non2xx,transfer_kbps,origin_fetches,ab_exit,load1,elapsed_s,server_cpu_s,ab_cpu_s,origin_cpu_s,server_cpu_ms,server_running,server_cpus_busy_pct,client_cpus_busy_pct,others_pct

# CPU per request of one row, as an awk expression ("" when there is none):
# the server's own, and all the run's (server, ab and origin). On loopback a
# sender's segments are often transmitted from the receiver's context (an ACK
# that ab's read sends opens the window, and the server's queued bytes go out
# from that softirq, on ab's CPU time): perf on ab shows 53% of its time in
# tcp_write_xmit with nginx and with proxyd alike, and nginx's tcp_nopush
# alone moves ab's CPU per 1 MiB by +25%. The server's cgroup sees only part
# of what its hits cost; with the same ab and origin for every peer, the
# run's whole CPU per request differs only by what the server causes.
US_PER_REQ='($7 > 0 ? 1e6 * $19 / $7 : "")'
ALL_US_PER_REQ='($7 > 0 ? 1e6 * ($19 + $20 + $21) / $7 : "")'

# run_median SIZE PHASE PEER AWK_EXPR: the median over rounds of an
# expression of one CSV row (empty values left out; "" for none).
run_median() {
    awk -F, -v sz="$1" -v ph="$2" -v p="$3" -v sn="$server_ncpu" -v cn="$client_ncpu" \
        "NR > 1 && \$1 == sz && \$2 == ph && \$4 == p { v = $4; if (v != \"\") print v }" "$csv" | median
}

# paired SIZE PHASE PEER AWK_EXPR: the median over rounds of proxyd/PEER of
# the expression, each round's proxyd run against the same round's PEER run
# (a round's runs are close in time, so other tenants' load mostly cancels).
paired() {
    awk -F, -v sz="$1" -v ph="$2" -v p="$3" -v sn="$server_ncpu" -v cn="$client_ncpu" "
        NR > 1 && \$1 == sz && \$2 == ph && \$4 == \"proxyd\" { a[\$3] = $4 }
        NR > 1 && \$1 == sz && \$2 == ph && \$4 == p { b[\$3] = $4 }
        END { for (r in a) if ((r in b) && a[r] != \"\" && b[r] != \"\" && b[r] > 0) print a[r] / b[r] }" "$csv" |
        median | awk '{ if ($1 != "") printf "%.2f", $1 }'
}

# run_why SIZE PHASE PEER: why the peer's runs at this size and phase cannot
# be judged; nothing when every run is valid.
run_why() {
    local size=$1 phase=$2 peer=$3 from_csv
    from_csv=$(awk -F, -v sz="$size" -v ph="$phase" -v p="$peer" -v min="$MIN_SERVER_CPU_MS" '
        function add(s) { out = out (out == "" ? "" : "; ") s }
        NR > 1 && $1 == sz && $2 == ph && $4 == p {
            k++
            if ($23 != 1) dead++
            if ($16 != 0) abfail++
            if ($7 == "" || $8 == "") noparse++
            else if ($7 == 0) zero++
            else if ($7 < $5) { short++; missing += $5 - $7 }
            bad += $12 + $13
            if ($22 < min) low++
            if (ph == "hit" && p != "ceiling") fetches += $15
        }
        END {
            if (k == 0) { print "no runs"; exit }
            if (dead) add("server not running after " dead " of " k " runs")
            if (abfail) add("ab failed in " abfail " of " k " runs")
            if (noparse) add("ab output did not parse in " noparse " runs")
            if (zero) add("zero requests completed in " zero " runs")
            if (short) add(missing " requests not completed")
            if (bad) add(bad " failed or non-2xx requests")
            if (low) add("server CPU under " min " ms in " low " runs (raise -n)")
            if (fetches) add(fetches " origin fetches during hits")
            print out
        }' "$csv")
    reasons "${peer_why[$phase.$peer]:-}" "${peer_why[$size.$phase.$peer]:-}" "$from_csv"
}

# The issue targets, each on server CPU per request proxyd/peer (lower is
# better): "PHASE PEER OP TARGET WHERE-FROM".
TARGETS=(
    "hit nginx <= 1.00 issue 11: at most nginx's CPU per hit, at every size"
    "hit squid <= 0.33 issue 2: 3x Squid's hits, on the same CPU"
    "hit ceiling <= 1.25 issue 2: 0.8x the sendfile ceiling, on the same CPU"
    "nocache nginx <= 1.11 issue 2: 0.9x nginx with the cache off, on the same CPU"
)

report() {
    local size phase peer rps p50 p99 us all_us srv_pct cli_pct sbusy cbusy others bound fails fetches why line
    local t op target from r rm rr why_a why_b why v all_v all_why ra va all_va
    {
        echo
        printf 'proxy-peers: ab -k -c %s, %s interleaved rounds, medians; requests per run:' "$c" "$rounds"
        for size in "${sizes[@]}"; do printf ' %s %s' "$size" "${n_of[$size]}"; done
        echo
        echo "servers on CPU $SERVER_CPUS, ab and origin on CPU $CLIENT_CPUS; $(nproc) CPUs: $(lscpu | sed -n 's/^Model name: *//p')"
        echo "$(squid -v | head -n 1); $(nginx -v 2>&1); $("$PROXYD" --version 2>/dev/null | head -n 1) ($PROXYD)"
        echo "bench scripts at $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')"
        awk -F, -v ncpu="$(nproc)" 'NR > 1 { s += $17; if ($17 > m) m = $17; k++ }
            END { if (k) printf "1-min load average before runs: mean %.2f, max %.2f%s\n", s / k, m,
                  (m > ncpu / 2 ? "  (other work was running: expect noise)" : "") }' "$csv"
        echo
        printf '%-4s %-7s %-8s %9s %5s %5s %10s %10s %5s %5s %9s %5s %-8s %6s %6s  %s\n' size phase peer "req/s" "p50" "p99" \
            "srv us/req" "all us/req" "srv%" "cli%" "busy s/c" "oth%" bound failed origin validity
        for size in "${sizes[@]}"; do
            for phase in "${phases[@]}"; do
                for peer in "${peers[@]}"; do
                    [ "$phase" = nocache ] && [ "$peer" = ceiling ] && continue
                    rps=$(run_median "$size" "$phase" "$peer" '$8')
                    p50=$(run_median "$size" "$phase" "$peer" '$9')
                    p99=$(run_median "$size" "$phase" "$peer" '$10')
                    us=$(run_median "$size" "$phase" "$peer" "$US_PER_REQ")
                    all_us=$(run_median "$size" "$phase" "$peer" "$ALL_US_PER_REQ")
                    srv_pct=$(run_median "$size" "$phase" "$peer" '($18 > 0 ? 100 * $19 / $18 / sn : "")')
                    cli_pct=$(run_median "$size" "$phase" "$peer" '($18 > 0 ? 100 * ($20 + $21) / $18 / cn : "")')
                    sbusy=$(run_median "$size" "$phase" "$peer" '$24')
                    cbusy=$(run_median "$size" "$phase" "$peer" '$25')
                    others=$(run_median "$size" "$phase" "$peer" '$26')
                    fails=$(awk -F, -v sz="$size" -v ph="$phase" -v p="$peer" \
                        'NR > 1 && $1 == sz && $2 == ph && $4 == p { s += $12 + $13 } END { print s + 0 }' "$csv")
                    fetches=$(run_median "$size" "$phase" "$peer" '$15')
                    bound=$(awk -v s="${sbusy:-0}" -v c="${cbusy:-0}" -v o="${others:-0}" -v sat="$SATURATED_PCT" \
                        -v busy="$OTHERS_BUSY_PCT" 'BEGIN {
                            if (o >= busy) print "others"
                            else if (s >= sat || c >= sat) print (c >= s ? "client" : "server")
                            else print "neither" }')
                    why=$(run_why "$size" "$phase" "$peer")
                    [ -z "$why" ] || bound=-
                    printf '%-4s %-7s %-8s %9s %5s %5s %10s %10s %5s %5s %9s %5s %-8s %6s %6s  %s\n' "$size" "$phase" "$peer" \
                        "$(fmt "$rps" %.1f)" "${p50:--}" "${p99:--}" "$(fmt "$us" %.1f)" "$(fmt "$all_us" %.1f)" "$(fmt "$srv_pct" %.0f)" \
                        "$(fmt "$cli_pct" %.0f)" "$(fmt "$sbusy" %.0f)/$(fmt "$cbusy" %.0f)" "$(fmt "$others" %.0f)" \
                        "$bound" "$fails" "${fetches:--}" "${why:+invalid: }${why:-valid}"
                done
            done
        done
        echo
        echo "verdicts on server CPU per request, proxyd/peer: the median of the per-round ratios;"
        echo "against nginx's hits also on the whole run's CPU per request (server, ab, origin)"
        echo "(beside it, for reference: the ratio of the medians, and req/s proxyd/peer paired;"
        echo " an invalid verdict names the first reason of each side, the table above has them all)"
        for size in "${sizes[@]}"; do
            for t in "${TARGETS[@]}"; do
                read -r phase peer op target from <<<"$t"
                if ! want "$phase" "$phases_wanted" || ! want "$peer" "$peers_wanted" || ! want proxyd "$peers_wanted"; then
                    continue
                fi
                r=$(paired "$size" "$phase" "$peer" "$US_PER_REQ")
                rm=$(ratio "$(run_median "$size" "$phase" proxyd "$US_PER_REQ")" "$(run_median "$size" "$phase" "$peer" "$US_PER_REQ")")
                rr=$(paired "$size" "$phase" "$peer" '$8')
                why_a=$(run_why "$size" "$phase" proxyd)
                why_b=$(run_why "$size" "$phase" "$peer")
                line=$(printf '%-4s %-7s proxyd/%-8s CPU/req %5s (of medians %5s; req/s %5s)  target %s %s: %s' \
                    "$size" "$phase" "$peer" "${r:--}" "$rm" "${rr:--}" "$op" "$target" \
                    "$(verdict "$r" "$op" "$target" "$(reasons "${why_a:+proxyd: ${why_a%%;*}}" "${why_b:+$peer: ${why_b%%;*}}")")")
                why=$(reasons "${why_a:+proxyd: ${why_a%%;*}}" "${why_b:+$peer: ${why_b%%;*}}")
                ra=$(paired "$size" "$phase" "$peer" "$ALL_US_PER_REQ")
                va=$(verdict "$ra" "$op" "$target" "$why")
                echo "  $line"
                # The whole run's CPU judges the CPU-per-hit target only: the
                # others are about the server's own throughput, which ab's
                # fixed cost per request would dilute.
                [ "$phase $peer" != "hit nginx" ] ||
                    printf '  %-4s %-7s proxyd/%-8s all CPU/req %5s (server, ab and origin per request)  target %s %s: %s\n' \
                        "$size" "$phase" "$peer" "${ra:--}" "$op" "$target" "$va"
                echo "       ($from)"
                if [ "$phase $peer" = "hit nginx" ]; then
                    v=$(verdict "$r" "$op" "$target" "$why")
                    case "$v" in
                    invalid*) all_why="${all_why:-}${all_why:+, }$size" ;;
                    missed) all_v=missed ;;
                    esac
                    [ "$va" != missed ] || all_va=missed
                fi
            done
        done
        if want hit "$phases_wanted" && want nginx "$peers_wanted" && want proxyd "$peers_wanted"; then
            echo
            # Met only when met at every size measured; invalid when any size is.
            if [ -n "${all_why:-}" ]; then
                v="invalid (invalid runs at $all_why)"
            else
                v=${all_v:-met}
            fi
            echo "issue 11: proxyd's CPU per hit at most nginx's at every size (${sizes[*]}):"
            echo "  on the server's own CPU: $v"
            [ -n "${all_why:-}" ] || v=${all_va:-met}
            echo "  on all the run's CPU (server, ab, origin; same ab and origin for both): $v"
        fi
        echo
        echo "(srv% = the peer's own CPU, in % of its CPU $SERVER_CPUS; cli% = ab's and the origin's, of CPU"
        echo " $CLIENT_CPUS; busy s/c = how busy those CPUs were, loopback's packet work (softirq) and"
        echo " other tenants included; oth% = the busy time that was neither ours nor irq, in % of"
        echo " all those CPUs: other tenants and steal. bound = others when oth% is ${OTHERS_BUSY_PCT}% or more"
        echo " (the run was contended); else the side whose CPUs were busier once at ${SATURATED_PCT}% or"
        echo " more; else neither. Where the client is the limit, req/s measures ab, and server CPU"
        echo " per request is what the server costs. srv us/req = microseconds of the peer's own"
        echo " CPU per request, counted by its cgroup; all us/req = the server's, ab's and the"
        echo " origin's together: on loopback part of a server's sending runs on ab's CPU time,"
        echo " so a server can look cheaper by leaving more of its work to ab)"
        echo
        echo "raw: $csv"
    } | tee "$out/summary.txt"
}

# fmt VALUE FORMAT: VALUE printed with FORMAT, "-" when there is none.
fmt() { if [ -n "$1" ]; then awk -v v="$1" -v f="$2" 'BEGIN { printf f, v }'; else echo -; fi; }

# ------------------------------------------------------------------ main

peers=()
for p in squid nginx proxyd ceiling; do
    if want "$p" "$peers_wanted"; then peers+=("$p"); fi
done
phases=()
for p in hit nocache; do
    if want "$p" "$phases_wanted"; then phases+=("$p"); fi
done
[ "${#peers[@]}" -gt 0 ] || { echo "proxy-peers: no peer to run" >&2 && exit 64; }
[ "${#phases[@]}" -gt 0 ] || { echo "proxy-peers: no phase to run" >&2 && exit 64; }

echo "$CSV_HEAD" >"$csv"
log "results in $out"
start_origin
origin_pid=${pids[0]}
log "origin nginx on 127.0.0.1:$origin_port (CPU $CLIENT_CPUS), objects ${sizes[*]}"

for phase in "${phases[@]}"; do
    if [ "$phase" = hit ]; then running="${peers[*]}"; else running="${peers[*]/ceiling/}"; fi
    log "phase $phase: starting $running"
    start_phase "$phase"
    for round in $(seq 1 "$rounds"); do
        for size in "${sizes[@]}"; do
            # Rotate the order each round so no peer always runs first or last.
            for i in $(seq 0 $((${#peers[@]} - 1))); do
                peer=${peers[$(((i + round - 1) % ${#peers[@]}))]}
                [ "$phase" = nocache ] && [ "$peer" = ceiling ] && continue
                run_ab "$peer" "$phase" "$size" "$round"
            done
        done
    done
    stop_phase
done

report
