#!/usr/bin/env bash
# loadgen against its peers, wrk and ab: the same nginx object on loopback,
# the same number of keep-alive connections, one thread each (wrk -t1), the
# same duration, interleaved rounds in a rotating order. nginx (one worker)
# runs on SERVER_CPUS, the load generator on CLIENT_CPUS. For each generator
# and object: the medians over rounds of requests/s and of the generator's
# own CPU seconds per request (utime + stime of the process, from its
# parent's /proc/PID/stat once it is waited for), and the ratios the loadgen targets
# sets targets for: loadgen >= 0.9x wrk's requests/s at no more CPU per
# request, and above ab's. A verdict is met or missed only when every run
# behind it is valid; else it reads invalid (why): a generator that failed or
# whose output (loadgen's JSON) did not parse, zero requests, a failed or
# non-2xx request, no CPU counted, or nginx gone. Raw rows go to
# OUT/results.csv.
#
# Usage: bench/loadgen-peers.sh [--rounds R] [-c C] [--duration S]
#            [--objects 1k,1m] [--out DIR] [--perf]
# Env: ROUNDS (default 5), C (connections, default 50), DURATION (seconds,
#      default 5), OUT, PP_BUILD (loadgen's build dir), SERVER_CPUS /
#      CLIENT_CPUS (taskset lists; default 0 and 1), LOADGEN (the loadgen
#      binary, default PP_BUILD/bin/loadgen; LOADGEN=/bin/false checks the
#      validity gate: loadgen writes no JSON, and every verdict must read
#      invalid).
set -euo pipefail
BENCH_NAME="loadgen-peers"
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

repo=$(cd "$(dirname "$0")/.." && pwd)
PP_BUILD=${PP_BUILD:-$repo/build}
LOADGEN=${LOADGEN:-$PP_BUILD/bin/loadgen}

# Bounds, so a typo cannot run for hours.
ROUNDS_MAX=20
C_MAX=1000
DURATION_MAX=60
RUN_TIMEOUT_S=120

rounds=${ROUNDS:-5}
c=${C:-50}
duration=${DURATION:-5}
objects_wanted=1k,1m
out=${OUT:-}
perf=0

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

while [ "$#" -gt 0 ]; do
    case "$1" in
    --rounds) rounds=$2 && shift ;;
    -c) c=$2 && shift ;;
    --duration) duration=$2 && shift ;;
    --objects) objects_wanted=$2 && shift ;;
    --out) out=$2 && shift ;;
    --perf) perf=1 ;;
    -h | --help) usage && exit 0 ;;
    *) echo "loadgen-peers: unknown argument '$1'" >&2 && usage >&2 && exit 64 ;;
    esac
    shift
done

if ! is_uint "$rounds" || [ "$rounds" -lt 1 ] || [ "$rounds" -gt "$ROUNDS_MAX" ]; then
    echo "loadgen-peers: --rounds must be 1..$ROUNDS_MAX" >&2
    exit 64
fi
if ! is_uint "$c" || [ "$c" -lt 1 ] || [ "$c" -gt "$C_MAX" ]; then
    echo "loadgen-peers: -c must be 1..$C_MAX" >&2
    exit 64
fi
if ! is_uint "$duration" || [ "$duration" -lt 1 ] || [ "$duration" -gt "$DURATION_MAX" ]; then
    echo "loadgen-peers: --duration must be 1..$DURATION_MAX seconds" >&2
    exit 64
fi
objects=()
for o in ${objects_wanted//,/ }; do
    case "$o" in
    1k | 1m) objects+=("$o") ;;
    *) echo "loadgen-peers: unknown object '$o' (1k, 1m)" >&2 && exit 64 ;;
    esac
done
[ "${#objects[@]}" -gt 0 ] || { echo "loadgen-peers: no object" >&2 && exit 64; }

for tool in wrk ab nginx jq taskset ss; do
    command -v "$tool" >/dev/null || { echo "loadgen-peers: $tool missing (deploy/setup.sh)" >&2 && exit 1; }
done
[ -x "$LOADGEN" ] || { echo "loadgen-peers: $LOADGEN not built (run make)" >&2 && exit 1; }

