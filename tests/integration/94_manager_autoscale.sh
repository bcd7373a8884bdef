#!/usr/bin/env bash
# The autoscaler on the balancer's latency, in a test network namespace
# (container runtime, --forwarding balancer, --autoscale 1..8
# --autoscale-target p99=...). Latency depends on the replica count because
# each instance is throttled to a sliver of a CPU (--cpus 0.02: 2 ms of CPU
# every 100 ms CFS period): one instance serves about a hundred cache hits a
# second under the 50 ms target; past that its requests wait whole CFS
# periods and p99 climbs to 100 ms and beyond, while N instances serve N
# times as many. Every
# request is a hit on one small object (the origin is asked once), so the
# latency is the instances' own, not the origin's; loadgen sends one
# connection per request (--no-keepalive) so the balancer spreads new
# instances' share at once (it picks per connection).
# Open-loop load steps up: after each step the pool grows within 4 s (its
# up window, a sample, a start) and p99 comes back under target; the load
# drops to nothing and the pool
# shrinks back to 1 after the (shortened) down window, with no failed
# request; a steady load changes nothing. Also: PUT /v1/pool while on is
# 409 naming how to turn it off; bad PUT /v1/autoscale values are 400
# naming the field; off, a manual scale works again.
# timeout: 240
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_need_root "namespaces, cgroups"
pp_need_tool jq
[ -x "$PP_BIN/manager" ] || pp_die "no $PP_BIN/manager (run make)"
[ -x "$PP_BIN/balancer" ] || pp_die "no $PP_BIN/balancer (run make)"
PREFIX=a$$
PREFIX=${PREFIX:0:7}
# A sanitizer build of proxyd spends about three times the CPU per request:
# it gets three times the quota, so the pool needs the same replica counts.
proxyd_sanitized() {
    case "$(ldd "$PP_BIN/proxyd" 2>/dev/null)" in *libasan*) return 0 ;; esac
    case "$(nm "$PP_BIN/proxyd" 2>/dev/null)" in *__asan_init*) return 0 ;; esac
    return 1
}
CPUS=${AUTOSCALE_CPUS:-0.02}
[ -n "${AUTOSCALE_CPUS:-}" ] || ! proxyd_sanitized || CPUS=0.06
# And its memory: under ASan the 64M group's OOM killer took instance 1
# (no log line, restarted a second later, 80 requests refused meanwhile).
MEMORY=64M
! proxyd_sanitized || MEMORY=256M
TARGET_MS=${AUTOSCALE_TARGET_MS:-50}
DOWN_WINDOW_S=8
VIP=198.19.255.10

tns=$(pp_netns mgr)
IN=(nsenter --net="/run/netns/$tns") # not `ip netns exec`: it hides the cgroups
ip -n "$tns" addr add 198.19.1.2/32 dev lo
pp_make_file "$PP_TMP/www/obj" 2048
odir=$PP_TMP/nginx-ns
mkdir -p "$odir/tmp"
cat >"$odir/nginx.conf" <<NGINX
daemon off; master_process off; worker_processes 1; user root;
pid $odir/nginx.pid; error_log $odir/error.log;
events { worker_connections 256; }
http {
    access_log $odir/access.log;
    client_body_temp_path $odir/tmp; proxy_temp_path $odir/tmp; fastcgi_temp_path $odir/tmp;
    uwsgi_temp_path $odir/tmp; scgi_temp_path $odir/tmp;
    server { listen 198.19.1.2:80; root $PP_TMP/www;
             location / { add_header Cache-Control "max-age=3600"; } }
}
NGINX
pp_bg nginx-ns "${IN[@]}" nginx -c "$odir/nginx.conf"
cleanup_prefix() { # what a failed run may leave: processes by cgroup, then the groups
    local d
    for d in $(find /sys/fs/cgroup -maxdepth 3 -type d -name "$PREFIX*" | sort -r); do
        xargs -r kill -KILL <"$d/cgroup.procs" 2>/dev/null || true
    done
    sleep 0.2
    find /sys/fs/cgroup -maxdepth 3 -depth -type d -name "$PREFIX*" -exec rmdir {} \; 2>/dev/null || true
}
pp_on_cleanup cleanup_prefix

STATE=$PP_TMP/state
API_PORT=$(pp_free_port)
API=http://127.0.0.1:$API_PORT
ADMIN_PORT=$(pp_free_port)
pp_bg manager "${IN[@]}" "$PP_BIN/manager" --runtime container --replicas 1 \
    --api "127.0.0.1:$API_PORT" --state-dir "$STATE" --prefix "$PREFIX" \
    --subnet 198.19.0.0/24 --bridge "${PREFIX}br" --cpus "$CPUS" --memory "$MEMORY" \
    --forwarding balancer --vip "$VIP:3128" --balancer-admin "127.0.0.1:$ADMIN_PORT" \
    --drain-timeout 5s --proxy-arg=--cache-mem=16M \
    --autoscale 1..8 --autoscale-target "p99=${TARGET_MS}ms" --autoscale-up-window 2s \
    --autoscale-down-window "${DOWN_WINDOW_S}s" --autoscale-cooldown 1s --autoscale-max-step 4
