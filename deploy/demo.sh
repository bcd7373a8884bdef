#!/bin/bash
# The demo, the project's main job in one command: the paper's Fig. 4
# experiment in its quick form (ppexp's fig4-quick preset: the 64-client
# testbed, 1, 2 and 8 proxies, nat and route, proxyd and Squid workers,
# steady-state time-based runs, randomized blocks added until the claims are
# decided or the time budget is spent), run through the manager's REST API
# with loadgen; then the verdicts on the paper's claims C2 (NAT vs routing),
# C3 (two proxies vs one) and C6 (no gain past two), each with its ratio and
# interval and, when undecided, why; the results table (mean time per
# request, the paper's metric, first) and where the plots are. ppexp brings
# the testbed up and takes it down (and leaves nothing behind on Ctrl-C).
# Before it, a one-proxy sanity check (deploy/demo-proxyd.sh: a MISS, then a
# HIT). Env: DEMO_PRESET (default fig4-quick), DEMO_OUT (default
# results/<preset>-<UTC stamp>), DEMO_BUDGET (ppexp's --budget, default 9m:
# with the check before it and the tables after, the demo stays under 10
# minutes).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=${PP_BUILD:-$REPO/build}/bin
PRESET=${DEMO_PRESET:-fig4-quick}
OUT=${DEMO_OUT:-$REPO/results/$PRESET-$(date -u +%Y%m%dT%H%M%SZ)}
BUDGET=${DEMO_BUDGET:-9m}

if [ "$(id -u)" -ne 0 ]; then
    echo "demo: run as root (the testbed is network namespaces, the proxies get cgroups)" >&2
    exit 1
fi

t0=$SECONDS
echo "== 1. one proxyd before a real nginx origin: a MISS, then a HIT"
"$REPO/deploy/demo-proxyd.sh"

echo
echo "== 2. the paper's Fig. 4 experiment, quick form: $BIN/ppexp run $PRESET --budget $BUDGET --out $OUT"
start=$SECONDS
"$BIN/ppexp" run "$PRESET" --budget "$BUDGET" --out "$OUT"
echo "(ran in $((SECONDS - start)) s)"

stopped=$(jq -r '"\(.stopping_rule.blocks_run // "?") blocks (\(.stopping_rule.min_blocks // "?")..\(.stopping_rule.max_blocks // "?")): \(.stopping_rule.stopped // "fixed design")"' \
    "$OUT/meta.json" 2>/dev/null || echo "?")
