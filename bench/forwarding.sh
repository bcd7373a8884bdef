#!/usr/bin/env bash
# Forwarding throughput, the paper's Fig. 4 shape at small scale:
# in a testbed of its own (deploy/testbed, 64 clients, a unique prefix), the
# manager runs in the intermediate host P-mid and steers the clients' requests
# for the VIP 198.19.255.10:3128 to N proxyd instances, by NAT (process
# runtime, --forwarding nat) or by routing (container runtime, --forwarding
# route). For each N and mode (interleaved: per N, nat then route, or in a
# seeded random order) it scales the pool through the REST API, warms each
# instance's cache (one request per client block through the VIP), then all
# 64 clients at once fetch http://198.19.1.2/obj1m (1 MiB) through the VIP
# with ab -k, each at most --requests requests and --duration seconds.
#
# Usage: bench/forwarding.sh [--proxies "1 2 4 8"] [--modes nat,route]
#          [--duration T] [--requests R] [--concurrency C] [--seed S] [--out DIR]
#   --proxies LIST    instance counts, each 1..32 (default "1 2 4 8")
#   --modes LIST      nat, route or both, comma-separated (default nat,route)
#   --duration T      seconds each client's ab may run, 1..120 (default 10)
#   --requests R      requests per client, C..10000 (default 100)
#   --concurrency C   connections per client, 1..16 (default 2)
#   --seed S          shuffle the mode order at each N with this seed
#                     (default: no shuffle, the order of --modes)
#   --out DIR         where results go (default: a new /tmp/pp-forwarding.*)
# Printed per mode and N: total requests/s (sum of the 64 clients' ab
# "Requests per second"; clients that finish early inflate it, so beside it
# agg = all completed requests / the longest client's time), p50 and p99
# latency pooled over every request of every client (ab -g, total time per
# request), completed and failed requests (ab's "Failed requests" plus non-2xx
# answers), last_swap_ms from GET /v1/forwarding after the scale, and the
# origin's hits during the load (0 when the warmed caches answered
# everything); then nat/route of req/s (sum and agg) and of p99 at each N when
# both ran. The warm-up checks that each block is answered 200 by the
# instance the partition names. Each step's verdict on the swap target
# (last_swap_ms <= 10) is met or missed only when the step is valid; else it
# reads invalid (why): a failed or non-2xx request, zero requests, a client
# whose ab output did not parse, an origin fetch during the load (the caches
# were warmed: every request should be a hit), a warm-up answered wrongly, or
# a swap time that did not parse. Route needs the container runtime and the manager's
# route mode: if the manager refuses it (400, or it cannot start), route is
# skipped with the manager's reason. Both managers stay up in P-mid; the one
# not measured is switched to mode none. Files in DIR: results.csv (one row
# per client and step), summary.csv, the managers' logs, partitions and PUT
# answers, ab's raw output.
# All traffic stays inside the testbed's namespaces; on exit (or Ctrl-C) the
# managers get SIGTERM, the testbed goes down and the container runtime's
# cgroups are removed.
# Env: PP_BUILD (the build dir), BENCH_URL (the object, default
#      http://198.19.1.2/obj1m; a closed port on the origin host, as
#      BENCH_URL=http://198.19.1.2:81/obj1m, checks the validity gate: every
#      request fails, and every verdict must read invalid).
set -euo pipefail
BENCH_NAME=forwarding
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy no_proxy NO_PROXY

