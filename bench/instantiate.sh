#!/usr/bin/env bash
# Instantiation time, the paper's Table 3 (Docker: 4.00 +- 0.15 s for 10
# containers; KVM 52 s): how long the manager takes to bring 10 proxyd
# instances from nothing to ready (spawn to every /healthz answering), as
# the time of one PUT /v1/pool that adds 10 instances (the API answers when
# they are all ready), R replicates, mean +- 95% CI (Student t), per runtime.
# Beside it, the floor on this machine: the same 10 proxyd started as bare
# processes (fork + exec, probed from C), one after another and all at once.
#
# Verdicts per runtime, on the mean: 10 instances ready within 0.2 s, and
# within 2x of the parallel floor; each is met or missed only when every
# replicate of both sides succeeded, else it reads invalid (why): a PUT that
# failed or did not end with 11 ready, a manager that never had its first
# instance ready, a floor probe that failed, a time that did not parse.
#
# Usage: bench/instantiate.sh [--runtimes process,container,docker] [--replicates R]
# The container runtime runs inside a network namespace this script creates
# (the manager's bridge and veths never touch the host's own network). The
# docker runtime runs against a private dockerd in that namespace
# (deploy/dockerd, removed at exit with its data root; proxyd's image from
# deploy/images.sh), timed twice: the manager (its Engine API calls for the
# 10 containers concurrent) and, beside it, the same 10 containers made
# through the API one after another (create, start, inspect, /healthz
# answering, then the next: what `docker run` one by one does), with the
# share of each call in the one-by-one time.
# Env: PP_BUILD (the build dir), PROXYD (the proxyd binary the manager and
#      the floor start, default PP_BUILD/bin/proxyd; PROXYD=/bin/false checks
#      the validity gate: no instance ever answers, and every verdict must
#      read invalid).
set -euo pipefail
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
BENCH_NAME=instantiate
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

repo=$(cd "$(dirname "$0")/.." && pwd)
BIN=${PP_BUILD:-$repo/build}/bin
PROXYD=${PROXYD:-$BIN/proxyd}
runtimes=process,container
# Targets: 10 instances ready in 0.2 s; within 2x of the bare-process floor.
READY_TARGET_MS=200
FLOOR_RATIO_TARGET=2.0
R=10
N=10
while [ $# -gt 0 ]; do
    case "$1" in
    --runtimes) runtimes=$2; shift 2 ;;
    --replicates) R=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "instantiate: unknown argument $1" >&2; exit 2 ;;
    esac
done
if ! is_uint "$R" || [ "$R" -lt 2 ] || [ "$R" -gt 50 ]; then
    echo "instantiate: --replicates is 2..50" >&2
    exit 2
fi
if [ ! -x "$BIN/manager" ] || [ ! -x "$PROXYD" ] || [ ! -x "${PP_BUILD:-$repo/build}/tools/rtprobe" ]; then
    echo "instantiate: run make first" >&2
    exit 2
fi

TMP=$(mktemp -d /tmp/pp-instantiate.XXXXXX)
NS=pp-bench-inst-$$
DOCKER_NAME="" # the private dockerd's name once it runs
DOCKER_SOCK=""
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
        kill -KILL "$p" 2>/dev/null || true
    done
    if [ -n "$DOCKER_NAME" ]; then
        "$repo/deploy/dockerd" --name "$DOCKER_NAME" down --purge >/dev/null 2>&1 || true
    fi
    ip netns pids "$NS" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# mean VALUES...: their mean ("" for none).
mean() { printf '%s\n' "$@" | awk 'NF { s += $1; n++ } END { if (n) printf "%.1f", s / n }'; }

