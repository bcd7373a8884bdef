#!/usr/bin/env bash
# proxyd against its peers on one 1 MiB object, all on loopback: Squid 5
# (memory cache), nginx proxy_cache, proxyd, and nginx serving the file itself
# (sendfile: the ceiling a proxy should approach). The same ab client and
# concurrency for each, interleaved rounds, two phases: hits (cache on, warmed)
# and cache off. Prints medians of req/s, p50, p99 and of the server's CPU per
# request (the fairer figure when ab itself saturates its core), and the
# ratios issue 2 sets targets for; raw rows go to OUT/results.csv.
#
# Usage: bench/proxy-peers.sh [--peers squid,nginx,proxyd,ceiling]
#            [--phases hit,nocache] [--rounds R] [-n N] [-c C] [--out DIR] [--perf]
# Env: N (requests per run, default 2000), C (concurrency, default 50),
#      ROUNDS (default 5), OUT (result dir), PP_BUILD (proxyd's build dir),
#      SERVER_CPUS / CLIENT_CPUS (taskset lists; default 0 and the rest).
set -euo pipefail
BENCH_NAME="proxy-peers"
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

repo=$(cd "$(dirname "$0")/.." && pwd)
PP_BUILD=${PP_BUILD:-$repo/build}
PROXYD=$PP_BUILD/bin/proxyd

# Bounds on the load, so a typo cannot run for hours: N x 1 MiB per run.
N_MAX=100000
C_MAX=1000
ROUNDS_MAX=20
AB_TIMEOUT_S=300
OBJECT_BYTES=1048576

n=${N:-2000}
c=${C:-50}
rounds=${ROUNDS:-5}
peers_wanted=squid,nginx,proxyd,ceiling
phases_wanted=hit,nocache
out=${OUT:-}
perf=0

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

while [ "$#" -gt 0 ]; do
    case "$1" in
    --peers) peers_wanted=$2 && shift ;;
    --phases) phases_wanted=$2 && shift ;;
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

if ! is_uint "$n" || [ "$n" -lt 1 ] || [ "$n" -gt "$N_MAX" ]; then
    echo "proxy-peers: N must be 1..$N_MAX" >&2
    exit 64
fi
if ! is_uint "$c" || [ "$c" -lt 1 ] || [ "$c" -gt "$C_MAX" ] || [ "$c" -gt "$n" ]; then
    echo "proxy-peers: C must be 1..$C_MAX and at most N" >&2
    exit 64
fi
if ! is_uint "$rounds" || [ "$rounds" -lt 1 ] || [ "$rounds" -gt "$ROUNDS_MAX" ]; then
    echo "proxy-peers: ROUNDS must be 1..$ROUNDS_MAX" >&2
    exit 64
fi

for tool in ab nginx squid curl taskset ss; do
    command -v "$tool" >/dev/null || { echo "proxy-peers: $tool missing (deploy/setup.sh)" >&2 && exit 1; }
done