MANAGER_PID=$PP_LAST_PID
api() { "${IN[@]}" curl -sS --max-time 20 "$@"; }
ready_is() { [ "$(api "$API/v1/pool" 2>/dev/null | jq -r .ready)" = "$1" ]; }
pp_wait_until 20 ready_is 1 || pp_die "manager not ready: $(tail -5 "$PP_TMP/manager.log")"
desired() { api "$API/v1/autoscale" | jq -r .desired; }
replicas() { api "$API/v1/pool" | jq -r .ready; }
HDR=$(pp_api_headers "$STATE/api.token")
put() { # put PATH BODY: prints the status, the body in $PP_TMP/put.json
    api -X PUT -H "@$HDR" --data-binary "$2" -o "$PP_TMP/put.json" -w '%{http_code}' "$API$1"
}

# The document the status page reads.
doc=$(api "$API/v1/autoscale")
expect_eq "$(jq -c '[.enabled, .min, .max, .target, .up_window_s, .down_window_s, .tolerance, .max_step, .cooldown_s, .decisions]' <<<"$doc")" \
    "[true,1,8,{\"metric\":\"p99\",\"value\":$(awk -v t="$TARGET_MS" 'BEGIN { print t / 1000 }'),\"unit\":\"s\"},2,$DOWN_WINDOW_S,0.1,4,1,[]]" \
    "GET /v1/autoscale at the start"
expect_eq "$(jq -r .measure <<<"$doc")" null "measure with no traffic"

# Refusals: a manual scale while on, and bad settings, each naming what.
expect_eq "$(put /v1/pool '{"replicas": 3}')" 409 "PUT /v1/pool while autoscaling"
expect_match "$(jq -r .error "$PP_TMP/put.json")" "ppctl autoscale off" "the 409 says how to turn it off"
for bad in '{"min": 0}|min must be' '{"min": 9}|must not be above max' \
    '{"target": "p99=fast"}|target must be p99=DURATION' '{"tolerance": 2}|tolerance must be' \
    '{"max_step": 0}|max_step must be' '{"down_window_s": 0.5}|down_window_s must be' \
    '{"speed": 1}|unknown field "speed"'; do
    expect_eq "$(put /v1/autoscale "${bad%%|*}")" 400 "PUT /v1/autoscale ${bad%%|*}"
    expect_match "$(jq -r .error "$PP_TMP/put.json")" "${bad#*|}" "the 400 for ${bad%%|*}"
done
expect_eq "$(api "$API/v1/autoscale" | jq -c '[.enabled, .min, .max]')" "[true,1,8]" "settings after the refusals"
expect_eq "$(api -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
    --data-binary '{"enabled": false}' "$API/v1/autoscale")" 401 "PUT /v1/autoscale without the token"

