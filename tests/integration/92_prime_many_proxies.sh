#!/usr/bin/env bash
# 64 testbed clients priming a 1 MiB object through 32 proxyd containers
# behind nat at once (two per proxy: a miss and a collapsed request), then a
# short measured run; the pool goes between 1 and 32 instances in random
# order, 5 blocks, so most primes meet 31 cold caches: every request
# answered in full.
# Under the container runtime's memory accounting a socket can poll writable
# while sendfile(2) would block, which libevent 2.1 reports as end of file;
# proxyd must retry, not drop the client mid-body. Without the retry this
# scenario failed 3 runs of 6 (short bodies in a prime); with it, 0 of 9.
# timeout: 240
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_need_root "namespaces, cgroups"
PPEXP=$PP_BIN/ppexp
[ -x "$PPEXP" ] || pp_die "no $PPEXP (run make)"
pp_need_tool gnuplot "make deps"
TESTBED=$PP_REPO/deploy/testbed
P=q$(($$ % 1000000))
MP=z$(($$ % 1000))
pp_on_cleanup "$(printf '%q' "$TESTBED") --prefix $P down >/dev/null 2>&1 || true"
pp_on_cleanup "pp_collect_logs /run/ppexp/$P; rm -rf --one-file-system /run/ppexp/$P"

cat >"$PP_TMP/many.json" <<'JSON'
{"name": "many", "clients": 64, "object_size": "1M", "concurrency": 2, "duration_s": 1,
 "warmup_s": 0.5, "replicates": 5, "seed": 7, "baseline": false,
 "factors": {"forwarding": ["nat"], "replicas": [1, 32], "worker": ["proxyd"], "runtime": ["container"],
             "cache": [true], "stress": [0], "placement": ["shared"]}}
JSON
OUT=$PP_TMP/out
"$PPEXP" run "$PP_TMP/many.json" --out "$OUT" --prefix "$P" --manager-prefix "$MP" --testbed "$TESTBED" \
    >"$PP_TMP/run.out" 2>"$PP_TMP/run.err" || pp_die "ppexp run failed: $(grep -m 3 error "$PP_TMP/run.err")"
expect_eq "$(grep -c 'priming pass' "$PP_TMP/run.err")" 0 "priming errors"
expect_eq "$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next } { print $col["replicas"] "x" $col["n"] }' "$OUT/results.csv" | tr "\n" " ")" "1x5 32x5 " "measured runs per pool size"
expect_eq "$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next } { s += $col["errors"] } END { print s + 0 }' "$OUT/results.csv")" 0 "failed requests in the measured runs"
pp_log "ok: primes and runs through 1 and 32 proxies, every request answered in full"