# stats VALUES...: "mean +- ci95 (n=..)" with Student t for n-1 degrees
# ("-" for fewer than two values).
stats() {
    if [ "$#" -lt 2 ]; then echo "-"; return 0; fi
    printf '%s\n' "$@" | awk '
        { x[NR] = $1; s += $1 }
        END {
            n = NR; m = s / n
            for (i = 1; i <= n; i++) v += (x[i] - m) ^ 2
            sd = sqrt(v / (n - 1))
            split("12.706 4.303 3.182 2.776 2.571 2.447 2.365 2.306 2.262 2.228 2.201 2.179 2.160 2.145 2.131 2.120 2.110 2.101 2.093 2.086", t, " ")
            tt = (n - 1 <= 20) ? t[n - 1] : 2.0
            printf "%8.1f +- %6.1f ms  (n=%d, sd %.1f)", m, tt * sd / sqrt(n), n, sd
        }'
}

# floor sequential|parallel: ms for 10 bare proxyd (fork + exec, probed
# from C by tests/tools/rtprobe with the process runtime) to answer /healthz:
# one after another (the sum of 10 single starts) or all at once.
RTPROBE=${PP_BUILD:-$repo/build}/tools/rtprobe
# probe_ms COUNT: one rtprobe run on fresh ports (tried again on other ports
# if one was taken); prints the ms until all COUNT answered, or returns 1.
probe_ms() {
    local t
    for _ in 1 2 3; do
        t=$("$RTPROBE" --runtime process --count "$1" --base-port $((41000 + RANDOM % 8000)) \
            --state-dir "$TMP/floor" --proxyd "$PROXYD" --ready-timeout-ms 5000 \
            --proxy-arg --cache-mem=16M 2>"$TMP/rtprobe.err" |
            awk '/^ready / { print $5 }') || true
        if is_number "$t"; then echo "$t"; return 0; fi
    done
    echo "instantiate: rtprobe failed: $(tail -n 3 "$TMP/rtprobe.err")" >&2
    return 1
}
floor() {
    local total=0 t
    if [ "$1" = parallel ]; then probe_ms "$N"; return; fi
    for _ in $(seq 1 "$N"); do
        t=$(probe_ms 1) || return 1
        total=$(awk -v a="$total" -v b="$t" 'BEGIN { print a + b }')
    done
    echo "$total"
}

# run_manager runtime: prints R times (ms) of PUT 1 -> 11 on its first line
# and, if a replicate failed (the rest are then not run), why on the second.
run_manager() {
    local rt=$1 api_port=$((20000 + RANDOM % 10000)) prefix=bi$$ exec_in=() times=() t why=
    prefix=${prefix:0:7}
    local rt_args=()
    if [ "$rt" = container ] || [ "$rt" = docker ]; then
        netns_up
        # nsenter, not ip netns exec (which remounts /sys and hides the cgroups)
        exec_in=(nsenter --net="/run/netns/$NS")
    fi
    if [ "$rt" = docker ]; then
        docker_up || { echo; echo "the private dockerd or the image failed (see $TMP/dockerd.log)"; return 0; }
        rt_args=(--docker-socket "$DOCKER_SOCK" --bridge "${prefix}d" --subnet 198.19.0.0/24 --cpus 1)
    fi
    "${exec_in[@]}" "$BIN/manager" --runtime "$rt" --proxyd "$PROXYD" --replicas 1 --api "127.0.0.1:$api_port" \
        --state-dir "$TMP/state-$rt" --prefix "$prefix" --drain-timeout 5s "${rt_args[@]}" \
        --proxy-arg=--cache-mem=16M >"$TMP/manager-$rt.log" 2>&1 &
    local mpid=$!
    PIDS+=("$mpid")
    local api=http://127.0.0.1:$api_port
    why="the manager never had its first instance ready (20 s)"
    for _ in $(seq 1 400); do
        if [ "$("${exec_in[@]}" curl -s --max-time 1 "$api/v1/pool" 2>/dev/null | jq -r .ready 2>/dev/null)" = 1 ]; then
            why=""
            break
        fi
        sleep 0.05
    done
    if [ -z "$why" ]; then
        # The manager's writes need its token (STATE/api.token) and JSON.
        local auth=(-H "Authorization: Bearer $(cat "$TMP/state-$rt/api.token" 2>/dev/null)"
            -H 'Content-Type: application/json')
        for _ in $(seq 1 "$R"); do
            t=$("${exec_in[@]}" curl -s -o "$TMP/put.json" -w '%{time_total}' -X PUT --max-time 60 \
                "${auth[@]}" --data '{"replicas": 11}' "$api/v1/pool") || true
            if [ "$(jq -r .ready "$TMP/put.json" 2>/dev/null)" != 11 ]; then
                why="PUT replicas 11 answered: $(head -c 200 "$TMP/put.json" 2>/dev/null | tr '\n' ' ')"
                break
            fi
            if ! is_number "$t"; then
                why="the PUT's time '$t' is not a figure"
                break
            fi
            times+=("$(awk -v t="$t" 'BEGIN { printf "%.1f", t * 1000 }')")
            "${exec_in[@]}" curl -s -o /dev/null -X PUT --max-time 60 "${auth[@]}" --data '{"replicas": 1}' "$api/v1/pool" || true
        done
    fi
    kill -TERM "$mpid"
    for _ in $(seq 1 200); do kill -0 "$mpid" 2>/dev/null || break; sleep 0.05; done
    echo "${times[*]}"
    echo "$why"
}

