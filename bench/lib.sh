# shellcheck shell=bash
# What every bench/ script shares: logging, argument checks, stopping
# processes, free loopback ports, CPU accounting of children, medians and
# ratios. A script sets BENCH_NAME (for messages) and `work` (its temp dir,
# where chosen ports are remembered) before it asks for ports.

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }
# want ITEM LIST: whether ITEM is in the comma-separated LIST.
want() { [[ ",$2," == *",$1,"* ]]; }

# stop_pids PID...: SIGTERM, up to 5 s for them to go (a zombie counts as
# gone), then SIGKILL; reaped when they are our children.
stop_pids() {
    local pid i alive
    [ "$#" -gt 0 ] || return 0
    kill -TERM "$@" 2>/dev/null || true
    for i in $(seq 1 50); do
        alive=0
        for pid in "$@"; do
            if kill -0 "$pid" 2>/dev/null && [ "$(ps -o stat= -p "$pid" 2>/dev/null)" != Z ]; then alive=1; fi
        done
        [ "$alive" = 1 ] || break
        [ "$i" = 50 ] || sleep 0.1
    done
    kill -KILL "$@" 2>/dev/null || true
    wait "$@" 2>/dev/null || true
}

# A free TCP port below the ephemeral range, never one handed out before in
# this run (remembered in $work/.ports).
free_port() {
    local low port
    low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    [ "$low" -gt 12000 ] || low=32768
    for _ in $(seq 1 200); do
        port=$((10000 + (RANDOM * 32768 + RANDOM) % (low - 10000)))
        if grep -qx "$port" "${work:?set work before free_port}/.ports" 2>/dev/null; then continue; fi
        if [ -z "$(ss -Htan "sport = :$port")" ]; then
            echo "$port" >>"$work/.ports"
            echo "$port"
            return 0
        fi
    done
    echo "${BENCH_NAME:-bench}: no free port" >&2
    return 1
}

# CPU time (clock ticks) of this script's finished, waited-for children.
children_ticks() {
    local line f
    read -r line <"/proc/$$/stat"
    read -ra f <<<"${line##*) }"
    echo $((f[13] + f[14]))
}

# The median of numbers on stdin, one per line ("" for none).
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ratio A B: A / B to two decimals, "n/a" when either is missing or B <= 0.
ratio() {
    if [ -n "$1" ] && [ -n "$2" ] && awk -v b="$2" 'BEGIN { exit !(b > 0) }'; then
        awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
    else
        echo "n/a"
    fi
}
