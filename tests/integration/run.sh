#!/usr/bin/env bash
# Runs every integration scenario (tests/integration/NN_*.sh, in sorted order),
# each in its own bash under a time limit, prints PASS, FAIL or SKIP for each
# (with the tail of a failing one's output) and one closing line for the lot.
# The run fails if any scenario failed, if none ran, or if any was skipped
# (exit 77 through pp_skip: not root, a tool missing) unless PP_ALLOW_SKIP=1:
# CI never passes on scenarios it did not run.
# Usage: run.sh [SUBSTRING...]   only scenarios whose name contains one of them
# Env: PP_BUILD (binaries; default <repo>/build), PP_SCENARIO_TIMEOUT (s,
# default 180; a scenario may lower or raise its own with a "# timeout: N"
# line), PP_VERBOSE=1 (stream every scenario's output), PP_KEEP_TMP=1,
# PP_ALLOW_SKIP=1 (a developer without root: skips do not fail the run).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
PP_REPO=$(cd "$here/../.." && pwd)
export PP_REPO
export PP_BUILD=${PP_BUILD:-$PP_REPO/build}
default_timeout=${PP_SCENARIO_TIMEOUT:-180}

# Descriptors: scenario 35 holds 2000 idle connections from one client
# through the balancer, which opens one to its backend for each (4000 and
# more in one process, which raises its own soft limit only as far as the
# hard one). Twice that leaves room for the rest.
PP_NOFILE=8192

# Raises the soft descriptor limit (and the hard one, given
# CAP_SYS_RESOURCE) to PP_NOFILE for every scenario, or says what is missing.
raise_fd_limit() {
    local soft hard
    soft=$(ulimit -Sn)
    hard=$(ulimit -Hn)
    [ "$soft" = unlimited ] && return 0
    [ "$soft" -ge "$PP_NOFILE" ] && return 0
    if [ "$hard" != unlimited ] && [ "$hard" -lt "$PP_NOFILE" ]; then
        ulimit -Hn "$PP_NOFILE" 2>/dev/null || {
            echo "integration: the scenarios need ulimit -n >= $PP_NOFILE (2000 idle connections" \
                "through the balancer in 35_balancer_relay); the hard limit here is $hard and" \
                "this shell cannot raise it (that takes CAP_SYS_RESOURCE): raise nofile" \
                "(limits.conf, systemd LimitNOFILE, docker --ulimit nofile=$PP_NOFILE)" >&2
            return 1
        }
    fi
    ulimit -Sn "$PP_NOFILE" || {
        echo "integration: cannot raise ulimit -n from $soft to $PP_NOFILE (hard limit $hard)" >&2
        return 1
    }
}
raise_fd_limit || exit 1

# A report a foreground tool (loadgen, ppctl, ppexp) wrote to the scenario's
# own output: the same expressions as lib.sh's scan of the daemons' logs.
sanitizer_re='ERROR: [A-Za-z]*Sanitizer|LeakSanitizer|runtime error:'
skip_rc=77

logdir=$(mktemp -d "${TMPDIR:-/tmp}/pp-integration.XXXXXX")
trap 'rm -rf "$logdir"' EXIT

selected() {
    local name=$1 pat
    [ "$#" -gt 1 ] || return 0
    shift
    for pat in "$@"; do
        case "$name" in *"$pat"*) return 0 ;; esac
    done
    return 1
}

passed=0
failed=0
skipped=0
failed_names=()
skipped_names=()
excluded_names=()
for scenario in "$here"/[0-9][0-9]_*.sh; do
    [ -e "$scenario" ] || continue
    name=$(basename "$scenario" .sh)
    selected "$name" "$@" || continue
    # PP_EXCLUDE: names left out of this run (make asan leaves out those
    # whose time goes to other programs' daemons); said at the end.
    case " ${PP_EXCLUDE:-} " in *" $name "*)
        excluded_names+=("$name")
        continue
        ;;
    esac
    limit=$(sed -n 's/^# timeout: *\([0-9][0-9]*\) *$/\1/p' "$scenario" | head -n 1)
    limit=${limit:-$default_timeout}
    log=$logdir/$name.log
    start=$SECONDS
    # timeout signals the scenario's whole process group, so the processes it
    # started die with it; its EXIT trap then removes what it created.
    if [ "${PP_VERBOSE:-0}" = 1 ]; then
        timeout --kill-after=15 "$limit" bash "$scenario" </dev/null 2>&1 | tee "$log"
        rc=${PIPESTATUS[0]}
    else
        timeout --kill-after=15 "$limit" bash "$scenario" </dev/null >"$log" 2>&1
        rc=$?
    fi
    took=$((SECONDS - start))
    why=""
    if [ "$rc" -eq 0 ] && grep -qaE "$sanitizer_re" "$log"; then
        rc=1
        why="sanitizer report in its output"
    fi
    if [ "$rc" -eq "$skip_rc" ]; then
        skipped=$((skipped + 1))
        skipped_names+=("$name")
        reason=$(sed -n 's/.*\] SKIP: //p' "$log" | tail -n 1)
        printf 'SKIP  %-44s %4ds  (%s)\n' "$name" "$took" "${reason:-no reason given}"
    elif [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        printf 'PASS  %-44s %4ds\n' "$name" "$took"
    else
        failed=$((failed + 1))
        failed_names+=("$name")
        [ -n "$why" ] || why="exit $rc"
        [ "$rc" -eq 124 ] && why="timed out after ${limit}s"
        printf 'FAIL  %-44s %4ds  (%s)\n' "$name" "$took" "$why"
        if [ "${PP_VERBOSE:-0}" != 1 ]; then
            # The assertion that failed first (the logs dumped after it can
            # push it out of the tail), a report in the output, then the tail.
            grep -m 3 -E '\] FAIL: ' "$log" | sed 's/^/    > /'
            grep -a -m 3 -E "$sanitizer_re" "$log" | sed 's/^/    > /'
            tail -n 60 "$log" | sed 's/^/    | /'
        fi
    fi
done
ran=$((passed + failed + skipped))
if [ "$failed" -gt 0 ]; then
    echo "failed: ${failed_names[*]}"
fi
if [ "$skipped" -gt 0 ]; then
    echo "skipped: ${skipped_names[*]}"
fi
if [ "${#excluded_names[@]}" -gt 0 ]; then
    echo "left out (PP_EXCLUDE): ${excluded_names[*]}"
fi
echo "integration: $passed passed, $failed failed, $skipped skipped"
if [ "$ran" -eq 0 ]; then
    echo "integration: no scenario ran${1:+ (none matches: $*)}" >&2
    exit 1
fi
if [ "$skipped" -gt 0 ] && [ "${PP_ALLOW_SKIP:-0}" != 1 ]; then
    echo "integration: $skipped skipped: failing the run (PP_ALLOW_SKIP=1 accepts skips)" >&2
    exit 1
fi
[ "$failed" -eq 0 ]