netns_up() {
    [ -e "/run/netns/$NS" ] && return 0
    ip netns add "$NS"
    ip -n "$NS" link set lo up
}

# docker_up: the private dockerd in $NS with proxyd's image.
docker_up() {
    command -v dockerd >/dev/null || return 1
    [ -z "$DOCKER_NAME" ] || return 0
    netns_up
    DOCKER_NAME=bi$(($$ % 10000000))
    DOCKER_SOCK=/run/proxypool/dockerd-$DOCKER_NAME.sock
    "$repo/deploy/dockerd" --name "$DOCKER_NAME" --netns "$NS" up >"$TMP/dockerd.log" 2>&1 &&
        "$repo/deploy/images.sh" --socket "$DOCKER_SOCK" --build "${PP_BUILD:-$repo/build}" >>"$TMP/dockerd.log" 2>&1
}

# docker_one_by_one: the ms for N containers made through the Engine API
# one after another, each create -> start -> inspect -> /healthz answering
# before the next, on a network of its own; then the ms each call took in
# total, as "create start inspect ready" on the second line. Nothing on
# failure (why on stderr).
docker_one_by_one() {
    local dapi=(curl -sS --max-time 60 --unix-socket "$DOCKER_SOCK" -H 'Content-Type: application/json')
    local net=bi-seq-$$ image t0 t1 t2 t3 t4 create=0 start=0 inspect=0 ready=0 id ip i ok
    image=proxypool/proxyd:$("$BIN/proxyd" --version | awk '{ print $2 }')
    "${dapi[@]}" -X POST http://docker/v1.41/networks/create -o /dev/null \
        -d "{\"Name\": \"$net\", \"Options\": {\"com.docker.network.bridge.name\": \"bi$$s\"}, \"IPAM\": {\"Config\": [{\"Subnet\": \"198.19.8.0/24\"}]}}" || return 1
    local start_ms
    start_ms=$(now_ms)
    for i in $(seq 1 "$N"); do
        t0=$(now_ms)
        id=$("${dapi[@]}" -X POST "http://docker/v1.41/containers/create?name=bi$$-$i" \
            -d "{\"Image\": \"$image\", \"Cmd\": [\"/usr/bin/proxyd\", \"--listen\", \"0.0.0.0:3128\", \"--admin\", \"0.0.0.0:9101\", \"--cache-mem=16M\"], \"HostConfig\": {\"NetworkMode\": \"$net\"}}" | jq -r .Id)
        t1=$(now_ms)
        "${dapi[@]}" -X POST "http://docker/v1.41/containers/$id/start" || return 1
        t2=$(now_ms)
        ip=$("${dapi[@]}" "http://docker/v1.41/containers/$id/json" | jq -r ".NetworkSettings.Networks[\"$net\"].IPAddress")
        t3=$(now_ms)
        ok=0
        for _ in $(seq 1 1000); do
            if nsenter --net="/run/netns/$NS" curl -s -o /dev/null --max-time 1 "http://$ip:9101/healthz"; then ok=1 && break; fi
            sleep 0.002
        done
        t4=$(now_ms)
        [ "$ok" = 1 ] || { echo "instantiate: docker container $i never answered" >&2; break; }
        create=$((create + t1 - t0)) start=$((start + t2 - t1)) inspect=$((inspect + t3 - t2)) ready=$((ready + t4 - t3))
    done
    local total=$(($(now_ms) - start_ms))
    for i in $(seq 1 "$N"); do "${dapi[@]}" -X DELETE "http://docker/v1.41/containers/bi$$-$i?force=1" -o /dev/null || true; done
    "${dapi[@]}" -X DELETE "http://docker/v1.41/networks/$net" -o /dev/null || true
    [ "$ok" = 1 ] || return 1
    echo "$total"
    echo "$create $start $inspect $ready"
}

