#!/usr/bin/env bash
# The autoscaler under a load ramp, twice with the same rate schedule: once
# on the balancer's latency (--autoscale-target p99=...), once on the
# instances' CPU (cpu=70%). The setup is scenario 94's calibration: in a
# network namespace of its own, an nginx origin serves one small object
# (every request after the first is a cache hit), the manager runs the
# container runtime with each instance throttled to --cpus 0.02 (about a
# hundred hits a second each), balancer mode, --autoscale 1..8, an up window
# of 2 s, a down window of 8 s, and loadgen sends one connection per request
# (--no-keepalive) through the VIP with an open-loop --rate-steps schedule.
# Each run samples GET /v1/pool's ready count once a second (t_s from
# loadgen's start) into replicas-TARGET.csv, loadgen writes its per-second
# series (--series, --slo at the latency target for both runs, so both are
# judged by the same figure), and `ppexp ramp-summary` judges each run
# (time to the next replica, share over target in the 10 s after each step,
# changes of direction). gnuplot draws autoscale-ramp.png: two columns
# (latency target | CPU target), three rows on one time axis: offered rate,
# p99 per second with the target line, replica count.
#
# Usage: bench/autoscale-ramp.sh [--steps RATE:DUR,...] [--cpus C]
#          [--target-ms MS] [--cpu-target PCT] [--out DIR]
#   --steps S        loadgen --rate-steps schedule
#                    (default 30:10s,150:20s,300:20s,30:30s: 80 s)
#   --cpus C         each instance's CPU quota (default 0.02)
#   --target-ms MS   the latency target and loadgen's --slo (default 50)
#   --cpu-target P   the CPU run's target in percent (default 70)
#   --out DIR        results directory (default results/autoscale-UTCSTAMP)
# Files in DIR: series-{p99,cpu}.csv, replicas-{p99,cpu}.csv,
# summary-{p99,cpu}.txt, loadgen-*.json, manager-*.log,
# autoscale-{p99,cpu}.json (the decisions), autoscale-ramp.png,
# summary.md (date, command, machine load, both summaries), loadgen-*.err.
# Needs root (namespaces, cgroups), nginx, jq, curl, gnuplot (gnuplot-nox).
# Everything runs inside the namespace it creates; on exit (or Ctrl-C) the
# loadgen, sampler, managers and nginx are stopped, the instances' cgroups
# removed and the namespace deleted. Each run is bounded: the schedule's
# length plus 40 s.
# Env: PP_BUILD (the build dir, default ./build).
set -euo pipefail
BENCH_NAME=autoscale-ramp
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy no_proxy NO_PROXY

repo=$(cd "$(dirname "$0")/.." && pwd)
BIN=${PP_BUILD:-$repo/build}/bin
STEPS=30:10s,150:20s,300:20s,30:30s
CPUS=0.02
TARGET_MS=50
CPU_TARGET=70
OUT=""
usage() { sed -n '/^# Usage:/,/^#   --out/p' "$0" | sed 's/^# \{0,1\}//'; }
while [ "$#" -gt 0 ]; do
    case "$1" in
    --steps) STEPS=${2:?--steps needs a schedule} && shift 2 ;;
    --cpus) CPUS=${2:?--cpus needs a figure} && shift 2 ;;
    --target-ms) TARGET_MS=${2:?--target-ms needs a figure} && shift 2 ;;
    --cpu-target) CPU_TARGET=${2:?--cpu-target needs a figure} && shift 2 ;;
    --out) OUT=${2:?--out needs a directory} && shift 2 ;;
    -h | --help) usage && exit 0 ;;
    *) echo "$BENCH_NAME: unknown argument '$1' (see --help)" >&2 && exit 2 ;;
    esac
