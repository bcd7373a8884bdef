# shellcheck shell=bash
# What every bench/ script shares: logging, argument checks, stopping
# processes, free loopback ports, CPU accounting of children, medians and
# ratios, and the verdict gate (a target is met or missed only by a valid
# measurement). A script sets BENCH_NAME (for messages) and `work` (its temp
# dir, where chosen ports are remembered) before it asks for ports.

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }
# is_number X: a plain decimal figure, what a parsed measurement looks like
# ("", "n/a", "-nan" or "1.2.3" are not).
is_number() { [[ "$1" =~ ^[0-9]+([.][0-9]*)?([eE][-+]?[0-9]+)?$ ]]; }
# want ITEM LIST: whether ITEM is in the comma-separated LIST.
want() { [[ ",$2," == *",$1,"* ]]; }

# is_running PID: the process exists and is not a zombie (kill -0 alone
# succeeds on a child that exited and was not reaped yet).
is_running() {
    kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c 1)" != Z ]
}

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

# reasons TEXT...: the non-empty TEXTs joined with "; " (a validity reason
# built from checks that each print nothing when they pass).
reasons() {
    local r out=""
    for r in "$@"; do
        [ -n "$r" ] || continue
        out=${out:+$out; }$r
    done
    printf '%s' "$out"
}

# verdict VALUE OP TARGET WHY: "met" or "missed" for VALUE OP TARGET (OP one
# of >=, <=, >, <), but only for a valid measurement: "invalid (WHY)" when WHY
# is not empty (failed requests, an empty sample, origin fetches during hits:
# the script's own checks), and "invalid (no figure ...)" when VALUE is not a
# number, so a ratio of nothing or a figure that did not parse can never read
# as met.
verdict() {
    local value=$1 op=$2 target=$3 why=${4:-}
    case "$op" in
    '>=' | '<=' | '>' | '<') ;;
    *) echo "${BENCH_NAME:-bench}: verdict: unknown comparator '$op'" >&2 && return 2 ;;
    esac
    if [ -n "$why" ]; then
        echo "invalid ($why)"
    elif ! is_number "$value"; then
        if [ -n "$value" ]; then echo "invalid (not a figure: $value)"; else echo "invalid (no figure)"; fi
    elif awk -v v="$value" -v t="$target" -v op="$op" \
        'BEGIN { exit !(op == ">=" ? v >= t : op == "<=" ? v <= t : op == ">" ? v > t : v < t) }'; then
        echo "met"
    else
        echo "missed"
    fi
}

# CPU accounting in nanoseconds by cgroup (cpuacct on cgroup v1, cpu.stat on
# v2): a server started in a group of its own is counted whole, every process
# and thread it forks included, even those that exit, where /proc/PID/stat
# counts in clock ticks (10 ms: as much as a short run's whole CPU per request
# at 1 KiB) and only processes still there. Groups are named
# ppbench-PID-NAME; the script removes them at exit (cpu_group_remove).

# cpu_group_new NAME: the group's directory, or nothing when no hierarchy can
# be written (the caller then falls back to ticks).
cpu_group_new() {
    local base dir
    if [ -f /sys/fs/cgroup/cpuacct/cpuacct.usage ]; then
        base=/sys/fs/cgroup/cpuacct
    elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then
        base=/sys/fs/cgroup
    else
        return 0
    fi
    dir=$base/ppbench-$$-$1
    mkdir -p "$dir" 2>/dev/null || return 0
    echo "$dir"
}

# cpu_group_exec DIR COMMAND...: runs COMMAND inside the group from its first
# instruction (so nothing it forks at start-up escapes the count).
cpu_group_exec() {
    local dir=$1
    shift
    # shellcheck disable=SC2016 # $$ and $@ belong to the inner shell
    exec bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$dir" "$@"
}

# cpu_group_ns DIR: CPU nanoseconds used in the group so far.
cpu_group_ns() {
    if [ -f "$1/cpuacct.usage" ]; then
        cat "$1/cpuacct.usage"
    else
        awk '$1 == "usage_usec" { printf "%d\n", $2 * 1000 }' "$1/cpu.stat"
    fi
}

# cpu_group_remove DIR...: removes the groups (their processes must be gone).
cpu_group_remove() {
    local dir
    for dir in "$@"; do rmdir "$dir" 2>/dev/null || true; done
}
