#!/usr/bin/env bash
# The harness checks itself before anything relies on it: a real nginx origin
# serves the object byte for byte, its access log counts one fetch, the tools
# (badorigin, rawhttp) answer as documented, a failing assertion fails, and
# cleanup leaves no process, temp dir, namespace or rule behind, even on a
# failure or a timeout; pp_skip exits 77 (and no other 77 counts as a skip);
# a sanitizer report in any log fails a scenario that passed every check.
# Needs no proxyd.
# timeout: 90
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

# --- an nginx origin serves a 1 MiB object and logs one fetch
pp_make_file "$PP_TMP/www/obj1m" 1048576
pp_start_nginx_origin "$PP_TMP/www"
code=$(pp_curl -D "$PP_TMP/h" -o "$PP_TMP/got" -w '%{http_code}' "$PP_ORIGIN_URL/obj1m")
expect_eq "$code" 200 "origin status"
expect_file_eq "$PP_TMP/got" "$PP_TMP/www/obj1m" "origin body"
expect_eq "$(pp_header "$PP_TMP/h" cache-control)" "max-age=3600" "origin Cache-Control"
expect_eq "$(pp_origin_count /obj1m)" 1 "origin fetches of /obj1m"
expect_eq "$(pp_origin_count /other)" 0 "origin fetches of /other"

# --- free ports are distinct and free
p1=$(pp_free_port)
p2=$(pp_free_port)
expect_ne "$p1" "$p2" "two free ports"
expect_ne "$p1" "$PP_ORIGIN_PORT" "a free port vs the origin's"
if pp_port_open 127.0.0.1 "$p1"; then pp_die "free port $p1 accepts connections"; fi

# --- badorigin counts requests; rawhttp sends bytes as given and sees the close
pp_start_badorigin delay-0
pp_raw "127.0.0.1:$PP_BAD_PORT" --timeout-ms 3000 \
    --send 'GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'
expect_eq "$PP_RAW_RC" 0 "rawhttp exit code when the peer closes"
expect_eq "$(pp_raw_status)" 200 "badorigin status"
expect_eq "$(grep -a -o 'HTTP/1.1 200 OK' "$PP_RAW_OUT" | wc -l)" 2 "pipelined responses"
expect_ge "$(stat -c %s "$PP_RAW_OUT")" 2048 "bytes received (two 1024-byte bodies and heads)"
expect_eq "$(pp_count_lines "$PP_BAD_COUNT_FILE")" 2 "badorigin request count"
pp_start_badorigin silent
pp_raw "127.0.0.1:$PP_BAD_PORT" --quiet --timeout-ms 300 --send 'GET / HTTP/1.1\r\nHost: t\r\n\r\n'
expect_eq "$PP_RAW_RC" 2 "rawhttp exit code on a silent peer"

# --- a child scenario: starts nginx (and, as root, a namespace with a rule),
# then fails an assertion. Its cleanup must leave nothing behind.
cat >"$PP_TMP/child.sh" <<EOF
. "$PP_REPO/tests/integration/lib.sh"
mkdir -p "\$PP_TMP/www" && echo hi >"\$PP_TMP/www/x"
pp_start_nginx_origin "\$PP_TMP/www"
echo "pid=\$PP_ORIGIN_PID tmp=\$PP_TMP" >"$PP_TMP/child.out"
if [ "\${WITH_NS:-0}" = 1 ]; then
    ns=\$(pp_netns sel)
    pp_iptables -n "\$ns" -t nat -A OUTPUT -p tcp --dport 9 -j DNAT --to-destination 127.0.0.1:10
    echo "ns=\$ns" >>"$PP_TMP/child.out"
fi
if [ "\${HANG:-0}" = 1 ]; then sleep 60; fi
expect_eq "\$(cat "\$PP_TMP/www/x")" "bye" "deliberately failing check"
EOF

check_child_left_nothing() {
    local out pid tmp ns
    out=$(cat "$PP_TMP/child.out")
    pid=$(sed -n 's/.*pid=\([0-9]*\).*/\1/p' <<<"$out")
    tmp=$(sed -n 's/.*tmp=\([^ ]*\).*/\1/p' <<<"$out")
    ns=$(sed -n 's/^ns=//p' <<<"$out")
    if [ -z "$pid" ] || [ -z "$tmp" ]; then pp_die "child wrote no pid/tmp: $out"; fi
    if kill -0 "$pid" 2>/dev/null; then pp_die "child's nginx (pid $pid) outlived it"; fi
    expect_eq "$(pgrep -f -c "$tmp" || true)" 0 "processes still naming $tmp"
    [ ! -e "$tmp" ] || pp_die "child's temp dir $tmp is still there"
    if [ -n "$ns" ]; then
        if ip netns list | grep -qw "$ns"; then pp_die "namespace $ns outlived the child"; fi
        pp_log "ok: namespace $ns removed"
    fi
}

