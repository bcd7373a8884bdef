#!/usr/bin/env bash
# Runs every integration scenario (tests/integration/NN_*.sh, in sorted order),
# each in its own bash under a time limit, prints PASS or FAIL for each (with
# the tail of a failing one's output) and one closing line for the lot.
# Usage: run.sh [SUBSTRING...]   only scenarios whose name contains one of them
# Env: PP_BUILD (binaries; default <repo>/build), PP_SCENARIO_TIMEOUT (s,
# default 180; a scenario may lower or raise its own with a "# timeout: N"
# line), PP_VERBOSE=1 (stream every scenario's output), PP_KEEP_TMP=1.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
PP_REPO=$(cd "$here/../.." && pwd)
export PP_REPO
export PP_BUILD=${PP_BUILD:-$PP_REPO/build}
default_timeout=${PP_SCENARIO_TIMEOUT:-180}

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
failed_names=()
for scenario in "$here"/[0-9][0-9]_*.sh; do
    [ -e "$scenario" ] || continue
    name=$(basename "$scenario" .sh)
    selected "$name" "$@" || continue
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
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        printf 'PASS  %-44s %4ds\n' "$name" "$took"
    else
        failed=$((failed + 1))
        failed_names+=("$name")
        why="exit $rc"
        [ "$rc" -eq 124 ] && why="timed out after ${limit}s"
        printf 'FAIL  %-44s %4ds  (%s)\n' "$name" "$took" "$why"
        if [ "${PP_VERBOSE:-0}" != 1 ]; then
            # The assertion that failed first (the logs dumped after it can
            # push it out of the tail), then the tail.
            grep -m 3 -E '\] FAIL: ' "$log" | sed 's/^/    > /'
            tail -n 60 "$log" | sed 's/^/    | /'
        fi
    fi
done
if [ "$failed" -gt 0 ]; then
    echo "failed: ${failed_names[*]}"
fi
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
