#!/bin/bash
# The demo, the project's main job in one command: the paper's Fig. 4
# experiment in its quick form (ppexp's fig4-quick preset: the 64-client
# testbed, 1 to 32 proxies, nat, route and the balancer, every worker kind
# the manager has), run through the manager's REST API with loadgen, then
# the results table, the claims verdicts and where the plots are. ppexp brings
# the testbed up and takes it down (and leaves nothing behind on Ctrl-C).
# Before it, a one-proxy sanity check (deploy/demo-proxyd.sh: a MISS, then a
# HIT). Env: DEMO_PRESET (default fig4-quick), DEMO_OUT (default
# results/<preset>-<UTC stamp>).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=${PP_BUILD:-$REPO/build}/bin
PRESET=${DEMO_PRESET:-fig4-quick}
OUT=${DEMO_OUT:-$REPO/results/$PRESET-$(date -u +%Y%m%dT%H%M%SZ)}

if [ "$(id -u)" -ne 0 ]; then
    echo "demo: run as root (the testbed is network namespaces, the proxies get cgroups)" >&2
    exit 1
fi

echo "== 1. one proxyd before a real nginx origin: a MISS, then a HIT"
"$REPO/deploy/demo-proxyd.sh"

echo
echo "== 2. the paper's Fig. 4 experiment, quick form: $BIN/ppexp run $PRESET --out $OUT"
start=$SECONDS
"$BIN/ppexp" run "$PRESET" --out "$OUT"
echo "(ran in $((SECONDS - start)) s)"

echo
echo "== results ($OUT/results.csv: one row per configuration; times in ms, 95% CI over replicate means)"
# The columns a reader wants first, aligned; the CSV has every factor.
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i }
    { printf "%s", $col["forwarding"]
      n = split("worker replicas n mean_ms ci95_lo_ms ci95_hi_ms median_ms p99_ms rps errors", f, " ")
      for (i = 1; i <= n; i++) printf ",%s", (f[i] in col ? $col[f[i]] : "-")
      printf "\n" }' "$OUT/results.csv" | column -t -s,
echo
echo "== the paper's claims ($OUT/claims.md)"
grep -E '^(## |Verdict:)' "$OUT/claims.md" || sed -n '1,40p' "$OUT/claims.md"
echo
echo "== plots"
ls "$OUT"/*.svg "$OUT"/*.png 2>/dev/null