repo=$(cd "$(dirname "$0")/.." && pwd)
BIN=${PP_BUILD:-$repo/build}/bin
TESTBED=$repo/deploy/testbed
PROXIES="1 2 4 8"
MODES=nat,route
T=10
R=100
C=2
SEED=
OUT=
NCLIENTS=64
VIP=198.19.255.10:3128
URL=${BENCH_URL:-http://198.19.1.2/obj1m}
# The target for one apply of the forwarding rules.
SWAP_TARGET_MS=10

die() { echo "forwarding: $*" >&2; exit 2; }
need_arg() { [ $# -ge 2 ] || die "$1 needs a value"; }
while [ $# -gt 0 ]; do
    case "$1" in
    --proxies) need_arg "$@"; PROXIES=$2; shift 2 ;;
    --modes) need_arg "$@"; MODES=$2; shift 2 ;;
    --duration) need_arg "$@"; T=$2; shift 2 ;;
    --requests) need_arg "$@"; R=$2; shift 2 ;;
    --concurrency) need_arg "$@"; C=$2; shift 2 ;;
    --seed) need_arg "$@"; SEED=$2; shift 2 ;;
    --out) need_arg "$@"; OUT=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
    esac
done
# in_range VALUE LOW HIGH
in_range() { is_uint "$1" && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }
in_range "$T" 1 120 || die "--duration is 1..120 seconds"
in_range "$C" 1 16 || die "--concurrency is 1..16"
in_range "$R" "$C" 10000 || die "--requests is $C..10000 (at least --concurrency)"
[ -z "$SEED" ] || is_uint "$SEED" || die "--seed is a number"
read -r -a NS_LIST <<<"$PROXIES"
[ ${#NS_LIST[@]} -ge 1 ] || die "--proxies is empty"
for n in "${NS_LIST[@]}"; do
    in_range "$n" 1 32 || die "--proxies: $n is not 1..32"
done
IFS=, read -r -a MODE_LIST <<<"$MODES"
[ ${#MODE_LIST[@]} -ge 1 ] || die "--modes is empty"
for m in "${MODE_LIST[@]}"; do
    [ "$m" = nat ] || [ "$m" = route ] || die "--modes: '$m' is not nat or route"
done
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)"
if [ ! -x "$BIN/manager" ] || [ ! -x "$BIN/proxyd" ]; then die "run make first ($BIN/manager, $BIN/proxyd)"; fi
for tool in ab curl jq nsenter timeout; do command -v "$tool" >/dev/null || die "$tool is missing"; done

if [ -z "$OUT" ]; then OUT=$(mktemp -d /tmp/pp-forwarding.XXXXXX); else mkdir -p "$OUT"; fi
OUT=$(cd "$OUT" && pwd)
P=fb$(($$ % 1000000))           # the testbed's prefix (P-mid, P-cK, ...)
MPN=fn$(($$ % 10000))           # nat manager's prefix (process runtime)
MPR=fr$(($$ % 10000))           # route manager's prefix: links, cgroups
STATE=$(mktemp -d /tmp/pp-forwarding-state.XXXXXX)
# Both managers take the same bearer token for their API writes.
(umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$STATE/token")
declare -A MPID=() API=() STARTED=()
API[nat]=http://127.0.0.1:9081
API[route]=http://127.0.0.1:9082
ROUTE_SKIP= # the reason route was skipped, once it was
LOAD_PIDS=() # the running ab clients (timeout's pids)
MID_NS=/run/netns/$P-mid

in_mid() { nsenter --net="$MID_NS" "$@"; }
api() { in_mid curl -sS --max-time 60 -H "Authorization: Bearer $(cat "$STATE/token")" \
    -H 'Content-Type: application/json' "$@"; }
log() { echo "[$(date +%T)] $*" >&2; }

stop_manager() { # mode: SIGTERM, up to 30 s to drain and clean up, then KILL
    local m=$1 p=${MPID[$1]:-}
    [ -n "$p" ] || return 0
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    MPID[$m]=
}
cgroup_cleanup() { # the route manager's cgroups (v1: cpu/ and memory/; v2: one)
    local d g
    for d in /sys/fs/cgroup/"$MPR" /sys/fs/cgroup/cpu/"$MPR" /sys/fs/cgroup/memory/"$MPR"; do
        [ -d "$d" ] || continue
        for g in "$d"/*/; do
            [ -f "$g/cgroup.procs" ] || continue
            xargs -r kill -KILL <"$g/cgroup.procs" 2>/dev/null || true
        done
        for g in "$d"/*/; do [ -f "$g/cgroup.procs" ] && rmdir "$g" 2>/dev/null; done
        rmdir "$d" 2>/dev/null || true
    done
}
cleanup() {
    local rc=$? p
    trap '' INT TERM # a second Ctrl-C must not cut the cleanup short
    trap - EXIT
    for p in "${LOAD_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done # ab still going
    stop_manager route
    stop_manager nat
    "$TESTBED" --prefix "$P" down >/dev/null 2>&1 || true
    [ -z "${STARTED[route]:-}" ] || { sleep 0.5; cgroup_cleanup; }
    rm -rf "$STATE"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_ready mode n: until GET /v1/pool says n ready (60 s), or the manager died.
wait_ready() {
    local m=$1 n=$2
    for _ in $(seq 1 600); do
        kill -0 "${MPID[$m]}" 2>/dev/null || return 1
        [ "$(api "${API[$m]}/v1/pool" 2>/dev/null | jq -r .ready 2>/dev/null)" = "$n" ] && return 0
        sleep 0.1
    done
    return 1
}

# start_manager mode n fwd: the manager for mode with n instances and
# --forwarding fwd, in P-mid, in the background.
start_manager() {
    local m=$1 n=$2 fwd=$3 args
    if [ "$m" = nat ]; then
        args=(--runtime process --process-addr 198.18.0.1 --base-port 20000 --prefix "$MPN")
    else
        args=(--runtime container --prefix "$MPR" --bridge "${MPR}br" --cpus 1 --memory 256M)
    fi
    in_mid "$BIN/manager" "${args[@]}" --replicas "$n" --api "${API[$m]#http://}" \
        --state-dir "$STATE/$m" --token-file "$STATE/token" --forwarding "$fwd" --vip "$VIP" \
        --clients "198.18.1.1-198.18.1.$NCLIENTS" --drain-timeout 2s \
        --proxy-arg=--cache-mem=64M >>"$OUT/manager-$m.log" 2>&1 &
    MPID[$m]=$!
    STARTED[$m]=1
}

# activate mode n: the other manager's rules go (mode none), this one's
# manager runs in its mode with n instances. Returns 1 if route is skipped.
activate() {
    local m=$1 n=$2 o code
    for o in nat route; do
        if [ "$o" = "$m" ] || [ -z "${MPID[$o]:-}" ]; then continue; fi
        code=$(api -X PUT --data '{"mode": "none"}' -o "$OUT/put-none.json" -w '%{http_code}' "${API[$o]}/v1/forwarding")
        [ "$code" = 200 ] || die "$o manager: PUT mode none answered $code: $(cat "$OUT/put-none.json")"
    done
    if [ -z "${MPID[$m]:-}" ]; then
        start_manager "$m" "$n" "$m"
        if ! wait_ready "$m" "$n"; then
            if [ "$m" = nat ]; then die "nat manager not ready: $(tail -n 5 "$OUT/manager-nat.log")"; fi
            # Route not built yet (the manager refuses to start with it)?
            # Start with none and ask for route: a 400 names the reason.
            stop_manager route
            start_manager route "$n" none
            if ! wait_ready route "$n"; then
                ROUTE_SKIP="the container-runtime manager did not start: $(tail -n 1 "$OUT/manager-route.log")"
                stop_manager route
                return 1
            fi
            code=$(api -X PUT --data '{"mode": "route"}' -o "$OUT/put-route.json" -w '%{http_code}' "${API[route]}/v1/forwarding")
            if [ "$code" != 200 ]; then
                ROUTE_SKIP="PUT /v1/forwarding route answered $code: $(jq -r '.error // .' "$OUT/put-route.json" 2>/dev/null)"
                stop_manager route
                return 1
            fi
        fi
    else
        code=$(api -X PUT --data "{\"mode\": \"$m\"}" -o "$OUT/put-mode.json" -w '%{http_code}' "${API[$m]}/v1/forwarding")
        [ "$code" = 200 ] || die "$m manager: PUT mode $m answered $code: $(cat "$OUT/put-mode.json")"
        code=$(api -X PUT --data "{\"replicas\": $n}" -o "$OUT/put-$m-$n.json" -w '%{http_code}' "${API[$m]}/v1/pool")
        [ "$code" = 200 ] || die "$m manager: PUT replicas $n answered $code: $(cat "$OUT/put-$m-$n.json")"
        wait_ready "$m" "$n" || die "$m manager: $n instances not ready"
    fi
    [ "$(api "${API[$m]}/v1/forwarding" | jq -r .mode)" = "$m" ] || die "$m manager is not in mode $m"
    return 0
}

# client_of ADDR: K of client 198.18.a.b (a = 1 + (K-1)/254, b = 1 + (K-1)%254).
client_of() { awk -F. '{ print ($3 - 1) * 254 + $4 }' <<<"$1"; }

# warm mode n: one request through the VIP from the first client of each
# block; the answer must be a 200 from the instance the partition names
# (X-Cache: ... from <prefix><id>), which also shows the other mode is off.
# What went wrong goes to WARM_WHY: the step's runs are then invalid.
WARM_WHY=
warm() {
    local m=$1 n=$2 k id first got want prefix=$MPN
    [ "$m" = nat ] || prefix=$MPR
    WARM_WHY=
    api "${API[$m]}/v1/partition" >"$OUT/partition-$m-$n.json"
    while read -r id first; do
        k=$(client_of "$first")
        got=$(nsenter --net="/run/netns/$P-c$k" curl -sS --max-time 20 -o /dev/null -D - \
            -x "http://$VIP" "$URL" 2>&1 | tr -d '\r' |
            awk -F': ' 'NR == 1 { split($0, w, " "); code = w[2] }
                        tolower($1) == "x-cache" { sub(/^(HIT|MISS) from /, "", $2); name = $2 }
                        END { print (code == "" ? "none" : code) " " name }') || true
        want=$prefix$id
        if [ "$got" != "200 $want" ]; then
            log "$m, $n instances: warm-up from client $k answered '$got', not '200 $want'"
            WARM_WHY="warm-up from client $k answered '$got', not '200 $want'"
        fi
    done < <(jq -r '.blocks[] | select(.count > 0) | "\(.instance) \(.first)"' "$OUT/partition-$m-$n.json")
}

# load mode n: every client's ab at once; per-client rows to results.csv.
load() {
    local m=$1 n=$2 swap=$3 k pct
    local dir=$OUT/ab/$m-$n
    mkdir -p "$dir"
    for k in $(seq 1 "$NCLIENTS"); do
        # -t before -n: ab's -t alone sets 50000 requests; -n after it bounds them.
        timeout -k 5 $((T + 30)) nsenter --net="/run/netns/$P-c$k" \
            ab -k -r -q -X "$VIP" -t "$T" -n "$R" -c "$C" -s 30 -g "$dir/c$k.tsv" "$URL" \
            >"$dir/c$k.txt" 2>&1 &
        LOAD_PIDS+=($!)
    done
    for k in "${LOAD_PIDS[@]}"; do wait "$k" || true; done
    LOAD_PIDS=()
    for k in $(seq 1 "$NCLIENTS"); do
        # this client's own p50/p99 from its per-request total times (ab -g, column 5)
        pct=$(awk -F'\t' '$5 ~ /^[0-9]+$/ { print $5 }' "$dir/c$k.tsv" 2>/dev/null | sort -n |
            awk '{ t[NR] = $1 } END { if (NR) printf "%d,%d", t[int(0.50 * (NR - 1)) + 1], t[int(0.99 * (NR - 1)) + 1]; else printf "," }')
        # A figure ab did not print stays empty (never 0): summarize counts
        # the clients whose output did not parse.
        awk -v m="$m" -v n="$n" -v k="$k" -v swap="$swap" -v pct="$pct" '
            /^Complete requests:/ { done = $3 }
            /^Failed requests:/ { failed = $3 }
            /^Non-2xx responses:/ { non2xx = $3 }
            /^Requests per second:/ { rps = $4 }
            /^Time taken for tests:/ { secs = $5 }
            END {
                printf "%s,%d,%d,%s,%s,%d,%s,%s,%s,%s\n", m, n, k, done, failed, non2xx + 0,
                    rps, secs, pct, swap
            }' "$dir/c$k.txt" >>"$OUT/results.csv"
    done
}

# step_why mode n origin: why the step's load cannot be judged (nothing when
# it is valid): from the per-client rows, the warm-up and the origin's log.
step_why() {
    local m=$1 n=$2 origin=$3 from_rows
    from_rows=$(awk -F, -v m="$m" -v n="$n" -v want="$NCLIENTS" '
        function add(s) { out = out (out == "" ? "" : "; ") s }
        $1 == m && $2 == n {
            k++
            if ($4 == "" || $5 == "" || $7 == "" || $8 == "") noparse++
            done += $4; failed += $5 + $6
        }
        END {
            if (k < want) add((want - k) " of " want " clients left no row")
            if (noparse) add("ab output did not parse for " noparse " clients")
            if (done == 0) add("zero requests completed")
            if (failed) add(failed " failed or non-2xx requests")
            print out
        }' "$OUT/results.csv")
    reasons "$WARM_WHY" "$from_rows" "$([ "$origin" = 0 ] || echo "$origin origin fetches during the load (caches were warmed)")"
}

# summarize mode n swap origin: one line to summary.csv and stdout, with the
# step's verdict on the swap target.
summarize() {
    local m=$1 n=$2 swap=$3 origin=$4
    local dir=$OUT/ab/$m-$n
    local pct why
    why=$(step_why "$m" "$n" "$origin")
    is_number "$swap" || why=$(reasons "$why" "last_swap_ms '$swap' is not a figure")
    pct=$(cat "$dir"/c*.tsv 2>/dev/null | awk -F'\t' '$5 ~ /^[0-9]+$/ { print $5 }' | sort -n |
        awk '{ t[NR] = $1 } END { if (NR) printf "%d %d", t[int(0.50 * (NR - 1)) + 1], t[int(0.99 * (NR - 1)) + 1]; else printf "- -" }')
    awk -F, -v m="$m" -v n="$n" -v pct="$pct" -v swap="$swap" -v origin="$origin" -v why="${why//,/;}" '
        $1 == m && $2 == n { rps += $7; done += $4; failed += $5 + $6; clients++; if ($8 > wall) wall = $8 }
        END {
            split(pct, p, " ")
            printf "%s,%d,%d,%.1f,%.1f,%d,%d,%s,%s,%s,%d,%s\n", m, n, clients, rps,
                (wall > 0 ? done / wall : 0), done, failed, p[1], p[2], swap, origin, why
        }' "$OUT/results.csv" >>"$OUT/summary.csv"
    tail -n 1 "$OUT/summary.csv" |
        awk -F, '{ printf "  %-6s %3d %9.1f %9.1f %9d %6d %7s %7s %8s %6d", $1, $2, $4, $5, $6, $7, $8, $9, $10, $11 }'
    echo "  swap <= $SWAP_TARGET_MS ms: $(verdict "$swap" '<=' "$SWAP_TARGET_MS" "$why")"
}

# origin_hits: requests nginx in P-srv has logged so far (cache misses).
origin_hits() { wc -l <"/run/proxypool-testbed/$P/access.log" 2>/dev/null || echo 0; }

# order_modes n: the modes for this N, shuffled with the seed if one was given.
order_modes() {
    if [ -z "$SEED" ]; then printf '%s\n' "${MODE_LIST[@]}"; return; fi
    printf '%s\n' "${MODE_LIST[@]}" | awk -v s="$((SEED * 100 + $1))" 'BEGIN { srand(s) } { print rand() "\t" $0 }' |
        sort -n | cut -f2
}

echo "mode,proxies,client,complete,failed,non2xx,rps,seconds,p50_ms,p99_ms,swap_ms" >"$OUT/results.csv"
echo "mode,proxies,clients,rps_total,rps_agg,complete,failed,p50_ms,p99_ms,swap_ms,origin_hits,invalid_why" >"$OUT/summary.csv"

log "testbed $P up ($NCLIENTS clients)"
"$TESTBED" --prefix "$P" up --clients "$NCLIENTS" >/dev/null
echo "forwarding: $NCLIENTS clients -> VIP $VIP -> $URL; proxies: ${NS_LIST[*]}; modes: ${MODE_LIST[*]}${SEED:+ (order shuffled, seed $SEED)}"
echo "  per client: ab -k -t $T -n $R -c $C; $(nproc) CPUs; 1-min load $(cut -d' ' -f1 /proc/loadavg); out: $OUT"
echo "  req/s = sum over clients of ab's requests/s; agg = completed / the longest client's time;"
echo "  p50/p99 over all requests of all clients (ms, ab total time); origin = nginx hits during the load"
printf '  %-6s %3s %9s %9s %9s %6s %7s %7s %8s %6s  %s\n' mode N "req/s" "agg" completed failed "p50 ms" "p99 ms" "swap ms" origin verdict
for n in "${NS_LIST[@]}"; do
    for m in $(order_modes "$n"); do
        if [ "$m" = route ] && [ -n "$ROUTE_SKIP" ]; then continue; fi
        log "$m, $n instances: scale"
        if ! activate "$m" "$n"; then
            echo "  route skipped: $ROUTE_SKIP"
            continue
        fi
        swap=$(api "${API[$m]}/v1/forwarding" | jq -r .last_swap_ms) || swap=
        log "$m, $n instances: warm-up"
        warm "$m" "$n"
        log "$m, $n instances: load ($NCLIENTS clients x ab -t $T -n $R -c $C)"
        before=$(origin_hits)
        load "$m" "$n" "$swap"
        summarize "$m" "$n" "$swap" $(($(origin_hits) - before))
    done
done
if [[ " ${MODE_LIST[*]} " == *" nat "* ]] && [[ " ${MODE_LIST[*]} " == *" route "* ]]; then
    if [ -n "$ROUTE_SKIP" ]; then
        echo "  nat/route: no ratio (route skipped: $ROUTE_SKIP)"
    else
        echo "  nat/route (req/s sum, agg; p99), only where both steps are valid:"
        awk -F, 'NR > 1 { s[$1, $2] = $4; g[$1, $2] = $5; q[$1, $2] = $9; w[$1, $2] = $12; ns[$2] = 1 }
            END { for (n in ns) {
                      if (!((("nat", n) in s) && (("route", n) in s))) continue
                      if (w["nat", n] != "" || w["route", n] != "")
                          printf "    N=%-3d invalid (%s)\n", n, (w["nat", n] != "" ? "nat: " w["nat", n] : "route: " w["route", n])
                      else if (s["route", n] > 0 && g["route", n] > 0 && q["route", n] > 0)
                          printf "    N=%-3d %.2f  %.2f;  %.2f\n", n, s["nat", n] / s["route", n], g["nat", n] / g["route", n],
                              q["nat", n] / q["route", n]
                      else
                          printf "    N=%-3d invalid (a route figure is zero)\n", n
                  } }' "$OUT/summary.csv" | sort -t= -k2 -n
    fi
fi
echo "  raw rows: $OUT/results.csv; summary: $OUT/summary.csv"