# load RATE SECONDS NAME: an open-loop phase in the background through the VIP.
load() {
    pp_bg "load-$3" "${IN[@]}" "$PP_BIN/loadgen" "http://198.19.1.2/obj" --proxy "$VIP:3128" \
        --no-keepalive --rate "$1" --duration "$2" -c 400 --timeout 10s \
        --json "$PP_TMP/load-$3.json" --csv "$PP_TMP/load-$3.csv"
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# From the first window measure over the band to a ready replica: the
# decision at that sample, an instance's start (0.27-0.41 s in CI runs) and
# this loop's polls. Counted from the step instead, CI runs missed 3 s and
# then 4 s: the window's p99 itself took up to 3.7 s to rise.
GROW_MS=4000
desired_above() { [ "$(replicas)" -gt "$1" ]; }
metric() { api "$API/metrics" | awk -v m="$1" '$1 == m { v = $2 } END { print v + 0 }'; }

# Warm the cache with one request, then step up.
"${IN[@]}" curl -sS -o /dev/null --max-time 10 -x "http://$VIP:3128" http://198.19.1.2/obj ||
    pp_die "the pool does not serve through the VIP"
# The phases run back to back (the next starts as the last ends): a gap
# would be a drop of load, and a drop is what lets a pool shrink.
STEPS=${AUTOSCALE_STEPS:-30 150 300}
STEP_S=12
loadgen_done() { ! kill -0 "$1" 2>/dev/null; }
# p99_of CSV FROM_S TO_S: p99 (ms) of the requests sent from FROM_S to TO_S
# seconds into the run (loadgen times from each request's intended send).
p99_of() {
    local t0_us
    t0_us=$(sed -n 2p "$1" | cut -d, -f1)
    awk -F, -v a=$((t0_us + $2 * 1000000)) -v b=$((t0_us + $3 * 1000000)) \
        'NR > 1 && $1 >= a && $1 < b { print $10 }' "$1" | sort -n |
        awk '{ v[NR] = $1 } END { i = int(NR * 0.99); if (i < 1) i = 1; print int(v[i] / 1000) }'
}
# check_step RATE: its loadgen's errors, and whether p99 came back under
# target: the p99 of each of its last 6 seconds, at least half of them under
# target within the autoscaler's own tolerance band (10%: inside it the pool
# holds by design). Half, not all: a CPU of this shared machine taken by
# something else for a moment stalls throttled instances whatever their
# number.
check_step() {
    local sec p under=0 seconds=""
    for sec in $(seq $((STEP_S - 6)) $((STEP_S - 1))); do
        p=$(p99_of "$PP_TMP/load-$1.csv" "$sec" $((sec + 1)))
        seconds="$seconds $p"
        [ "$p" -gt $((TARGET_MS * 11 / 10)) ] || under=$((under + 1))
    done
    echo "# $1 req/s: p99 (ms) of each of its last 6 s:$seconds; $(jq -c '{requests, errors: .errors.total, p99: .latency_ms.p99}' "$PP_TMP/load-$1.json")"
    expect_eq "$(jq -r .errors.total "$PP_TMP/load-$1.json")" 0 "failed requests at $1 req/s"
    expect_ge "$under" 3 "seconds of the last 6 at $1 req/s with p99 under target"
}
prev=1 last=""
for step in $STEPS; do
    if [ -n "$last" ]; then
        pp_wait_until $((STEP_S + 10)) loadgen_done "$LOAD_PID" || pp_die "loadgen at $last req/s did not end"
        prev=$(replicas)
    fi
    t0=$(now_ms)
    load "$step" "$STEP_S" "$step"
    LOAD_PID=$PP_LAST_PID
    if [ -n "$last" ]; then
        # The rule's promise: a window measure of p99 over target beyond the
        # tolerance brings a replica at that sample. The window's p99 rises
        # some time after the step (slow requests must fill it), and whether
        # a step overloads one throttled instance at all depends on this
        # shared host's speed at that moment (150 req/s gave p99 87 ms in
        # one CI run, 28 ms in the next). So a step from one replica is
        # judged from the moment the autoscaler's own measure (polled here)
        # first goes over the band: a replica within GROW_MS of it. A pool
        # the last step grew may serve the next one under target (its p99
        # is checked all the same, and the highest step must grow it).
        rose=0 peak=0 over_at=""
        while [ $(($(now_ms) - t0)) -lt $(((STEP_S - 1) * 1000)) ]; do
            if desired_above "$prev"; then
                rose=1
                break
            fi
            peak=$(api "$API/v1/autoscale" | jq -r --argjson p "$peak" '[.measure // 0, $p] | max')
            if [ -z "$over_at" ] && jq -en --argjson m "$peak" --argjson t "$TARGET_MS" '$m * 1000 > $t * 1.1' >/dev/null; then
                over_at=$(now_ms)
            fi
            [ -z "$over_at" ] || [ $(($(now_ms) - over_at)) -lt "$GROW_MS" ] || break
            sleep 0.1
        done
        echo "# step $last -> $step req/s: $(replicas) replicas $(($(now_ms) - t0)) ms after it (from $prev; measured p99 up to $peak s${over_at:+, over the band $((over_at - t0)) ms after the step})"
        if [ "$prev" = 1 ] && [ "$rose" = 0 ]; then
            if [ -n "$over_at" ]; then
                expect_eq "$rose" 1 "a replica more within $GROW_MS ms of the measure going over target at $step req/s from 1 (p99 up to $peak s)"
            else
                pp_log "the step to $step req/s did not take one instance over target (p99 up to $peak s): nothing to scale yet"
            fi
        fi
        check_step "$last"
    fi
    last=$step
done
pp_wait_until $((STEP_S + 10)) loadgen_done "$LOAD_PID" || pp_die "loadgen at $last req/s did not end"
# Steady: the last rate again, at once, for a while: no change of direction.
decisions0=$(api "$API/v1/autoscale" | jq '.decisions | length')
load "$last" 10 steady
STEADY_PID=$PP_LAST_PID
prev=$(replicas)
check_step "$last"
expect_ge "$prev" 2 "replicas under the highest load"
ups=$(metric 'manager_autoscale_decisions_total{direction="up"}')
expect_ge "$ups" 1 "scale-ups counted"

pp_wait_until 20 loadgen_done "$STEADY_PID" || pp_die "steady loadgen did not end"
expect_eq "$(jq -r .errors.total "$PP_TMP/load-steady.json")" 0 "failed requests in the steady phase"
seq=$(api "$API/v1/autoscale" | jq -r --argjson n "$decisions0" '[.decisions[: (.decisions | length) - $n][] | if .to > .from then "up" else "down" end] | reverse | join(",")')
# A pool the ramp grew past what the steady rate needs may shrink to fit it
# (on a quiet machine it does). The goal is no change of direction at all;
# with instances at 2% of a CPU, another job on this host stalls them and
# one correction (down then up) has been seen, so the bound asserted is no
# oscillation: at most one change of direction, printed either way.
echo "# decisions during steady load, oldest first: ${seq:-none}"
changes=$(awk -F, '{ n = 0; for (i = 2; i <= NF; i++) if ($i != $(i - 1)) n++; print n }' <<<"${seq:-none}")
expect_le "$changes" 1 "changes of direction during steady load (decisions: ${seq:-none})"

# The load drops to a trickle: back to 1 after the down windows, the
# drains under traffic failing no request. Each scale-down moves at most
# max_step (4) and needs a whole down window under target after the last
# change: from 7 replicas that is two windows (a CI run went 7 -> 3 and was
# still at 3 when one window and 12 s were up), plus the drains.
now=$(replicas)
DOWNS=$(((now - 1 + 3) / 4))
[ "$DOWNS" -ge 1 ] || DOWNS=1
SHRINK_S=$((DOWNS * (DOWN_WINDOW_S + 2) + 10))
LOW_S=$((SHRINK_S + 2))
t0=$(now_ms)
load 20 "$LOW_S" low
LOW_PID=$PP_LAST_PID
at_one() { [ "$(replicas)" = 1 ] && [ "$(api "$API/v1/pool" | jq '.instances | length')" = 1 ]; }
pp_wait_until "$SHRINK_S" at_one || pp_die "the pool did not shrink from $now to 1 in $SHRINK_S s: $(api "$API/v1/autoscale")"
waited=$(($(now_ms) - t0))
echo "# back to 1 replica $waited ms after the load dropped"
# The down window looks back: on a quiet machine the steady phase's last
# seconds already wanted fewer, so the shrink may come sooner after the drop
# than the window's length. What the window forbids is a scale-down sooner
# than that after the last scale-up (decisions are stamped to the second).
gap=$(api "$API/v1/autoscale" | jq '.decisions as $d | ($d | map(.to > .from) | index(true)) as $u
    | ($d[:$u] | map(select(.to < .from)) | last) as $dn | ($dn.at | fromdate) - ($d[$u].at | fromdate)')
echo "# first scale-down ${gap} s after the last scale-up"
expect_ge "$gap" $((DOWN_WINDOW_S - 1)) "s from the last scale-up to the first scale-down (the down window is ${DOWN_WINDOW_S}s)"
expect_match "$(api "$API/v1/autoscale" | jq -r '.decisions[0].reason')" "< target 0.[0-9]+ s for the whole ${DOWN_WINDOW_S} s window" "the last decision's reason"
expect_ge "$(metric 'manager_autoscale_decisions_total{direction="down"}')" 1 "scale-downs counted"
pp_wait_until $((LOW_S + 10)) bash -c "! kill -0 $LOW_PID 2>/dev/null" || pp_die "the low loadgen did not end"
expect_eq "$(jq -r .errors.total "$PP_TMP/load-low.json")" 0 "failed requests while the pool shrank"
expect_ge "$(jq -r .requests "$PP_TMP/load-low.json")" $((LOW_S * 20 * 9 / 10)) "requests served while the pool shrank"
expect_match "$(cat "$PP_TMP/manager.log")" "autoscale: 1 -> [2-8] replicas: p99 [0-9.]+ s > target" "the decision is logged with its figures"
expect_match "$(api "$API/metrics")" "manager_autoscale_target\{metric=\"p99\"\} " "the target in /metrics"

# Off: a manual scale works again.
expect_eq "$(put /v1/autoscale '{"enabled": false}')" 200 "PUT /v1/autoscale off"
expect_eq "$(jq -r .enabled "$PP_TMP/put.json")" false "enabled after off"
expect_eq "$(metric manager_autoscale_enabled)" 0 "manager_autoscale_enabled after off"
expect_eq "$(put /v1/pool '{"replicas": 2}')" 200 "PUT /v1/pool with autoscaling off"

kill -TERM "$MANAGER_PID"
pp_wait_until 30 bash -c "! kill -0 $MANAGER_PID 2>/dev/null" || pp_die "manager did not exit"