if want proxyd "$peers_wanted" && [ ! -x "$PROXYD" ]; then
    echo "proxy-peers: $PROXYD not built: skipping proxyd (run make)" >&2
    peers_wanted=${peers_wanted//proxyd/}
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
        if ! kill -0 "$pid" 2>/dev/null; then
            log "$name exited at start-up; its logs:"
            tail -n 20 "$work/$name"*.log "$work/$name"/*.log 2>/dev/null >&2 || true
            return 1
        fi
        sleep 0.1
    done
    log "$name: port $port not open after 30 s"
    return 1
}

# start NAME CPUS COMMAND...: a foreground server as our child, pinned.
declare -A peer_pid
start() {
    local name=$1 cpus=$2
    shift 2
    taskset -c "$cpus" "$@" >"$work/$name.log" 2>&1 </dev/null &
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
    mkdir -p "$work/www"
    head -c "$OBJECT_BYTES" /dev/urandom >"$work/www/obj1m"
    origin_port=$(free_port)
    # The access log counts origin fetches, so a hit run can prove it made none.
    nginx_conf "$work/origin" "$origin_port" "
        access_log $work/origin/access.log;
        root $work/www;
        location / { add_header Cache-Control \"max-age=3600\"; }"
    start_nginx origin "$CLIENT_CPUS" "$origin_port"
    url=http://127.0.0.1:$origin_port/obj1m
}

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
    start_nginx ceiling "$SERVER_CPUS" "$port"
    port_of[ceiling]=$port
}

# nginx as a forward proxy: absolute-form requests go to the one origin,
# over kept-alive upstream connections; proxy_cache on tmpfs in the hit phase.
start_nginx_proxy() {
    local phase=$1 port cache="" cache_path=""
    port=$(free_port)
    if [ "$phase" = hit ]; then
        cache_path="proxy_cache_path $shm/nginx-cache levels=1:2 keys_zone=pp:16m max_size=260m inactive=1h use_temp_path=off;"
        cache="proxy_cache pp; proxy_cache_valid 200 1h; proxy_cache_lock on;
               add_header X-Cache-Status \$upstream_cache_status;"
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
    upstream origin { server 127.0.0.1:$origin_port; keepalive 64; }"
    start_nginx nginx "$SERVER_CPUS" "$port"
    port_of[nginx]=$port
}

start_squid() {
    local phase=$1 port dir=$work/squid cache_rule=""
    port=$(free_port)
    [ "$phase" = hit ] || cache_rule="cache deny all"
    rm -rf "$dir"
    mkdir -p "$dir"
    # No cache_dir: Squid 5 then caches in memory only.
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
    start squid "$SERVER_CPUS" squid -N -n "ppbench$$" -f "$dir/squid.conf"
    wait_port "$port" "$last_pid" squid
    port_of[squid]=$port
}

proxyd_pid=""
start_proxyd() {
    local phase=$1 port admin extra=()
    port=$(free_port)
    admin=$(free_port)
    [ "$phase" = hit ] || extra=(--no-cache)
    start proxyd "$SERVER_CPUS" "$PROXYD" --listen "127.0.0.1:$port" --admin "127.0.0.1:$admin" \
        --name bench --cache-mem 260M --max-object-size 1100K "${extra[@]}"
    proxyd_pid=$last_pid
    wait_port "$port" "$proxyd_pid" proxyd
    for _ in $(seq 1 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$admin/healthz")" = 200 ] && break
        sleep 0.1
    done
    port_of[proxyd]=$port
}

# The header that says whether a proxy served from its cache.
cache_status() {
    local peer=$1
    curl -s --max-time 20 -o /dev/null -D - -x "http://127.0.0.1:${port_of[$peer]}" "$url" |
        tr -d '\r' | awk -F': ' 'tolower($1) == "x-cache" || tolower($1) == "x-cache-status" { print $2 }' |
        tr '\n' ' '
}

# Warm: a few fetches through the proxy, then one more must say HIT.
warm() {
    local peer=$1 phase=$2 status
    [ "$peer" != ceiling ] || return 0
    for _ in 1 2 3; do
        curl -s --max-time 20 -o /dev/null -x "http://127.0.0.1:${port_of[$peer]}" "$url" || true
    done
    status=$(cache_status "$peer")
    if [ "$phase" = hit ] && [[ "$status" != *HIT* ]]; then
        log "WARNING: $peer is not serving hits after warm-up (cache header: '${status:-none}')"
    fi
    echo "$status"
}

# ------------------------------------------------------------------ measuring

# run_ab PEER PHASE ROUND: one ab run; appends a CSV row.
run_ab() {
    local peer=$1 phase=$2 round=$3 raw before after load proxy=() rc=0 perf_pid=""
    local srv0 srv1 org0 org1 cli0 cli1
    raw=$out/ab-$phase-$peer-r$round.txt
    [ "$peer" = ceiling ] || proxy=(-X "127.0.0.1:${port_of[$peer]}")
    local target=$url
    [ "$peer" != ceiling ] || target=http://127.0.0.1:${port_of[ceiling]}/obj1m
    if [ "$perf" = 1 ] && [ "$peer" = proxyd ] && [ "$round" = 1 ] && command -v perf >/dev/null; then
        perf record -F 999 -g -p "$proxyd_pid" -o "$out/perf-proxyd-$phase.data" >"$work/perf.log" 2>&1 &
        perf_pid=$!
        sleep 0.5
    fi
    before=$(origin_fetches)
    load=$(cut -d ' ' -f 1 /proc/loadavg)
    srv0=$(cpu_ticks "${peer_pid[$peer]}")
    org0=$(cpu_ticks "$origin_pid")
    cli0=$(children_ticks)
    # In the background so a signal to this script is handled at once.
    timeout "$AB_TIMEOUT_S" taskset -c "$CLIENT_CPUS" ab -q -k -n "$n" -c "$c" -s 30 "${proxy[@]}" "$target" \
        >"$raw" 2>&1 </dev/null &
    ab_pid=$!
    wait "$ab_pid" || rc=$?
    ab_pid=""
    cli1=$(children_ticks)
    srv1=$(cpu_ticks "${peer_pid[$peer]}")
    org1=$(cpu_ticks "$origin_pid")
    after=$(origin_fetches)
    if [ -n "$perf_pid" ]; then
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" 2>/dev/null || true
        # A flat profile to read; the .data (with call graphs) for perf report.
        perf report --stdio --no-children -g none --percent-limit 0.5 \
            -i "$out/perf-proxyd-$phase.data" 2>/dev/null | grep -v '^$' |
            head -n 80 >"$out/perf-proxyd-$phase.txt" || true
        log "perf profile: $out/perf-proxyd-$phase.txt"
    fi
    [ "$rc" -eq 0 ] || log "ab against $peer exited $rc (see $raw)"
    awk -v phase="$phase" -v round="$round" -v peer="$peer" -v n="$n" -v c="$c" \
        -v fetches="$((after - before))" -v rc="$rc" -v load="$load" -v hz="$clk_tck" \
        -v srv="$((srv1 - srv0))" -v cli="$((cli1 - cli0))" -v org="$((org1 - org0))" '
        /^Complete requests:/ { done = $3 }
        /^Failed requests:/ { failed = $3 }
        /^Non-2xx responses:/ { non2xx = $3 }
        /^Requests per second:/ { rps = $4 }
        /^Time per request:.*\(mean\)$/ { mean = $4 }
        /^Transfer rate:/ { kbps = $3 }
        /^Time taken for tests:/ { took = $5 }
        $1 == "50%" { p50 = $2 }
        $1 == "99%" { p99 = $2 }
        END {
            printf "%s,%s,%s,%d,%d,%d,%s,%s,%s,%s,%d,%d,%s,%d,%d,%s,%s,%.2f,%.2f,%.2f\n", phase, round, peer, n, c,
                done + 0, rps == "" ? "0" : rps, p50 == "" ? "" : p50, p99 == "" ? "" : p99,
                mean, failed + 0, non2xx + 0, kbps == "" ? "0" : kbps, fetches, rc, load,
                took, srv / hz, cli / hz, org / hz
        }' "$raw" >>"$csv"
    tail -n 1 "$csv" | awk -F, '{ e = $17 > 0 ? $17 : 1
        printf "  %-8s %-7s round %s: %7.1f req/s  p50 %4s ms  p99 %4s ms  server CPU %3.0f%%  ab CPU %3.0f%%  failed %s non-2xx %s origin fetches %s\n",
            $3, $1, $2, $7, $8, $9, 100 * $18 / e, 100 * $19 / e, $11, $12, $14 }' >&2
}

start_phase() {
    local phase=$1 peer
    for peer in "${peers[@]}"; do
        [ "$phase" = nocache ] && [ "$peer" = ceiling ] && continue
        case "$peer" in
        squid) start_squid "$phase" ;;
        nginx) start_nginx_proxy "$phase" ;;
        proxyd) start_proxyd "$phase" ;;
        ceiling) start_ceiling ;;
        esac
        status=$(warm "$peer" "$phase")
        log "$peer ($phase) up on port ${port_of[$peer]}${status:+, cache header after warm-up: $status}"
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


# run_median PHASE PEER AWK_EXPR: the median over rounds of an expression of
# one CSV row ($7 req/s, $8 p50, $9 p99, $17 elapsed s, $18 server CPU s,
# $19 ab CPU s, $6 completed requests).
run_median() {
    awk -F, -v ph="$1" -v p="$2" "NR > 1 && \$1 == ph && \$3 == p { print $3 }" "$csv" | median
}


verdict() {
    local r=$1 target=$2
    if [ "$r" = n/a ]; then echo "n/a"; elif awk -v r="$r" -v t="$target" 'BEGIN { exit !(r >= t) }'; then echo "met"; else echo "MISSED"; fi
}

report() {
    local phase peer rps p50 p99 fails fetches srv_pct ab_pct us_req r bound
    # shellcheck disable=SC2016 # awk expressions, expanded by awk
    {
        echo
        echo "proxy-peers: 1 MiB object, ab -k -n $n -c $c, $rounds interleaved rounds, medians"
        echo "servers on CPU $SERVER_CPUS, ab and origin on CPU $CLIENT_CPUS; $(nproc) CPUs: $(lscpu | sed -n 's/^Model name: *//p')"
        echo "$(squid -v | head -n 1); $(nginx -v 2>&1); proxyd $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')"
        awk -F, -v ncpu="$(nproc)" 'NR > 1 { s += $16; if ($16 > m) m = $16; k++ }
            END { if (k) printf "1-min load average before runs: mean %.2f, max %.2f%s\n", s / k, m,
                  (m > ncpu / 2 ? "  (other work was running: expect noise)" : "") }' "$csv"
        for phase in "${phases[@]}"; do
            echo
            printf '%-8s %-8s %9s %7s %7s %9s %8s %11s %7s %7s\n' phase peer "req/s" "p50 ms" "p99 ms" \
                "srv CPU%" "ab CPU%" "srv us/req" failed origin
            for peer in "${peers[@]}"; do
                [ "$phase" = nocache ] && [ "$peer" = ceiling ] && continue
                rps=$(run_median "$phase" "$peer" '$7')
                [ -n "$rps" ] || continue
                p50=$(run_median "$phase" "$peer" '$8')
                p99=$(run_median "$phase" "$peer" '$9')
                srv_pct=$(run_median "$phase" "$peer" '($17 > 0 ? 100 * $18 / $17 : 0)')
                ab_pct=$(run_median "$phase" "$peer" '($17 > 0 ? 100 * $19 / $17 : 0)')
                us_req=$(run_median "$phase" "$peer" '($6 > 0 ? 1e6 * $18 / $6 : 0)')
                fails=$(awk -F, -v ph="$phase" -v p="$peer" 'NR > 1 && $1 == ph && $3 == p { s += $11 + $12 } END { print s + 0 }' "$csv")
                fetches=$(run_median "$phase" "$peer" '$14')
                bound=""
                awk -v a="$ab_pct" 'BEGIN { exit !(a >= 90) }' && bound="  client-bound"
                printf '%-8s %-8s %9.1f %7s %7s %9.0f %8.0f %11.0f %7s %7s%s\n' "$phase" "$peer" "$rps" \
                    "$p50" "$p99" "$srv_pct" "$ab_pct" "$us_req" "$fails" "$fetches" "$bound"
                eval "rps_${phase}_${peer}=$rps us_${phase}_${peer}=$us_req"
            done
        done
        echo
        echo "ratios of req/s medians (issue 2 targets):"
        if want hit "$phases_wanted"; then
            r=$(ratio "${rps_hit_proxyd:-}" "${rps_hit_squid:-}")
            printf '  hits     proxyd/Squid   %5s  (target >= 3.0: %s)\n' "$r" "$(verdict "$r" 3.0)"
            r=$(ratio "${rps_hit_proxyd:-}" "${rps_hit_nginx:-}")
            printf '  hits     proxyd/nginx   %5s  (target >= 1.0: %s)\n' "$r" "$(verdict "$r" 1.0)"
            r=$(ratio "${rps_hit_proxyd:-}" "${rps_hit_ceiling:-}")
            printf '  hits     proxyd/ceiling %5s  (target >= 0.8: %s)\n' "$r" "$(verdict "$r" 0.8)"
            printf '  hits     Squid/ceiling  %5s\n' "$(ratio "${rps_hit_squid:-}" "${rps_hit_ceiling:-}")"
            printf '  hits     nginx/ceiling  %5s\n' "$(ratio "${rps_hit_nginx:-}" "${rps_hit_ceiling:-}")"
        fi
        if want nocache "$phases_wanted"; then
            r=$(ratio "${rps_nocache_proxyd:-}" "${rps_nocache_squid:-}")
            printf '  no cache proxyd/Squid   %5s\n' "$r"
            r=$(ratio "${rps_nocache_proxyd:-}" "${rps_nocache_nginx:-}")
            printf '  no cache proxyd/nginx   %5s  (target >= 0.9: %s)\n' "$r" "$(verdict "$r" 0.9)"
        fi
        echo
        echo "server CPU per request, peer/proxyd (above 1: proxyd spends less):"
        for phase in "${phases[@]}"; do
            for peer in squid nginx ceiling; do
                [ "$phase" = nocache ] && [ "$peer" = ceiling ] && continue
                eval "r=\$(ratio \"\${us_${phase}_${peer}:-}\" \"\${us_${phase}_proxyd:-}\")"
                [ "$r" = n/a ] || printf '  %-8s %-8s %5s\n' "$phase" "$peer" "$r"
            done
        done
        echo "(client-bound: ab used a whole core, so req/s is ab's limit there and the"
        echo " server CPU per request is the fairer comparison)"
        echo
        echo "raw: $csv"
    } | tee "$out/summary.txt"
}

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

echo "phase,round,peer,requests,concurrency,complete,rps,p50_ms,p99_ms,mean_ms,failed,non2xx,transfer_kbps,origin_fetches,ab_exit,load1,elapsed_s,server_cpu_s,ab_cpu_s,origin_cpu_s" >"$csv"
log "results in $out"
start_origin
origin_pid=${pids[0]}
log "origin nginx on 127.0.0.1:$origin_port (CPU $CLIENT_CPUS), object $url"

for phase in "${phases[@]}"; do
    if [ "$phase" = hit ]; then running="${peers[*]}"; else running="${peers[*]/ceiling/}"; fi
    log "phase $phase: starting $running"
    start_phase "$phase"
    for round in $(seq 1 "$rounds"); do
        # Rotate the order each round so no peer always runs first or last.
        for i in $(seq 0 $((${#peers[@]} - 1))); do
            peer=${peers[$(((i + round - 1) % ${#peers[@]}))]}
            [ "$phase" = nocache ] && [ "$peer" = ceiling ] && continue
            run_ab "$peer" "$phase" "$round"
        done
    done
    stop_phase
done

report
