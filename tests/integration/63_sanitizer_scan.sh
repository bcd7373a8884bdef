#!/usr/bin/env bash
# A sanitizer report in the log of an instance the manager started fails the
# scenario, though every response looked right. A child scenario starts a
# manager (process runtime) whose one proxyd instance proxies a request to a
# real nginx; it passes every check it makes. Run with PP_TEST_HEAP_OVERFLOW=1
# in a build with the test hooks (make asan: -DPP_TEST_HOOKS), a forked copy
# of that proxyd overflows a heap buffer at start while the instance goes on
# serving: the child must then fail on lib.sh's log scan alone, naming the
# instance's log (STATE/<prefix>1.log) and the report. In a build without the
# hooks the variable must change nothing: the child passes. Either way the
# child without the variable passes (the control).
# timeout: 120
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

[ -x "$PP_BIN/manager" ] || pp_die "no $PP_BIN/manager (run make)"
[ -x "$PP_BIN/proxyd" ] || pp_die "no $PP_BIN/proxyd (run make)"
pp_need_tool nginx "make deps installs it"

# The hook's variable name is in proxyd only if the hook was compiled in;
# __asan_init only if AddressSanitizer was.
hooked=0 asan=0
if grep -qF PP_TEST_HEAP_OVERFLOW "$PP_BIN/proxyd"; then hooked=1; fi
if grep -qF __asan_init "$PP_BIN/proxyd"; then asan=1; fi
pp_log "build $PP_BUILD: test hooks $hooked, AddressSanitizer $asan"
if [ "$hooked" = 1 ] && [ "$asan" = 0 ]; then
    pp_die "proxyd has the test hooks but no AddressSanitizer: nothing would see the planted overflow"
fi

# The child: the manager with one instance, a request through it. Its own
# temp dir, under /tmp like any scenario's, is gone when it exits.
cat >"$PP_TMP/child.sh" <<'EOF'
. "$PP_REPO/tests/integration/lib.sh"
pp_make_file "$PP_TMP/www/obj" 4096
pp_start_nginx_origin "$PP_TMP/www"
PREFIX=s$$
PREFIX=${PREFIX:0:7}
API_PORT=$(pp_free_port)
BASE=$(pp_free_port)
pp_bg manager "$PP_BIN/manager" --runtime process --replicas 1 --api "127.0.0.1:$API_PORT" \
    --base-port "$BASE" --state-dir "$PP_TMP/state" --prefix "$PREFIX" --drain-timeout 2s \
    --proxy-arg=--cache-mem=16M --proxy-arg=--allow-dest=127.0.0.1/32
ready() { [ "$(curl -s --max-time 2 "http://127.0.0.1:$API_PORT/v1/pool" | jq -r .ready 2>/dev/null)" = 1 ]; }
pp_wait_until 30 ready || pp_die "the instance never became ready"
code=$(pp_curl -x "http://127.0.0.1:$((BASE + 1))" -o "$PP_TMP/got" -D "$PP_TMP/h" -w '%{http_code}' \
    "$PP_ORIGIN_URL/obj")
expect_eq "$code" 200 "request through ${PREFIX}1"
expect_file_eq "$PP_TMP/got" "$PP_TMP/www/obj" "body through ${PREFIX}1"
expect_match "$(pp_header "$PP_TMP/h" x-cache)" "MISS from ${PREFIX}1\$" "X-Cache"
echo "instance log: $PP_TMP/state/${PREFIX}1.log"
EOF

# run_child [VAR=VALUE...]: runs the child, its output in CHILD_OUT (a
# variable, not a file: a report in a file under $PP_TMP would fail this
# scenario's own scan), its exit status in CHILD_RC.
run_child() {
    CHILD_RC=0
    CHILD_OUT=$(env "$@" PP_REPO="$PP_REPO" PP_BUILD="$PP_BUILD" bash "$PP_TMP/child.sh" 2>&1) ||
        CHILD_RC=$?
}

# --- the control: without the variable the child passes
run_child PP_TEST_HEAP_OVERFLOW=
expect_eq "$CHILD_RC" 0 "exit status of the child without PP_TEST_HEAP_OVERFLOW"
expect_no_match "$CHILD_OUT" 'sanitizer report' "the child's output without the variable"

# --- with it
run_child PP_TEST_HEAP_OVERFLOW=1
expect_match "$CHILD_OUT" 'ok: request through s[0-9]+1 = .200.' "the child's request was answered"
expect_match "$CHILD_OUT" 'ok: body through s[0-9]+1 identical' "the child's body was right"
ilog=$(sed -n 's/^instance log: //p' <<<"$CHILD_OUT")
expect_match "$ilog" '/state/s[0-9]+1\.log$' "the child's instance log"
if [ "$hooked" = 1 ]; then
    expect_eq "$CHILD_RC" 1 "exit status of the child whose instance overflowed"
    expect_match "$CHILD_OUT" "FAIL: sanitizer report in ${ilog//./\\.}[[:space:]]" "the failure names the instance's log"
    expect_match "$CHILD_OUT" 'heap-buffer-overflow' "the report is printed"
    expect_match "$CHILD_OUT" 'testhook_heap_overflow' "the report's stack names the planted overflow"
    # Only the scan failed it: every check before cleanup passed.
    expect_eq "$(grep -c '\] FAIL: ' <<<"$CHILD_OUT")" 2 "FAIL lines (the log, then the count)"
    expect_match "$CHILD_OUT" 'FAIL: sanitizer reports in 1 log' "one log with a report"
else
    expect_eq "$CHILD_RC" 0 "exit status of the child: the variable does nothing without the hooks"
    expect_no_match "$CHILD_OUT" 'sanitizer report|PP_TEST_HEAP_OVERFLOW' "the child's output with the variable"
fi
pp_log "PASS"
