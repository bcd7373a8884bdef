#!/usr/bin/env bash
# The descriptor limit is no silent precondition. loadgen against a real
# nginx: under a soft limit of 256 it raises the soft limit to the hard one
# and opens all 400 connections without a word; under a hard limit of 256
# that it may not raise (no CAP_SYS_RESOURCE) it says in one line what it
# needed and what it runs with — 191 connections (256 - 64 spare - 1 per
# client), 95 per client for two — and runs those without one error; when
# not one connection fits it exits non-zero saying so. ppexp --dry-run of the
# paper's Fig. 4 under a hard limit of 4096 names the busiest process, its
# arithmetic and the simultaneous requests per client that fit.
# timeout: 60
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

LOADGEN=$PP_BIN/loadgen
PPEXP=$PP_BIN/ppexp
[ -x "$LOADGEN" ] || pp_die "no $LOADGEN (run make)"
[ -x "$PPEXP" ] || pp_die "no $PPEXP (run make)"
pp_need_tool setpriv "util-linux"
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -ge 1024 ] || pp_die "this shell's hard descriptor limit $hard is below the 1024 the soft-limit case needs"

# no_raise CMD...: CMD unable to raise its hard limit, whoever runs this
# (root drops CAP_SYS_RESOURCE from the bounding set; others never had it).
no_raise() {
    if [ "$(id -u)" -eq 0 ]; then
        setpriv --bounding-set -sys_resource -- "$@"
    else
        "$@"
    fi
}
json() { jq -r "$2" "$1"; }

pp_make_file "$PP_TMP/www/obj1k" 1024
pp_start_nginx_origin "$PP_TMP/www"
URL=$PP_ORIGIN_URL/obj1k

# ---- soft limit 256, hard limit as it was: raised, all 400 connections
bash -c 'ulimit -Sn 256 && exec "$@"' _ "$LOADGEN" "$URL" -n 2000 -c 400 --json "$PP_TMP/soft.json" \
    >"$PP_TMP/soft.out" 2>"$PP_TMP/soft.err" || pp_die "loadgen exited $?: $(cat "$PP_TMP/soft.err")"
expect_eq "$(cat "$PP_TMP/soft.err")" "" "nothing said when the soft limit alone was low"
expect_eq "$(json "$PP_TMP/soft.json" .concurrency)" 400 "connections per client after raising the soft limit"
expect_eq "$(json "$PP_TMP/soft.json" .connections)" 400 "connections opened"
expect_eq "$(json "$PP_TMP/soft.json" .ok)" 2000 "ok"

# ---- hard limit 256, not raisable: 191 of 400, said in one line
before=$(pp_origin_count /obj1k)
no_raise bash -c 'ulimit -n 256 && exec "$@"' _ "$LOADGEN" "$URL" -n 2000 -c 400 --json "$PP_TMP/hard.json" \
    >"$PP_TMP/hard.out" 2>"$PP_TMP/hard.err" || pp_die "loadgen exited $?: $(cat "$PP_TMP/hard.err")"
expect_eq "$(pp_count_lines "$PP_TMP/hard.err")" 1 "lines on stderr"
expect_match "$(cat "$PP_TMP/hard.err")" \
    '^loadgen: warning: descriptor limit 256 \(hard limit 256; raising it: Operation not permitted\) is below the 465 needed for 1 client x 400 connections: running with 191 connections per client \(191 in all\)$' \
    "what it needed and what it runs with"
expect_eq "$(json "$PP_TMP/hard.json" .concurrency_requested)" 400 "JSON concurrency_requested"
expect_eq "$(json "$PP_TMP/hard.json" .concurrency)" 191 "JSON concurrency (reached)"
expect_eq "$(json "$PP_TMP/hard.json" .connections)" 191 "connections opened"
expect_eq "$(json "$PP_TMP/hard.json" .requests)" 2000 "requests"
expect_eq "$(json "$PP_TMP/hard.json" .ok)" 2000 "ok"
expect_eq "$(json "$PP_TMP/hard.json" .errors.total)" 0 "errors (none on EMFILE)"
expect_match "$(cat "$PP_TMP/hard.out")" "1 client x 191 connections, keep-alive, 191 opened \\(fewer than -c: descriptor limit\\)" \
    "the summary says it ran fewer"
expect_eq "$(($(pp_origin_count /obj1k) - before))" 2000 "origin requests"

