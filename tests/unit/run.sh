#!/bin/bash
# Runs every unit-test binary given, then prints one closing line for the lot.
# Each binary is a Check runner (fork mode, tests/unit/check_main.h) and
# prints its own summary ("100%: Checks: N, Failures: 0, Errors: 0"). The run
# fails if any binary fails, if none was given, or if one ran no check. So
# Check's selection variables (CK_RUN_SUITE, CK_RUN_CASE, CK_INCLUDE_TAGS,
# CK_EXCLUDE_TAGS) cannot shrink a run to nothing and pass: a binary they
# leave empty fails. To run one suite or case, run its binary directly.
set -u
if [ "$#" -eq 0 ]; then
    echo "unit: no test binaries given" >&2
    exit 1
fi
# Check's default per-test limit is 4 s of wall time; on a machine shared with
# other builds a test that needs half a second of CPU has taken 8 s. A hang
# is still caught, at a minute.
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-60}
failed=0 passed=0 checks=0
out=$(mktemp "${TMPDIR:-/tmp}/pp-unit.XXXXXX")
trap 'rm -f "$out"' EXIT
for t in "$@"; do
    rc=0
    "$t" >"$out" 2>&1 || rc=$?
    cat "$out"
    # Check's summary line: "NN%: Checks: N, Failures: F, Errors: E".
    n=$(sed -n 's/^[0-9]*%: Checks: \([0-9]*\),.*/\1/p' "$out" | tail -n 1)
    if [ "$rc" -eq 0 ] && [ "${n:-0}" -gt 0 ]; then
        passed=$((passed + 1))
        checks=$((checks + n))
    else
        failed=$((failed + 1))
        if [ "$rc" -eq 0 ]; then
            echo "FAILED: $t (ran ${n:-no} checks)"
        else
            echo "FAILED: $t (exit $rc)"
        fi
    fi
done
echo "unit: $passed passed, $failed failed ($checks checks)"
selection=$(env | grep -E '^CK_(RUN_SUITE|RUN_CASE|INCLUDE_TAGS|EXCLUDE_TAGS)=' | tr '\n' ' ')
if [ "$failed" -gt 0 ] && [ -n "$selection" ]; then
    echo "unit: Check's selection is set (${selection% }): every binary it leaves without checks fails"
fi
[ "$failed" -eq 0 ]