with_ns=0
if [ "$(id -u)" -eq 0 ] && ip netns list >/dev/null 2>&1; then with_ns=1; fi

rc=0
WITH_NS=$with_ns bash "$PP_TMP/child.sh" >"$PP_TMP/child.log" 2>&1 || rc=$?
expect_eq "$rc" 1 "exit code of a scenario whose check fails"
expect_match "$(cat "$PP_TMP/child.log")" "expected 'bye', saw 'hi'" "failure message"
expect_match "$(cat "$PP_TMP/child.log")" "child.sh:[0-9]+" "failure names file:line"
check_child_left_nothing

# The same child, killed by timeout as run.sh would: cleanup still runs.
rm -f "$PP_TMP/child.out"
rc=0
HANG=1 WITH_NS=$with_ns timeout 4 bash "$PP_TMP/child.sh" >"$PP_TMP/child2.log" 2>&1 || rc=$?
expect_eq "$rc" 124 "exit code of timeout"
check_child_left_nothing

# --- pp_skip: exit 77 with its reason, and cleanup still runs; a 77 that
# pp_skip did not say is a failure.
cat >"$PP_TMP/skip.sh" <<EOF
. "$PP_REPO/tests/integration/lib.sh"
echo "tmp=\$PP_TMP" >"$PP_TMP/skip.vars"
if [ "\${STRAY:-0}" = 1 ]; then exit 77; fi
pp_skip "nothing to run here"
EOF
rc=0
out=$(bash "$PP_TMP/skip.sh" 2>&1) || rc=$?
expect_eq "$rc" 77 "exit code of a skipped scenario"
expect_match "$out" '\] SKIP: nothing to run here' "skip reason"
tmp=$(sed -n 's/^tmp=//p' "$PP_TMP/skip.vars")
if [ -z "$tmp" ] || [ -e "$tmp" ]; then pp_die "a skipped scenario's temp dir ($tmp) is still there"; fi
rc=0
out=$(STRAY=1 bash "$PP_TMP/skip.sh" 2>&1) || rc=$?
expect_eq "$rc" 1 "exit code of a scenario that exits 77 without pp_skip"

# --- a sanitizer report in any log, at any depth under the temp dir or in a
# pp_scan_also path, fails a scenario that passed every check, naming the log.
# The reports are written by the child, and its output kept in a variable:
# in a file here they would fail this scenario's own scan.
outside=$(mktemp -d "${TMPDIR:-/tmp}/pp-it.scan-also.XXXXXX")
pp_on_cleanup "rm -rf $(printf '%q' "$outside")"
cat >"$PP_TMP/scan.sh" <<EOF
. "$PP_REPO/tests/integration/lib.sh"
mkdir -p "\$PP_TMP/state/deep"
echo "ordinary line" >"\$PP_TMP/state/deep/quiet.log"
case "\$KIND" in
asan) printf '==7==%s: heap-buffer-overflow on address 0x1\n' "ERROR: Address""Sanitizer" >"\$PP_TMP/state/deep/x1.log" ;;
ubsan) printf 'a.c:3:5: %s signed integer overflow\n' "runtime ""error:" >"\$PP_TMP/x.err" ;;
lsan) printf '==7==%s: detected memory leaks\n' "ERROR: Leak""Sanitizer" >"\$PP_TMP/run.out" ;;
also) pp_scan_also "$outside"
      printf '==7==%s: SEGV\n' "ERROR: Address""Sanitizer" >"$outside/m.log" ;;
esac
expect_eq 1 1 "a check that passes"
EOF
for kind in none asan ubsan lsan also; do
    rc=0
    out=$(KIND=$kind bash "$PP_TMP/scan.sh" 2>&1) || rc=$?
    case $kind in
    none) want=0 where='' ;;
    asan) want=1 where='/state/deep/x1\.log' ;;
    ubsan) want=1 where='/x\.err' ;;
    lsan) want=1 where='/run\.out' ;;
    also) want=1 where="${outside//./\\.}/m\\.log" ;;
    esac
    expect_eq "$rc" "$want" "exit code with a $kind report"
    if [ -n "$where" ]; then
        expect_match "$out" "FAIL: sanitizer report in [^ ]*$where" "the failure names the log ($kind)"
    fi
done