ncpu=$(nproc)
clk_tck=$(getconf CLK_TCK)
SERVER_CPUS=${SERVER_CPUS:-0}
if [ "$ncpu" -ge 2 ]; then CLIENT_CPUS=${CLIENT_CPUS:-1}; else CLIENT_CPUS=${CLIENT_CPUS:-0}; fi

[ -n "$out" ] || out=$repo/build/bench/loadgen-peers-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
out=$(cd "$out" && pwd)
csv=$out/results.csv
work=$(mktemp -d "${TMPDIR:-/tmp}/pp-lgbench.XXXXXX")
chmod 755 "$work"


nginx_pid=""
gen_pid=""


cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pids "$gen_pid"
    stop_pids "$nginx_pid"
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT


# ------------------------------------------------------------------ nginx

start_nginx() {
    local port=$1 dir=$work/nginx
    mkdir -p "$dir/tmp" "$work/www"
    head -c 1024 /dev/urandom >"$work/www/1k"
    head -c 1048576 /dev/urandom >"$work/www/1m"
    cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
user root;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
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
        listen 127.0.0.1:$port backlog=4096;
        root $work/www;
    }
}
EOF
    nginx -q -t -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf"
    taskset -c "$SERVER_CPUS" nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" \
        >"$dir/stdout.log" 2>&1 </dev/null &
    nginx_pid=$!
    for _ in $(seq 1 100); do
        if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then return 0; fi
        is_running "$nginx_pid" || { log "nginx exited: $(tail -n 5 "$dir/error.log")" && return 1; }
        sleep 0.1
    done
    log "nginx: port $port not open after 10 s"
    return 1
}

# ------------------------------------------------------------------ measuring


# run_one TOOL OBJECT ROUND: one run of one generator; appends a CSV row.
run_one() {
    local tool=$1 obj=$2 round=$3 url raw cpu0 cpu1 t0 t1 rc=0 requests="" rps="" errors="" perf_pid="" up=1
    url=http://127.0.0.1:$port/$obj
    raw=$out/$tool-$obj-r$round.txt
    local cmd=()
    case "$tool" in
    loadgen) cmd=("$LOADGEN" "$url" -c "$c" --duration "$duration" --json "$raw.json") ;;
    wrk) cmd=(wrk -t1 -c "$c" -d "${duration}s" "$url") ;;
    ab) cmd=(ab -q -k -c "$c" -t "$duration" -n 100000000 "$url") ;;
    esac
    cpu0=$(children_ticks)
    t0=$(date +%s.%N)
    # In the background so a signal to this script is handled at once.
    timeout "$RUN_TIMEOUT_S" taskset -c "$CLIENT_CPUS" "${cmd[@]}" >"$raw" 2>&1 </dev/null &
    gen_pid=$!
    if [ "$perf" = 1 ] && [ "$round" = 1 ] && command -v perf >/dev/null; then
        sleep 0.3
        perf record -F 999 -g -p "$(pgrep -P "$gen_pid" | head -n 1)" -o "$out/perf-$tool-$obj.data" \
            -- sleep 2 >"$work/perf.log" 2>&1 &
        perf_pid=$!
    fi
    wait "$gen_pid" || rc=$?
    gen_pid=""
    t1=$(date +%s.%N)
    cpu1=$(children_ticks)
    if [ -n "$perf_pid" ]; then
        wait "$perf_pid" 2>/dev/null || true
        perf report --stdio --no-children -g none --percent-limit 1 -i "$out/perf-$tool-$obj.data" \
            2>/dev/null | grep -v '^$' | head -n 60 >"$out/perf-$tool-$obj.txt" || true
    fi
    [ "$rc" -eq 0 ] || log "$tool exited $rc (see $raw)"
    is_running "$nginx_pid" || up=0
    # A figure the generator did not give stays empty (never 0): the report
    # reads an empty field as "did not parse".
    case "$tool" in
    loadgen)
        if [ -s "$raw.json" ]; then
            requests=$(jq -r '.requests // empty' "$raw.json" 2>/dev/null) || requests=""
            rps=$(jq -r '.rps // empty' "$raw.json" 2>/dev/null) || rps=""
            errors=$(jq -r '.errors.total // empty' "$raw.json" 2>/dev/null) || errors=""
        fi
        ;;
    wrk)
        requests=$(awk '/requests in/ { print $1 }' "$raw")
        rps=$(awk '/^Requests\/sec:/ { print $2 }' "$raw")
        errors=$(awk '/Socket errors|Non-2xx/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) s += $i } END { print s + 0 }' "$raw")
        ;;
    ab)
        requests=$(awk '/^Complete requests:/ { print $3 }' "$raw")
        rps=$(awk '/^Requests per second:/ { print $4 }' "$raw")
        errors=$(awk '/^Failed requests:|^Non-2xx responses:/ { s += $3 } END { print s + 0 }' "$raw")
        ;;
    esac
    is_number "$requests" || requests=""
    is_number "$rps" || rps=""
    is_number "$errors" || errors=""
    awk -v obj="$obj" -v round="$round" -v tool="$tool" -v c="$c" -v req="$requests" -v rps="$rps" \
        -v err="$errors" -v ticks="$((cpu1 - cpu0))" -v hz="$clk_tck" -v t0="$t0" -v t1="$t1" -v rc="$rc" \
        -v up="$up" '
        BEGIN {
            cpu = ticks / hz
            printf "%s,%s,%s,%d,%s,%s,%s,%.3f,%s,%.3f,%d,%d\n", obj, round, tool, c, req,
                (rps == "" ? "" : sprintf("%.1f", rps)), err, cpu,
                (req > 0 ? sprintf("%.2f", 1e6 * cpu / req) : ""), t1 - t0, rc, up
        }' >>"$csv"
    tail -n 1 "$csv" | awk -F, '{ printf "  %-3s round %s %-8s %9s req/s  %6s us CPU/request  errors %s\n", $1, $2, $3,
        ($6 == "" ? "-" : $6), ($9 == "" ? "-" : $9), ($7 == "" ? "-" : $7) }' >&2
}