echo "instantiate: $N proxyd instances from nothing to ready, $R replicates"
echo "$(nproc) CPUs; 1-min load $(cut -d' ' -f1 /proc/loadavg)"
seq_t=() par_t=() floor_why=""
mkdir -p "$TMP/floor" # rtprobe writes each instance's log there
# The floor's replicates stop at the first failure (each try waits up to 5 s).
for _ in $(seq 1 "$R"); do
    if ! t=$(floor sequential); then floor_why="the one-by-one floor probe failed" && break; fi
    seq_t+=("$t")
    if ! t=$(floor parallel); then floor_why="the all-at-once floor probe failed" && break; fi
    par_t+=("$t")
done
printf '  %-34s %s\n' "floor: bare proxyd, one by one" "$(stats "${seq_t[@]}")"
printf '  %-34s %s\n' "floor: bare proxyd, all at once" "$(stats "${par_t[@]}")"
floor_mean=$(mean "${par_t[@]}")
IFS=, read -r -a rts <<<"$runtimes"
for rt in "${rts[@]}"; do
    { read -r -a ts || true; read -r why || true; } < <(run_manager "$rt")
    printf '  %-34s %s\n' "manager, $rt runtime (PUT 1->11)" "$(stats "${ts[@]}")"
    m=$(mean "${ts[@]}")
    printf '    ready within %s ms: %s;  %s/floor (all at once) %s, within %sx: %s\n' "$READY_TARGET_MS" \
        "$(verdict "$m" '<=' "$READY_TARGET_MS" "$why")" "$rt" "$(ratio "$m" "$floor_mean")" "$FLOOR_RATIO_TARGET" \
        "$(verdict "$(ratio "$m" "$floor_mean")" '<=' "$FLOOR_RATIO_TARGET" "$(reasons "$why" "$floor_why")")"
done
if want docker "$runtimes" && docker_up; then
    one=() parts=()
    for _ in $(seq 1 "$R"); do
        { read -r t || true; read -r p || true; } < <(docker_one_by_one)
        is_number "${t:-}" || break
        one+=("$t")
        parts+=("$p")
    done
    printf '  %-34s %s\n' "docker, API calls one by one" "$(stats "${one[@]}")"
    if [ "${#parts[@]}" -gt 0 ]; then
        printf '%s\n' "${parts[@]}" | awk -v n="${#parts[@]}" '
            { c += $1; s += $2; i += $3; r += $4 }
            END { t = c + s + i + r; if (t > 0) printf "    where it goes (per run of 10): create %.0f ms (%.0f%%), start %.0f ms (%.0f%%), inspect %.0f ms (%.0f%%), start to /healthz %.0f ms (%.0f%%)\n", c / n, 100 * c / t, s / n, 100 * s / t, i / n, 100 * i / t, r / n, 100 * r / t }'
    fi
fi
echo "  paper (Table 3): Docker 4000 +- 150 ms, KVM 52000 ms for 10 instances"