echo
echo "== the paper's claims, decided from paired per-block ratios A/B of mean time per request"
echo "   (stopped after $stopped; details and every cell in $OUT/claims.md)"
# From each claim's "Verdict:" line in claims.md: the verdict, the ratio,
# the interval at the per-look level, the TOST interval and the margin.
# When it is inconclusive: why, and roughly how many blocks at this spread
# would decide it (the interval narrows as 1/sqrt(blocks)).
awk -v claims="C2 C3 C6" '
    BEGIN { n = split(claims, want, " ")
            for (i = 1; i <= n; i++) keep[want[i]] = 1
            label["C2"] = "NAT vs routing (A = nat, B = route; 1 and 2 proxies)"
            label["C3"] = "two proxies vs one (A = 1 proxy, B = 2)"
            label["C6"] = "no gain past two (A = 8 proxies, B = 2)" }
    /^## / { id = $2; next }
    /^Verdict:/ && (id in keep) {
        line = $0
        v = line; sub(/^Verdict: \*\*/, "", v); sub(/\*\*.*/, "", v)
        if (v ~ /not measured/) { printf "%-4s %s: not measured in this run\n", id, label[id]; next }
        r = line; sub(/.*A\/B = /, "", r)
        ratio = r; sub(/ .*/, "", ratio)
        ci = r; sub(/^[^[]*\[/, "[", ci); sub(/\].*/, "]", ci)
        lvl = r; sub(/^[^(]*\(/, "", lvl); sub(/\).*/, "", lvl)
        band = r; sub(/.*against \[/, "", band); sub(/\].*/, "", band)
        nb = r; sub(/.*n = /, "", nb); sub(/ blocks.*/, "", nb)
        split(band, bb, ", "); m = (bb[2] - 1) * 100
        split(substr(ci, 2, length(ci) - 2), cc, ", ")
        printf "%-4s %s: %s%s, A/B = %s %s (%s), margin +-%.0f%%, n = %s blocks\n", id, label[id],
            v, (v == "equivalent" ? sprintf(" within +-%.0f%%", m) : ""),
            ratio, ci, lvl, m, nb
        if (v == "inconclusive" && cc[1] > 0) {
            lr = log(ratio); if (lr < 0) lr = -lr
            hw = (log(cc[2]) - log(cc[1])) / 2
            eq = log(bb[2]) - lr
            target = (lr > eq ? lr : eq)
            need = (target > 0.002) ? nb * (hw / target) ^ 2 : 0
            printf "     why: the interval %s contains 1 and is not inside the +-%.0f%% band [%s]; ", ci, m, band
            printf "its half-width, %.1f%% in log terms, is what %s blocks of this run'\''s run-to-run spread give", 100 * hw, nb
            if (need > 0 && need < 1000) printf "; about %d blocks at this spread would decide it (this run had %s)\n", need + 1, nb
            else printf "; the ratio sits on the margin, so no number of blocks of this size decides it\n"
        }
    }' "$OUT/claims.md"
# The spread behind the intervals: each configuration's coefficient of
# variation over blocks, and the share of its core the intermediate host got
# (other processes on a shared machine take the rest).
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    { cv += $col["cv_pct"]; k++ }
    END { if (k) printf "     spread: time per request varied %.0f%% (mean CV over configurations) from block to block\n", cv / k }' \
    "$OUT/stats.csv"
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    $col["cpu_pct"] > 0 && $col["mean_ms"] > 0 {
        x = $col["cpu_pct"] + 0; if (k == 0 || x < lo) lo = x; if (k == 0 || x > hi) hi = x; k++
        c = $col["config"]; n[c]++; t[k] = log($col["mean_ms"]); s[k] = log(x); cf[k] = c
        st[c] += t[k]; ss[c] += s[k] }
    END { if (!k) exit
        # within each configuration: how much of log time per request moves
        # with log CPU share (r^2 of the deviations from the configuration means)
        for (i = 1; i <= k; i++) { c = cf[i]; a = t[i] - st[c] / n[c]; b = s[i] - ss[c] / n[c]
            sab += a * b; saa += a * a; sbb += b * b }
        printf "     the intermediate host used %.0f-%.0f%% of one core in the runs (CPU time over wall time; the rest went to the clients and other processes on this machine)", lo, hi
        if (saa > 0 && sbb > 0) printf ";\n     %.0f%% of the run-to-run variation of time per request follows that share", 100 * sab * sab / (saa * sbb)
        printf "\n" }' "$OUT/summary.csv"

echo
echo "== results ($OUT/results.csv, stats.csv: one row per configuration; n = blocks; mean over blocks with its 95% t interval)"
# The paper's metric first, then requests/s and the intermediate host's CPU
# per request (the paper's Table 2 quantity), from the two CSVs joined on
# the configuration.
awk -F, 'FNR == 1 { for (i = 1; i <= NF; i++) col[FILENAME, $i] = i
                    if (FILENAME ~ /results/) print "worker,forwarding,proxies,n,mean_ms,95%_interval_ms,rps,cpu_ms_per_req,errors"
                    next }
    { key = $1 "," $2 "," $3 "," $4 "," $5 "," $6 "," $7 }
    FILENAME ~ /stats/ { cpu[key] = $col[FILENAME, "cpu_ms_per_req"]; next }
    { row[++nr] = key
      f = FILENAME
      line[key] = sprintf("%s,%s,%s,%s,%.1f,[%.1f %.1f],%.0f,%s", $col[f, "worker"], $col[f, "forwarding"],
          $col[f, "replicas"], $col[f, "n"], $col[f, "mean_ms"], $col[f, "ci95_lo_ms"], $col[f, "ci95_hi_ms"],
          $col[f, "rps"], "%CPU%")
      err[key] = $col[f, "errors"] }
    END { for (i = 1; i <= nr; i++) { k = row[i]; l = line[k]
          c = (k in cpu && cpu[k] != "") ? sprintf("%.2f", cpu[k]) : "-"
          sub(/%CPU%/, c, l); print l "," err[k] } }' "$OUT/stats.csv" "$OUT/results.csv" |
    { IFS= read -r head; echo "$head"; sort -t, -k1,1 -k2,2 -k3,3n; } | column -t -s,

echo
echo "== plots"
ls "$OUT"/*.svg "$OUT"/*.png 2>/dev/null
echo "(demo ran in $((SECONDS - t0)) s)"