col_median() { # OBJECT TOOL COLUMN: empty values left out, "" for none
    awk -F, -v o="$1" -v t="$2" -v k="$3" 'NR > 1 && $1 == o && $3 == t && $k != "" { print $k }' "$csv" | median
}

# run_why OBJECT TOOL: why the tool's runs on this object cannot be judged;
# nothing when every run is valid.
run_why() {
    awk -F, -v o="$1" -v t="$2" '
        function add(s) { out = out (out == "" ? "" : "; ") s }
        NR > 1 && $1 == o && $3 == t {
            k++
            if ($11 != 0) failed++
            if ($5 == "" || $6 == "" || $7 == "") noparse++
            else if ($5 == 0) zero++
            bad += $7
            if ($5 > 0 && $8 <= 0) nocpu++
            if ($12 != 1) down++
        }
        END {
            if (k == 0) { print "no runs"; exit }
            if (failed) add(t " exited non-zero in " failed " of " k " runs")
            if (noparse) add(t " output" (t == "loadgen" ? " (JSON)" : "") " missing or unparsed in " noparse " runs")
            if (zero) add("zero requests in " zero " runs")
            if (bad) add(bad " failed or non-2xx requests")
            if (nocpu) add("no CPU counted in " nocpu " runs")
            if (down) add("nginx not running after " down " runs")
            print out
        }' "$csv"
}

# paired_median OBJECT TOOL_A TOOL_B COLUMN: the median over rounds of A/B
# within each round. Rounds are blocks run back to back, so the ratio inside
# a block cancels the load that other work put on the host at that moment
# (Abedi & Brecht's interleaved trials; the notes' paired comparison).
paired_median() {
    awk -F, -v o="$1" -v a="$2" -v b="$3" -v k="$4" '
        NR > 1 && $1 == o && $3 == a { va[$2] = $k }
        NR > 1 && $1 == o && $3 == b { vb[$2] = $k }
        END { for (r in va) if ((r in vb) && va[r] != "" && vb[r] != "" && vb[r] > 0) printf "%.4f\n", va[r] / vb[r] }' "$csv" |
        median | awk '{ if ($1 == "") print "n/a"; else printf "%.2f", $1 }'
}