done
bad_usage() { echo "$BENCH_NAME: $*" >&2 && exit 2; }
if ! is_uint "$TARGET_MS" || [ "$TARGET_MS" -lt 1 ]; then bad_usage "--target-ms must be a whole number of ms >= 1"; fi
if ! is_uint "$CPU_TARGET" || [ "$CPU_TARGET" -lt 1 ] || [ "$CPU_TARGET" -gt 100 ]; then
    bad_usage "--cpu-target must be a percentage 1..100"
fi
is_number "$CPUS" || { echo "$BENCH_NAME: --cpus must be a figure" >&2 && exit 2; }
[ "$(id -u)" = 0 ] || { echo "$BENCH_NAME: needs root (namespaces, cgroups)" >&2 && exit 2; }
for tool in nginx jq curl gnuplot nsenter; do
    command -v "$tool" >/dev/null || { echo "$BENCH_NAME: needs $tool" >&2 && exit 2; }
done
for prog in manager balancer proxyd loadgen ppexp; do
    [ -x "$BIN/$prog" ] || { echo "$BENCH_NAME: no $BIN/$prog (run make)" >&2 && exit 2; }
done
# The schedule's length in seconds (ms, s, m and h suffixes; loadgen itself
# checks the schedule when the first run starts).
RUN_S=$(tr ',' '\n' <<<"$STEPS" | awk -F: '
    { d = $2; if (d ~ /ms$/) { sub(/ms$/, "", d); s += d / 1000 } else if (d ~ /m$/) { sub(/m$/, "", d); s += d * 60 }
      else if (d ~ /h$/) { sub(/h$/, "", d); s += d * 3600 }
      else { sub(/s$/, "", d); s += d } }
    END { printf "%d", s + 0.999 }')
if [ "$RUN_S" -lt 1 ] || [ "$RUN_S" -gt 600 ]; then bad_usage "the schedule must last 1..600 s (it lasts $RUN_S)"; fi

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
STARTED=$(date -u +%Y-%m-%dT%H:%MZ)
OUT=${OUT:-$repo/results/autoscale-$STAMP}
mkdir -p "$OUT"
work=$OUT
COMMAND="bench/autoscale-ramp.sh --steps $STEPS --cpus $CPUS --target-ms $TARGET_MS --cpu-target $CPU_TARGET"
LOAD_BEFORE=$(cat /proc/loadavg)

NS=ppramp-$$
IN=(nsenter --net="/run/netns/$NS") # not `ip netns exec`: it hides the cgroups
VIP=198.19.255.10
ORIGIN=198.19.1.2
PIDS=()
PREFIXES=()
remove_cgroups() { # remove_cgroups PREFIX: the instances' groups, processes first
    local d
    for d in $(find /sys/fs/cgroup -maxdepth 3 -type d -name "$1*" | sort -r); do
        xargs -r kill -KILL <"$d/cgroup.procs" 2>/dev/null || true
    done
    sleep 0.2
    find /sys/fs/cgroup -maxdepth 3 -depth -type d -name "$1*" -exec rmdir {} \; 2>/dev/null || true
}
cleanup() {
    local p pids
    trap - EXIT INT TERM
    [ "${#PIDS[@]}" -eq 0 ] || stop_pids "${PIDS[@]}"
    for p in "${PREFIXES[@]}"; do remove_cgroups "$p"; done
    if ip netns list | grep -qw "$NS"; then
        pids=$(ip netns pids "$NS" 2>/dev/null || true)
        # shellcheck disable=SC2086
        [ -z "$pids" ] || stop_pids $pids
        ip netns del "$NS" 2>/dev/null || log "cleanup: ip netns del $NS failed"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" addr add "$ORIGIN/32" dev lo
mkdir -p "$OUT/www" "$OUT/nginx/tmp"
head -c 2048 /dev/urandom >"$OUT/www/obj"
cat >"$OUT/nginx/nginx.conf" <<NGINX
daemon off; master_process off; worker_processes 1; user root;
pid $OUT/nginx/nginx.pid; error_log $OUT/nginx/error.log;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $OUT/nginx/tmp; proxy_temp_path $OUT/nginx/tmp; fastcgi_temp_path $OUT/nginx/tmp;
    uwsgi_temp_path $OUT/nginx/tmp; scgi_temp_path $OUT/nginx/tmp;
    server { listen $ORIGIN:80; root $OUT/www;
             location / { add_header Cache-Control "max-age=3600"; } }
}
NGINX
"${IN[@]}" nginx -c "$OUT/nginx/nginx.conf" &
PIDS+=("$!")

api() { "${IN[@]}" curl -sS --max-time 5 "$@"; }
ready() { api "http://127.0.0.1:$1/v1/pool" 2>/dev/null | jq -r '.ready // empty' 2>/dev/null || true; }

# run NAME TARGET: one ramp with the autoscaler on TARGET; its files in $OUT.
run() {
    local name=$1 target=$2 prefix port admin mpid lpid t0 i r
    prefix=r$$$name
    prefix=${prefix:0:7}
    PREFIXES+=("$prefix")
    port=$(free_port)
    admin=$(free_port)
    log "$name: manager with --autoscale-target $target"
    "${IN[@]}" "$BIN/manager" --runtime container --replicas 1 \
        --api "127.0.0.1:$port" --state-dir "$OUT/state-$name" --prefix "$prefix" \
        --subnet 198.19.0.0/24 --bridge "${prefix}br" --cpus "$CPUS" --memory 64M \
        --forwarding balancer --vip "$VIP:3128" --balancer-admin "127.0.0.1:$admin" \
        --drain-timeout 5s --proxy-arg=--cache-mem=16M \
        --autoscale 1..8 --autoscale-target "$target" --autoscale-up-window 2s \
        --autoscale-down-window 8s --autoscale-cooldown 1s --autoscale-max-step 4 \
        >"$OUT/manager-$name.log" 2>&1 &
    mpid=$!
    PIDS+=("$mpid")
    for i in $(seq 1 100); do
        [ "$(ready "$port")" != 1 ] || break
        is_running "$mpid" || { log "$name: the manager exited: $(tail -3 "$OUT/manager-$name.log")" && return 1; }
        [ "$i" -lt 100 ] || { log "$name: the manager is not ready after 20 s" && return 1; }
        sleep 0.2
    done
    # One request warms the cache: every later one is a hit.
    "${IN[@]}" curl -sS -o /dev/null --max-time 10 -x "http://$VIP:3128" "http://$ORIGIN/obj" ||
        { log "$name: the pool does not serve through the VIP" && return 1; }
    log "$name: ramp $STEPS ($RUN_S s)"
    t0=$(date +%s%N)
    "${IN[@]}" "$BIN/loadgen" "http://$ORIGIN/obj" --proxy "$VIP:3128" --no-keepalive \
        -c 400 --timeout 10s --rate-steps "$STEPS" --series "$OUT/series-$name.csv" \
        --slo "${TARGET_MS}ms" --json "$OUT/loadgen-$name.json" --quiet 2>"$OUT/loadgen-$name.err" &
    lpid=$!
    PIDS+=("$lpid")
    # One sample a second, t_s from loadgen's start, until it ends (bounded:
    # the schedule plus 40 s, then loadgen is stopped).
    echo "t_s,ready" >"$OUT/replicas-$name.csv"
    for i in $(seq 0 $((RUN_S + 40))); do
        is_running "$lpid" || break
        r=$(ready "$port")
        [ -z "$r" ] || awk -v t="$(date +%s%N)" -v t0="$t0" -v r="$r" \
            'BEGIN { printf "%.1f,%d\n", (t - t0) / 1e9, r }' >>"$OUT/replicas-$name.csv"
        sleep "$(awk -v t="$(date +%s%N)" -v t0="$t0" -v i="$i" 'BEGIN { s = (i + 1) - (t - t0) / 1e9; print (s > 0 ? s : 0) }')"
    done
    if is_running "$lpid"; then log "$name: loadgen outlived the schedule by 40 s: stopped"; fi
    stop_pids "$lpid"
    api "http://127.0.0.1:$port/v1/autoscale" >"$OUT/autoscale-$name.json" 2>/dev/null || true
    stop_pids "$mpid"
    remove_cgroups "$prefix"
    [ -s "$OUT/series-$name.csv" ] || { log "$name: loadgen wrote no series: $(head -3 "$OUT/loadgen-$name.err")" && return 1; }
    "$BIN/ppexp" ramp-summary "$OUT/series-$name.csv" "$OUT/replicas-$name.csv" "$STEPS" \
        >"$OUT/summary-$name.txt" 2>&1 || log "$name: ppexp ramp-summary failed: $(tail -1 "$OUT/summary-$name.txt")"
    log "$name: $(jq -c '{requests, errors: .errors.total, p99_ms: .latency_ms.p99}' "$OUT/loadgen-$name.json" 2>/dev/null || echo 'no loadgen summary')"
    cat "$OUT/summary-$name.txt" >&2
}

run p99 "p99=${TARGET_MS}ms"
run cpu "cpu=${CPU_TARGET}%"
LOAD_AFTER=$(cat /proc/loadavg)

# The figure: series columns second,offered,completed,errors,p99_ms,over_slo.
cat >"$OUT/autoscale-ramp.gp" <<GP
set terminal pngcairo size 1200,900 font 'sans,9'
set output '$OUT/autoscale-ramp.png'
set datafile separator ','
set grid
set key top left
set multiplot layout 3,2 rowsfirst title 'autoscaler under a load ramp ($STEPS; instances at --cpus $CPUS)'
set lmargin 10
set xrange [0:$RUN_S]
set format x ''
set ylabel 'offered (req/s)'
set title 'latency target: p99=${TARGET_MS}ms'
plot '$OUT/series-p99.csv' skip 1 using 1:2 with steps lw 2 title 'offered'
set title 'CPU target: cpu=${CPU_TARGET}%'
plot '$OUT/series-cpu.csv' skip 1 using 1:2 with steps lw 2 title 'offered'
unset title
set ylabel 'p99 per second (ms)'
set logscale y
plot '$OUT/series-p99.csv' skip 1 using 1:(\$5 > 0 ? \$5 : 1/0) with linespoints pt 7 ps 0.5 title 'p99', $TARGET_MS with lines dt 2 lw 2 title 'target ${TARGET_MS} ms'
plot '$OUT/series-cpu.csv' skip 1 using 1:(\$5 > 0 ? \$5 : 1/0) with linespoints pt 7 ps 0.5 title 'p99', $TARGET_MS with lines dt 2 lw 2 title 'latency target ${TARGET_MS} ms (slo)'
unset logscale y
set format x '%g'
set xlabel 'time from the ramp start (s)'
set ylabel 'ready replicas'
set yrange [0:9]
plot '$OUT/replicas-p99.csv' skip 1 using 1:2 with steps lw 2 title 'ready'
plot '$OUT/replicas-cpu.csv' skip 1 using 1:2 with steps lw 2 title 'ready'
unset multiplot
GP
gnuplot "$OUT/autoscale-ramp.gp" 2>"$OUT/gnuplot.err" || log "gnuplot failed: $(head -3 "$OUT/gnuplot.err")"

{
    echo "Run from $STARTED to $(date -u +%H:%MZ) on $(nproc) cores, /proc/loadavg before: $LOAD_BEFORE, after: $LOAD_AFTER"
    echo
    echo '```'
    echo "$COMMAND"
    echo '```'
    for name in p99 cpu; do
        echo
        echo "$name target ($(jq -c '{requests, errors: .errors.total, p99_ms: .latency_ms.p99}' "$OUT/loadgen-$name.json" 2>/dev/null || echo 'no loadgen summary')):"
        echo
        echo '```'
        cat "$OUT/summary-$name.txt"
        echo '```'
    done
} >"$OUT/summary.md"
log "done: $OUT (autoscale-ramp.png, summary.md)"