# ---- two clients (--source): (256 - 64 - 2) / 2 = 95 each
no_raise bash -c 'ulimit -n 256 && exec "$@"' _ "$LOADGEN" "$URL" --source 127.0.0.2 --source 127.0.0.3 \
    -n 300 -c 200 --json "$PP_TMP/two.json" --quiet 2>"$PP_TMP/two.err" || pp_die "loadgen exited $?: $(cat "$PP_TMP/two.err")"
expect_match "$(cat "$PP_TMP/two.err")" \
    'is below the 466 needed for 2 clients x 200 connections: running with 95 connections per client \(190 in all\)$' \
    "two clients' arithmetic"
expect_eq "$(json "$PP_TMP/two.json" .concurrency)" 95 "connections per client"
expect_eq "$(json "$PP_TMP/two.json" .connections)" 190 "connections opened"
expect_eq "$(json "$PP_TMP/two.json" .ok)" 600 "ok"

# ---- not one connection fits: an error, not a run
rc=0
no_raise bash -c 'ulimit -n 60 && exec "$@"' _ "$LOADGEN" "$URL" -n 10 -c 4 --quiet 2>"$PP_TMP/none.err" || rc=$?
expect_ne "$rc" 0 "exit status when no connection fits"
expect_match "$(cat "$PP_TMP/none.err")" "descriptor limit 60 .* is below the 69 needed for 1 client: not one connection each fits" \
    "why it did not run"

# ---- with CAP_SYS_RESOURCE, the hard limit itself is raised and said so
cap_eff=$(awk '/^CapEff:/ { print $2 }' /proc/self/status)
if (((0x$cap_eff >> 24) & 1)); then # CAP_SYS_RESOURCE
    bash -c 'ulimit -n 256 && exec "$@"' _ "$LOADGEN" "$URL" -n 800 -c 400 --json "$PP_TMP/root.json" \
        --quiet 2>"$PP_TMP/root.err" || pp_die "loadgen exited $?: $(cat "$PP_TMP/root.err")"
    expect_match "$(cat "$PP_TMP/root.err")" "^loadgen: the hard descriptor limit 256 was below the 465 that 1 client x 400 connections need: raised to 465$" \
        "the raise of the hard limit is said"
    expect_eq "$(json "$PP_TMP/root.json" .connections)" 400 "connections with the hard limit raised"
else
    pp_log "not run here: raising the hard limit (this shell lacks CAP_SYS_RESOURCE)"
fi

# ---- ppexp: the plan's busiest process under a hard limit of 4096
no_raise bash -c 'ulimit -n 4096 && exec "$@"' _ "$PPEXP" run fig4 --dry-run \
    >"$PP_TMP/fig4.out" 2>"$PP_TMP/fig4.err" || pp_die "ppexp --dry-run exited $?: $(cat "$PP_TMP/fig4.err")"
expect_eq "$(grep -c 'descriptor limit' "$PP_TMP/fig4.err")" 1 "one line about the limit"
expect_match "$(cat "$PP_TMP/fig4.err")" \
    'descriptor limit 4096 \(hard limit 4096; raising it: Operation not permitted\) is below the 129024 needed by the one proxy instance \(64 clients x 1000 simultaneous requests x 2 \+ 1024\): at most 24 simultaneous requests per client are reachable, not 1000' \
    "fig4: one proxy with every client's requests"
no_raise bash -c 'ulimit -n 4096 && exec "$@"' _ "$PPEXP" run fig4-balancer --dry-run \
    >"$PP_TMP/fig4b.out" 2>"$PP_TMP/fig4b.err" || pp_die "ppexp --dry-run exited $?: $(cat "$PP_TMP/fig4b.err")"
expect_match "$(cat "$PP_TMP/fig4b.err")" \
    'is below the 385024 needed by the balancer \(64 clients x 1000 simultaneous requests x 6 \+ 1024\): at most 8 simultaneous requests per client are reachable' \
    "fig4-balancer: the balancer's six per request"
no_raise bash -c 'ulimit -n 4096 && exec "$@"' _ "$PPEXP" run fig4-quick --dry-run \
    >"$PP_TMP/quick.out" 2>"$PP_TMP/quick.err" || pp_die "ppexp --dry-run exited $?: $(cat "$PP_TMP/quick.err")"
expect_eq "$(grep -c 'descriptor' "$PP_TMP/quick.err" || true)" 0 "fig4-quick (64 x 3) fits: nothing said"
