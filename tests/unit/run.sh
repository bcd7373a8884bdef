#!/bin/bash
# Runs every unit-test binary given, then prints one closing line for the lot.
# Each binary is a Check runner (fork mode) and prints its own summary.
set -u
failed=0 passed=0
for t in "$@"; do
    if "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $t"; fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
