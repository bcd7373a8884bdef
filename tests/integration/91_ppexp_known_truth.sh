#!/usr/bin/env bash
# ppexp's verdicts where the truth is known, each in a bounded adaptive run
# (3 to 10 blocks, a 2-minute budget), in a testbed of its own whose origin
# link is rate-limited (tbf, 10 Mbit/s, inside the testbed's server host):
# - a controlled difference: with the cache off every request pays at least
#   52 ms of wire time for the 64 KiB object, with the cache on none (hits):
#   C4 (cache off slower than on) must hold, A/B > 1.
# - an A/A pair: one client with one proxy or two, cache off; the manager
#   gives the one client to one instance, so the second proxy only idles:
#   C3 (one proxy slower than two) must come out equivalent within the
#   declared +-5%. (Hits for one client, 0.3-0.7 ms, vary 2x run to run on
#   this shared machine: an A/A on them is not decided within 10 blocks.)
# Each run must stop at the first block where its claim is decided (never
# before min), and say so in meta.json's stopping rule.
# timeout: 360
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_need_root "namespaces, cgroups, tc"
PPEXP=$PP_BIN/ppexp
[ -x "$PPEXP" ] || pp_die "no $PPEXP (run make)"
pp_need_tool gnuplot "make deps"
pp_need_tool tc "iproute2"
TESTBED=$PP_REPO/deploy/testbed
P=k$(($$ % 1000000)) # testbed prefix, at most 8 characters
MP=q$(($$ % 1000))   # manager prefix
pp_on_cleanup "$(printf '%q' "$TESTBED") --prefix $P down >/dev/null 2>&1 || true"
# The manager's state (its instances' logs) is in /run/ppexp/PREFIX: into
# $PP_TMP for the sanitizer scan, then removed.
pp_on_cleanup "pp_collect_logs /run/ppexp/$P; rm -rf --one-file-system /run/ppexp/$P"

# The testbed first, so the origin's link can be limited before the runs
# (ppexp finds it up, converges it and leaves it to our cleanup).
"$TESTBED" --prefix "$P" up --clients 1 --object-size 65536 >"$PP_TMP/testbed.log" 2>&1 ||
    pp_die "testbed up failed: $(tail -3 "$PP_TMP/testbed.log")"
ip netns exec "$P-srv" tc qdisc replace dev eth0 root tbf rate 10mbit burst 16kb latency 2s ||
    pp_die "cannot rate-limit the origin's link (tbf)"
expect_match "$(ip netns exec "$P-srv" tc qdisc show dev eth0)" 'tbf .*rate 10Mbit' "origin link limited"

# spec NAME REPLICAS CACHE: a spec of one client, 100 requests, adaptive 3..10.
spec() {
    cat <<JSON
{"name": "$1", "clients": 1, "object_size": 65536, "requests": 100, "concurrency": 4,
 "replicates": {"min": 3, "max": 10}, "warmup_s": 0.2, "seed": 91, "baseline": false,
 "factors": {"forwarding": ["nat"], "replicas": $2, "worker": ["proxyd"], "runtime": ["process"],
             "cache": $3, "stress": [0], "placement": ["split"]}}
JSON
}

# run NAME: runs $PP_TMP/NAME.json into $PP_TMP/NAME.
run() {
    local start
    start=$(date +%s)
    "$PPEXP" run "$PP_TMP/$1.json" --out "$PP_TMP/$1" --prefix "$P" --manager-prefix "$MP" --budget 2m \
        >"$PP_TMP/$1.out" 2>"$PP_TMP/$1.err" || pp_die "ppexp run $1 failed: $(tail -5 "$PP_TMP/$1.err")"
    pp_log "ppexp $1 ran $(($(date +%s) - start)) s"
}

verdict() { awk -v c="## $2 " 'index($0, c) == 1 { on = 1; next } /^## / { on = 0 } on && /^Verdict:/' "$PP_TMP/$1/claims.md"; }

# stopped_when_decided NAME CLAIM: the adaptive rule stopped at the first
# look (from min = 3 on) where CLAIM was decided.
stopped_when_decided() {
    local meta=$PP_TMP/$1/meta.json blocks
    jq -e . "$meta" >/dev/null || pp_die "$1: meta.json does not parse"
    expect_eq "$(jq -r .stopping_rule.kind "$meta")" adaptive "$1: stopping rule kind"
    expect_match "$(jq -r .stopping_rule.rule "$meta")" 'Pocock' "$1: the rule says how looks are kept honest"
    blocks=$(jq -r .stopping_rule.blocks_run "$meta")
    expect_ge "$blocks" 3 "$1: blocks run (never fewer than min)"
    expect_le "$blocks" 10 "$1: blocks run (never more than max)"
    expect_eq "$(jq -r .stopping_rule.stopped "$meta")" "every measured claim decided" "$1: why it stopped"
    expect_eq "$(jq --arg c "$2" '[.stopping_rule.looks[] | select(.blocks >= 3 and .blocks < '"$blocks"') |
        select(.verdicts[$c] != "inconclusive")] | length' "$meta")" 0 "$1: no earlier look (from min) had $2 decided"
    expect_eq "$(awk -F, 'NR > 1 { print $1 }' "$PP_TMP/$1/summary.csv" | sort -u | wc -l | tr -d ' ')" "$blocks" \
        "$1: blocks in summary.csv"
    expect_eq "$(awk -F, -v c="$2" '$1 == c && $2 == "all"' "$PP_TMP/$1/claims_blocks.csv" | wc -l | tr -d ' ')" \
        "$blocks" "$1: $2's per-block rows"
}

# --- the controlled difference: cache off behind the slow origin link
spec difference '[1]' '[true, false]' >"$PP_TMP/difference.json"
run difference
pp_log "C4: $(verdict difference C4)"
expect_match "$(verdict difference C4)" '^Verdict: \*\*holds\*\*: A/B = [1-9]' \
    "cache off slower than on behind a 10 Mbit/s origin (C4 holds)"
stopped_when_decided difference C4

# --- the A/A pair: a second, idle proxy
spec aa '[1, 2]' '[false]' >"$PP_TMP/aa.json"
run aa
pp_log "C3: $(verdict aa C3)"
expect_match "$(verdict aa C3)" '^Verdict: \*\*equivalent\*\*' "one proxy vs two for one client is equivalent (C3, A/A)"
expect_match "$(cat "$PP_TMP/aa/claims.md")" 'margin \+-5\.0%' "the declared margin is printed"
stopped_when_decided aa C3

# The limit was there throughout.
expect_match "$(ip netns exec "$P-srv" tc qdisc show dev eth0)" 'tbf' "origin link still limited"
pp_log "PASS"
