#!/usr/bin/env bash
# ppexp end to end: a tiny experiment (4 clients, 1 and 2 proxies, nat,
# route and the balancer, proxyd and Squid workers, 2 replicates, a 32 KiB
# object) in a testbed of its own.
# Every output file exists and parses; results.csv's n equals the replicates
# and its mean is the mean of the loadgen JSONs it came from; the plots are
# drawn; nothing (namespace, manager, cgroup) is left after. Then SIGINT in
# the middle of a run leaves a partial but consistent directory and no testbed.
# timeout: 180
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_need_root "namespaces, cgroups"
PPEXP=$PP_BIN/ppexp
[ -x "$PPEXP" ] || pp_die "no $PPEXP (run make)"
pp_need_tool gnuplot "make deps"
TESTBED=$PP_REPO/deploy/testbed
P=x$(($$ % 1000000))  # testbed prefix, at most 8 characters
MP=y$(($$ % 1000))    # manager prefix
pp_on_cleanup "$(printf '%q' "$TESTBED") --prefix $P down >/dev/null 2>&1 || true"
# ppexp keeps the manager's state (its instances' and balancer's logs) in
# /run/ppexp/PREFIX: into $PP_TMP for the sanitizer scan, then removed.
pp_on_cleanup "pp_collect_logs /run/ppexp/$P; rm -rf --one-file-system /run/ppexp/$P"

nothing_left() {
    local what=$1
    expect_eq "$(find /run/netns -maxdepth 1 -name "$P-*" | wc -l | tr -d ' ')" 0 "namespaces left $what"
    expect_eq "$(pgrep -f -- "--prefix $MP " | wc -l | tr -d ' ')" 0 "manager processes left $what"
    expect_eq "$(find /sys/fs/cgroup -maxdepth 2 \( -name "ppexp-$P-*" -o -name "$MP" \) | wc -l | tr -d ' ')" 0 "cgroups left $what"
}

cat >"$PP_TMP/tiny.json" <<'JSON'
{"name": "tiny", "clients": 4, "object_size": "32K", "requests": 6, "concurrency": 2,
 "replicates": 2, "warmup_s": 0.2, "seed": 11, "baseline": true,
 "factors": {"forwarding": ["nat", "route", "balancer"], "replicas": [1, 2], "worker": ["proxyd", "squid"],
             "runtime": ["container"], "cache": [true], "stress": [0], "placement": ["split"]}}
JSON

# --- an invalid spec runs nothing
echo '{"name": "bad", "factors": {"replicas": []}}' >"$PP_TMP/bad.json"
rc=0
"$PPEXP" run "$PP_TMP/bad.json" --prefix "$P" --manager-prefix "$MP" >"$PP_TMP/bad.out" 2>&1 || rc=$?
expect_eq "$rc" 2 "exit status of an invalid spec"
expect_match "$(cat "$PP_TMP/bad.out")" 'no levels' "the error names the empty level"
expect_eq "$(find /run/netns -maxdepth 1 -name "$P-*" | wc -l | tr -d ' ')" 0 "no testbed for an invalid spec"

# --- the tiny experiment
OUT=$PP_TMP/out
"$PPEXP" run "$PP_TMP/tiny.json" --out "$OUT" --prefix "$P" --manager-prefix "$MP" \
    >"$PP_TMP/run.out" 2>"$PP_TMP/run.err" || pp_die "ppexp run failed: $(tail -5 "$PP_TMP/run.err")"
expect_match "$(cat "$PP_TMP/run.err")" 'configuration 13 of 13, replicate 2 of 2' "progress line"
for f in meta.json summary.csv results.csv stats.csv claims.md time_vs_proxies.gp bars.gp \
    time_vs_proxies.svg time_vs_proxies.png bars.svg bars.png; do
    [ -s "$OUT/$f" ] || pp_die "$f missing or empty"
