#!/usr/bin/env bash
# The manager's status page (GET /) in a real browser: headless Debian
# Chromium through chromedriver and python3-selenium (status_page_test.py)
# against a real manager with the process runtime, 2 instances and the
# balancer in front of them (its per-instance latency is what the page's
# sparklines draw), all in a network namespace of this test's own (the
# balancer's VIP goes on that namespace's lo). The browser sees the 2
# instances, a plain 401 for a change without the token, the scale to 4
# through the page within 2 s, an instance killed with SIGKILL replaced,
# 32 instances in a compact table, no sideways overflow at 390 px, and a
# console without errors. Skips only where Chromium or its driver is absent.
# PP_STATUS_SHOTS=DIR keeps the screenshots there.
# timeout: 200
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

[ -x "$PP_BIN/manager" ] || pp_die "no $PP_BIN/manager (run make)"
[ -x "$PP_BIN/balancer" ] || pp_die "no $PP_BIN/balancer (run make)"
CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver
PYTHON=/usr/bin/python3 # Debian's, which has python3-selenium (not a pyenv one)
[ -x "$CHROMIUM" ] || pp_skip "no $CHROMIUM (apt-get install chromium)"
[ -x "$CHROMEDRIVER" ] || pp_skip "no $CHROMEDRIVER (apt-get install chromium-driver)"
"$PYTHON" -c 'import selenium' 2>/dev/null || pp_skip "no Selenium for $PYTHON (apt-get install python3-selenium)"
pp_need_root "a network namespace for the balancer's VIP"

status_ns=$(pp_netns status)
IN=(nsenter --net="/run/netns/$status_ns")
STATE=$PP_TMP/state
API_PORT=$(pp_free_port)
API=http://127.0.0.1:$API_PORT
BASE=$(pp_free_port)
ADMIN_PORT=$(pp_free_port)
VIP=198.19.255.10:3128
PREFIX=s$(($$ % 100000))

pp_bg manager "${IN[@]}" "$PP_BIN/manager" --runtime process --replicas 2 \
    --forwarding balancer --vip "$VIP" --balancer-admin "127.0.0.1:$ADMIN_PORT" \
    --api "127.0.0.1:$API_PORT" --base-port "$BASE" --state-dir "$STATE" --prefix "$PREFIX" \
    --drain-timeout 2s --proxy-arg=--cache-mem=16M
MANAGER_PID=$PP_LAST_PID
api() { "${IN[@]}" curl -sS --max-time 10 "$@"; }
pool_ready_is() {
    kill -0 "$MANAGER_PID" 2>/dev/null || pp_die "manager exited: $(tail -5 "$PP_TMP/manager.log")"
    [ "$(api "$API/v1/pool" 2>/dev/null | jq -r .ready 2>/dev/null)" = "$1" ]
}
pp_wait_until 30 pool_ready_is 2 || pp_die "2 instances not ready: $(tail -5 "$PP_TMP/manager.log")"

# The page and its files: the security headers on each.
for path in / /index.html /status.js /status.css /favicon.svg; do
    api -D "$PP_TMP/h" -o "$PP_TMP/body" "$API$path"
    expect_match "$(head -n 1 "$PP_TMP/h")" " 200 " "GET $path"
    expect_match "$(pp_header "$PP_TMP/h" content-security-policy)" "^default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';" "CSP of $path"
    expect_eq "$(pp_header "$PP_TMP/h" x-content-type-options)" nosniff "nosniff on $path"
    expect_eq "$(pp_header "$PP_TMP/h" cache-control)" no-cache "Cache-Control of $path"
done
expect_match "$(api -D - -o /dev/null "$API/")" "Content-Type: text/html" "the page's type"
cmp -s "$PP_TMP/body" "$PP_REPO/manager/status/favicon.svg" || pp_die "the served favicon.svg differs from the repo's"
api -o "$PP_TMP/body" "$API/"
cmp -s "$PP_TMP/body" "$PP_REPO/manager/status/status.html" || pp_die "the served page differs from manager/status/status.html"
expect_eq "$(api -o /dev/null -w '%{http_code}' -X PUT "$API/")" 405 "PUT / refused"

# Traffic through the balancer, so it measures each instance: proxyd refuses
# a loopback destination at once (403), which is a first byte all the same.
pp_bg traffic "${IN[@]}" bash -c "for i in \$(seq 1 2000); do
    curl -s -o /dev/null --max-time 2 -x http://$VIP http://127.0.0.1:9/; sleep 0.05; done"

mkdir -p "$PP_TMP/browser"
rc=0
timeout 170 "${IN[@]}" "$PYTHON" "$PP_REPO/tests/integration/status_page_test.py" \
    --url "$API" --token-file "$STATE/api.token" --out "$PP_TMP/browser" \
    --chromium "$CHROMIUM" --chromedriver "$CHROMEDRIVER" --replicas 2 --scale-to 4 --big 32 || rc=$?
if [ -n "${PP_STATUS_SHOTS:-}" ]; then
    mkdir -p "$PP_STATUS_SHOTS"
    cp "$PP_TMP/browser/"*.png "$PP_STATUS_SHOTS/" 2>/dev/null || true
fi
[ "$rc" -eq 0 ] || pp_die "the browser test failed (status $rc); chromedriver log: $(tail -n 5 "$PP_TMP/browser/chromedriver.log" 2>/dev/null)"

# What the browser did, as the manager logged it.
log=$(cat "$PP_TMP/manager.log")
expect_match "$log" "api: refused PUT /v1/pool from 127.0.0.1:[0-9]+: no Authorization header" "the tokenless scale refused"
expect_match "$log" "api: scaling to 4, asked by 127.0.0.1" "the scale to 4 from the page"
expect_match "$log" "api: scaling to 32, asked by 127.0.0.1" "the scale to 32 from the page"
expect_eq "$(api "$API/v1/pool" | jq -r '[.replicas, .ready, ([.instances[].restarts] | add)] | join(" ")')" "32 32 1" \
    "the pool after the browser: 32 ready, the one restart"
pp_log "PASS"