report() {
    local obj tool rps us r p why why_wrk why_ab
    declare -A why_of
    {
        echo
        echo "loadgen-peers: $c keep-alive connections, ${duration} s per run, $rounds interleaved rounds, medians"
        echo "nginx (1 worker) on CPU $SERVER_CPUS, the generator on CPU $CLIENT_CPUS; $(nproc) CPUs: $(lscpu | sed -n 's/^Model name: *//p')"
        echo "1-min load average: $load_start at the start, $(cut -d ' ' -f 1 /proc/loadavg) at the end (above $(nproc) / 2: other work ran, expect noise)"
        echo "$(nginx -v 2>&1); $(wrk --version 2>&1 | head -n 1 | cut -c 1-60); $(ab -V | head -n 1); loadgen $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')"
        for obj in "${objects[@]}"; do
            echo
            printf '%-4s %-8s %10s %14s  %s\n' object tool "req/s" "CPU us/req" validity
            for tool in loadgen wrk ab; do
                rps=$(col_median "$obj" "$tool" 6)
                us=$(col_median "$obj" "$tool" 9)
                why=$(run_why "$obj" "$tool")
                why_of[$tool]=$why
                printf '%-4s %-8s %10s %14s  %s\n' "$obj" "$tool" "${rps:--}" "${us:--}" "${why:+invalid: }${why:-valid}"
            done
            # A verdict names the first reason of each side (the table has them all).
            why_wrk=$(reasons "${why_of[loadgen]:+loadgen: ${why_of[loadgen]%%;*}}" "${why_of[wrk]:+wrk: ${why_of[wrk]%%;*}}")
            why_ab=$(reasons "${why_of[loadgen]:+loadgen: ${why_of[loadgen]%%;*}}" "${why_of[ab]:+ab: ${why_of[ab]%%;*}}")
            echo "  ratios: of the medians / median of the per-round ratios (paired)"
            r=$(ratio "$(col_median "$obj" loadgen 6)" "$(col_median "$obj" wrk 6)")
            p=$(paired_median "$obj" loadgen wrk 6)
            printf '  req/s    loadgen/wrk %5s / %5s  (target >= 0.90: %s / %s)\n' "$r" "$p" \
                "$(verdict "$r" ">=" 0.9 "$why_wrk")" "$(verdict "$p" ">=" 0.9 "$why_wrk")"
            r=$(ratio "$(col_median "$obj" loadgen 9)" "$(col_median "$obj" wrk 9)")
            p=$(paired_median "$obj" loadgen wrk 9)
            printf '  CPU/req  loadgen/wrk %5s / %5s  (target <= 1.00: %s / %s)\n' "$r" "$p" \
                "$(verdict "$r" "<=" 1.0 "$why_wrk")" "$(verdict "$p" "<=" 1.0 "$why_wrk")"
            r=$(ratio "$(col_median "$obj" loadgen 6)" "$(col_median "$obj" ab 6)")
            p=$(paired_median "$obj" loadgen ab 6)
            printf '  req/s    loadgen/ab  %5s / %5s  (target >  1.00: %s / %s)\n' "$r" "$p" \
                "$(verdict "$r" ">" 1.0 "$why_ab")" "$(verdict "$p" ">" 1.0 "$why_ab")"
            r=$(ratio "$(col_median "$obj" loadgen 9)" "$(col_median "$obj" ab 9)")
            p=$(paired_median "$obj" loadgen ab 9)
            printf '  CPU/req  loadgen/ab  %5s / %5s\n' "$r" "$p"
        done
        echo
        echo "raw: $csv"
    } | tee "$out/summary.txt"
}

# ------------------------------------------------------------------ main

echo "object,round,tool,connections,requests,rps,errors,cpu_s,cpu_us_per_req,wall_s,exit,nginx_running" >"$csv"
load_start=$(cut -d ' ' -f 1 /proc/loadavg)
port=$(free_port)
start_nginx "$port"
log "nginx on 127.0.0.1:$port (CPU $SERVER_CPUS); results in $out"
tools=(loadgen wrk ab)
for obj in "${objects[@]}"; do
    # One untimed warm-up request per object: the file in the page cache.
    curl -s --max-time 10 -o /dev/null "http://127.0.0.1:$port/$obj" || log "warm-up of /$obj failed"
    for round in $(seq 1 "$rounds"); do
        for i in 0 1 2; do
            run_one "${tools[$(((i + round - 1) % 3))]}" "$obj" "$round"
        done
    done
done
report