done
pp_log "ok: every output file exists"
# A finished run leaves nothing in /run: the manager's state directory is
# gone, its instances' logs kept with the results.
[ ! -e "/run/ppexp/$P" ] || pp_die "/run/ppexp/$P left after the run: $(find "/run/ppexp/$P" -maxdepth 2 | head -5 | tr "\n" " ")"
expect_ne "$(find "$OUT/logs/instances" -name '*.log' | wc -l | tr -d ' ')" 0 "instance logs kept in logs/instances"
jq -e . "$OUT/meta.json" >/dev/null || pp_die "meta.json does not parse"
expect_eq "$(jq -r .status "$OUT/meta.json")" complete "meta status"
expect_eq "$(jq '.run_order | length' "$OUT/meta.json")" 26 "runs in meta's order"
expect_match "$(jq -r .git.commit "$OUT/meta.json")" '^[0-9a-f]{40}$' "commit in meta"
expect_match "$(jq -r .versions.kernel "$OUT/meta.json")" '.' "kernel version in meta"
expect_match "$(jq -r .cgroup_mode "$OUT/meta.json")" '^v[12]$' "cgroup mode in meta"
for j in "$OUT"/runs/*.json; do jq -e . "$j" >/dev/null || pp_die "$j does not parse"; done
expect_eq "$(find "$OUT/runs" -name 'r0*-*-split.json' | wc -l | tr -d ' ')" 26 "loadgen JSONs"
expect_eq "$(find "$OUT/runs" -name 'r0*-*-split.csv' | wc -l | tr -d ' ')" 26 "loadgen CSVs"
ncols() { awk -F, '{ print NF }' "$1" | sort -u | tr '\n' ' '; }
expect_eq "$(ncols "$OUT/summary.csv")" "$(head -1 "$OUT/summary.csv" | awk -F, '{ print NF }') " "summary.csv column counts"
expect_eq "$(ncols "$OUT/results.csv")" "17 " "results.csv column counts"
expect_eq "$(head -1 "$OUT/results.csv")" \
    "forwarding,replicas,worker,runtime,cache,stress,placement,n,mean_ms,ci95_lo_ms,ci95_hi_ms,median_ms,p99_ms,rps,errors,cpu_pct,mem_pct" \
    "results.csv header"
expect_eq "$(($(wc -l <"$OUT/summary.csv") - 1))" 26 "summary rows"
expect_eq "$(($(wc -l <"$OUT/results.csv") - 1))" 13 "results rows"
expect_eq "$(awk -F, 'NR > 1 && $3 == "squid"' "$OUT/results.csv" | wc -l | tr -d ' ')" 6 "Squid rows"
expect_eq "$(awk -F, 'NR > 1 && $15 != 0' "$OUT/results.csv" | wc -l | tr -d ' ')" 0 "configurations with failed requests"
squid_run=$OUT/runs/r01-nat-r2-squid-container-cache-s0-split.json
expect_ge "$(jq --arg mp "$MP" '[.per_proxy | to_entries[] | select(.key | test("^" + $mp + "[0-9]+$")) | .value.requests] | add // 0' "$squid_run")" 1 \
    "requests Squid instances served, named by their X-Cache"
bal_run=$OUT/runs/r01-balancer-r2-proxyd-container-cache-s0-split.json
expect_ge "$(jq --arg mp "$MP" '[.per_proxy | to_entries[] | select(.key | test("^" + $mp + "[0-9]+$")) | .value.requests] | add // 0' "$bal_run")" 1 \
    "requests proxyd instances served through the balancer (container runtime)"
expect_eq "$(awk -F, 'NR > 1 { print $8 }' "$OUT/results.csv" | sort -u)" 2 "n = replicates on every row"
# results.csv's mean = the mean over replicates of the loadgen JSONs' latency_ms.mean
while IFS=, read -r fwd reps worker _ _ _ _ _ mean _; do
    if [ "$fwd" = direct ]; then pat='r0*-direct-s0-split.json'; else pat="r0*-$fwd-r$reps-$worker-container-cache-s0-split.json"; fi
    want=$(find "$OUT/runs" -name "$pat" -exec jq .latency_ms.mean {} \; | awk '{ s += $1; n++ } END { printf "%.4f", s / n }')
    # results.csv keeps 4 decimals: equal to within its rounding.
    expect_eq "$(awk -v a="$mean" -v b="$want" 'BEGIN { d = a - b; print (d < 0 ? -d : d) <= 0.0002 ? "agrees" : a " vs " b }')" \
        agrees "mean of $fwd x$reps $worker against its loadgen JSONs"
done < <(tail -n +2 "$OUT/results.csv")
expect_match "$(grep -c '^## C' "$OUT/claims.md")" '^6$' "claims C2-C6 (C5 in two parts) in claims.md"
expect_match "$(cat "$OUT/claims.md")" 'not measured in this run' "a claim the data cannot test"
# C2 (nat vs route) and C3 (1 vs 2 proxies) are measured: each gets one of
# the four verdicts, from paired ratios whose per-block data is beside it.
for c in C2 C3; do
    expect_match "$(awk -v c="## $c " 'index($0, c) == 1 { on = 1; next } /^## / { on = 0 } on && /^Verdict:/' "$OUT/claims.md")" \
        '^Verdict: \*\*(holds|inverted|equivalent|inconclusive)\*\*' "$c has one of the four verdicts"
done
expect_eq "$(head -1 "$OUT/claims_blocks.csv")" "claim,a,b,block,a_mean_ms,b_mean_ms,log_ratio" "claims_blocks.csv header"
expect_eq "$(awk -F, '$1 == "C3" && $2 == "all"' "$OUT/claims_blocks.csv" | wc -l | tr -d ' ')" 2 "C3's pooled log-ratio per block"
expect_eq "$(jq -r .stopping_rule.kind "$OUT/meta.json")" fixed "a plain replicate count is a fixed design"
for f in ratios.csv points.csv ratios.svg; do [ -s "$OUT/$f" ] || pp_die "$f missing or empty"; done
# proxyd against Squid, paired per block in every cell both ran (3 forwarding
# modes x 1 and 2 proxies), each over the 2 blocks with a positive ratio.
expect_eq "$(awk -F, '$1 == "proxyd/squid"' "$OUT/ratios.csv" | wc -l | tr -d ' ')" 6 "proxyd/squid cells in ratios.csv"
expect_eq "$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i }
    $1 == "proxyd/squid" && $col["n"] == 2 && $col["ratio"] > 0' "$OUT/ratios.csv" | wc -l | tr -d ' ')" 6 \
    "proxyd/squid cells with n = 2 and a positive ratio"
expect_eq "$(awk -F, 'NR > 1 && $10 != "" && $10 < 0' "$OUT/results.csv" | wc -l | tr -d ' ')" 0 "no negative lower bound of a time"
expect_match "$(head -c 200 "$OUT/time_vs_proxies.svg")" '<svg' "SVG plot"
expect_eq "$(head -c 4 "$OUT/bars.png" | tail -c 3)" PNG "PNG plot"
# plot DIR redraws from the CSVs only
rm -f "$OUT"/*.svg "$OUT"/*.png "$OUT/claims.md"
"$PPEXP" plot "$OUT" >/dev/null || pp_die "ppexp plot failed"
for f in time_vs_proxies.svg bars.png claims.md; do [ -s "$OUT/$f" ] || pp_die "plot did not redraw $f"; done
nothing_left "after the run"

# --- SIGINT in the middle: a partial, consistent directory and no testbed
sed 's/"replicates": 2/"replicates": 3/; s/"requests": 6/"requests": 40/' "$PP_TMP/tiny.json" >"$PP_TMP/long.json"
OUT2=$PP_TMP/out2
"$PPEXP" run "$PP_TMP/long.json" --out "$OUT2" --prefix "$P" --manager-prefix "$MP" \
    >"$PP_TMP/int.out" 2>"$PP_TMP/int.err" &
ppexp_pid=$!
has_runs() { [ -f "$OUT2/summary.csv" ] && [ "$(wc -l <"$OUT2/summary.csv")" -ge 4 ]; }
pp_wait_until 90 has_runs || pp_die "no runs finished: $(tail -3 "$PP_TMP/int.err")"
kill -INT "$ppexp_pid"
rc=0
wait "$ppexp_pid" || rc=$?
expect_eq "$rc" 130 "exit status after SIGINT"
expect_eq "$(jq -r .status "$OUT2/meta.json")" interrupted "meta status after SIGINT"
done_runs=$(jq '[.run_order[] | select(.status == "done")] | length' "$OUT2/meta.json")
expect_eq "$(($(wc -l <"$OUT2/summary.csv") - 1))" "$done_runs" "summary rows = finished runs"
expect_eq "$(find "$OUT2/runs" -name 'r0*-*-split.json' | wc -l | tr -d ' ')" "$done_runs" "one loadgen JSON per finished run"
expect_eq "$(awk -F, 'NR > 1 { n += $8 } END { print n }' "$OUT2/results.csv")" "$done_runs" "results.csv counts every finished run"
nothing_left "after SIGINT"
pp_log "PASS"
