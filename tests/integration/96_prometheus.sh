#!/usr/bin/env bash
# Debian's Prometheus against a running pool, with deploy/prometheus as
# shipped (only its intervals shortened): in a network namespace of its own,
# a manager with the process runtime, 2 proxyd instances, balancer
# forwarding and the autoscaler on, on its default addresses (API 127.0.0.1:9090, balancer admin
# 127.0.0.1:9101), and Prometheus on 127.0.0.1:9091. promtool accepts the
# configuration and the rules; Prometheus finds every daemon through the
# manager's GET /v1/prometheus/targets and scrapes each (up); after traffic
# through the VIP, every query of the Grafana dashboard returns data, every alert rule is
# loaded and evaluates with health "ok", and none fires on the healthy pool.
# Then, with the manager stopped (SIGSTOP, so it cannot restart it at once),
# an instance killed with -9 becomes a target that is down and the
# ProxypoolTargetDown alert goes pending; once the manager runs again it
# restarts the instance, the target is up again and the restart is counted.
# timeout: 240
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_need_root "a network namespace for the pool's default addresses"
pp_need_tool prometheus "make deps installs it"
pp_need_tool promtool "make deps installs it (package prometheus)"
[ -x "$PP_BIN/manager" ] || pp_die "no $PP_BIN/manager (run make)"
SHIPPED=$PP_REPO/deploy/prometheus
DASHBOARD=$SHIPPED/grafana/proxypool.json

pool_ns=$(pp_netns prom)
IN=(nsenter --net="/run/netns/$pool_ns")
pp_curl() { "${IN[@]}" curl -sS --max-time "$PP_CURL_MAX_TIME" "$@"; }

# The origin, inside the namespace.
pp_make_file "$PP_TMP/www/obj" 4096
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
    server { listen 127.0.0.1:8080; root $PP_TMP/www;
             location / { add_header Cache-Control "max-age=3600"; } }
}
NGINX
pp_bg nginx-ns "${IN[@]}" nginx -c "$odir/nginx.conf"
ORIGIN=http://127.0.0.1:8080
VIP=198.19.255.10:3128

API=http://127.0.0.1:9090
# The autoscaler on, between 2 and 3 (a pool at ease stays at 2, under its
# maximum), so that its target and measure are exported: with a manager that
# has no autoscaler, its dashboard queries are only checked to be valid.
AUTOSCALE=()
# (the help read whole first: grep -q quitting early would make --help die
# of SIGPIPE, and pipefail call the feature absent)
manager_help=$("$PP_BIN/manager" --help)
if [[ "$manager_help" == *"--autoscale "* ]]; then
    AUTOSCALE=(--autoscale 2..3 --autoscale-target p99=200ms)
fi
pp_bg manager "${IN[@]}" "$PP_BIN/manager" --replicas 2 --forwarding balancer \
    --state-dir "$PP_TMP/state" --prefix "pq$(($$ % 10000))" --drain-timeout 2s \
    --proxy-arg=--cache-mem=16M --proxy-arg=--allow-dest=127.0.0.1/32 \
    "${AUTOSCALE[@]}"
MANAGER_PID=$PP_LAST_PID
# A manager left stopped would ignore the cleanup's SIGTERM: it runs first.
pp_on_cleanup "kill -CONT $MANAGER_PID 2>/dev/null || true"
pool_ready_2() {
    pp_alive "$MANAGER_PID" || pp_die "manager exited: $(tail -5 "$PP_TMP/manager.log")"
    [ "$(pp_curl "$API/v1/pool" 2>/dev/null | jq -r .ready)" = 2 ]
}
pp_wait_until 30 pool_ready_2 || pp_die "the pool never had 2 ready instances"

# What the manager hands Prometheus: both instances and the balancer.
sd=$(pp_curl "$API/v1/prometheus/targets")
expect_eq "$(jq -r '[.[] | select(.labels.__meta_proxypool_role == "proxyd") | .labels.__meta_proxypool_instance] | length' <<<"$sd")" 2 "proxyd targets listed"
expect_eq "$(jq -r '.[] | select(.labels.__meta_proxypool_role == "balancer") | .targets[0]' <<<"$sd")" 127.0.0.1:9101 "balancer target listed"
expect_eq "$(jq -r '[.[] | select(.labels.__meta_proxypool_role == "proxyd") | .targets[0]] | sort | join(" ")' <<<"$sd")" \
    "$(pp_curl "$API/v1/pool" | jq -r '[.instances[].admin] | sort | join(" ")')" "proxyd targets are the instances' admin addresses"

# The shipped configuration, with intervals a test can wait for.
PROM=$PP_TMP/prometheus
mkdir -p "$PROM/data"
cp "$SHIPPED/alerts.yml" "$PROM/alerts.yml"
sed -e 's/scrape_interval: 15s/scrape_interval: 1s/' -e 's/evaluation_interval: 15s/evaluation_interval: 1s/' \
    -e 's/refresh_interval: 5s/refresh_interval: 1s/' "$SHIPPED/prometheus.yml" >"$PROM/prometheus.yml"
expect_eq "$(grep -cE '(scrape|evaluation|refresh)_interval: 1s' "$PROM/prometheus.yml")" 4 "intervals shortened"
for f in "$SHIPPED/prometheus.yml" "$PROM/prometheus.yml"; do
    promtool check config "$f" >"$PP_TMP/promtool.out" 2>&1 || pp_die "promtool check config $f: $(cat "$PP_TMP/promtool.out")"
done
promtool check rules "$SHIPPED/alerts.yml" >"$PP_TMP/promtool.out" 2>&1 || pp_die "promtool check rules: $(cat "$PP_TMP/promtool.out")"
expect_match "$(cat "$PP_TMP/promtool.out")" "SUCCESS: 5 rules found" "promtool check rules"

pp_bg prometheus "${IN[@]}" prometheus --config.file="$PROM/prometheus.yml" \
    --storage.tsdb.path="$PROM/data" --web.listen-address=127.0.0.1:9091 --log.level=warn
PROM_PID=$PP_LAST_PID
P=http://127.0.0.1:9091
prom_ready() {
    pp_alive "$PROM_PID" || pp_die "prometheus exited: $(tail -5 "$PP_TMP/prometheus.log")"
    [ "$(pp_curl -o /dev/null -w '%{http_code}' "$P/-/ready" 2>/dev/null)" = 200 ]
}
pp_wait_until 30 prom_ready || pp_die "prometheus not ready: $(tail -5 "$PP_TMP/prometheus.log")"

# Every target found and up: the manager, two instances, the balancer.
targets() { pp_curl "$P/api/v1/targets?state=active"; }
all_up() {
    [ "$(targets | jq -r '[.data.activeTargets[] | select(.health == "up") | "\(.labels.job)/\(.labels.instance)"] | sort | join(" ")')" = "$1" ]
}
want="proxypool-balancer/127.0.0.1:9101 proxypool-manager/127.0.0.1:9090 proxypool-proxyd/$(pp_curl "$API/v1/pool" | jq -r '[.instances[].name] | sort | join(" proxypool-proxyd/")')"
pp_wait_until 30 all_up "$want" || pp_die "targets not all up: $(targets | jq -c '[.data.activeTargets[] | {job: .labels.job, instance: .labels.instance, health, lastError}]')"
expect_eq "$(targets | jq -r '.data.activeTargets | length')" 4 "active targets"

# Traffic through the VIP: misses, then hits, through the balancer.
for i in $(seq 1 30); do
    code=$(pp_curl -x "http://$VIP" -o /dev/null -w '%{http_code}' "$ORIGIN/obj")
    [ "$code" = 200 ] || pp_die "request $i through the VIP: $code"
done

# Both instances proxy (30 requests, 2 misses at most) and Prometheus
# counts what they count.
# query EXPR: the answer's result array (dies unless Prometheus accepted it).
query() {
    local out
    out=$(pp_curl -G --data-urlencode "query=$1" "$P/api/v1/query")
    [ "$(jq -r .status <<<"$out")" = success ] || pp_die "query failed: $1: $out"
    jq -c .data.result <<<"$out"
}
has_data() { [ "$(query "$1" | jq length)" -gt 0 ]; }
counted() { [ "$(query "$1" | jq -r '.[0].value[1] // empty')" = "$2" ]; }
pp_wait_until 20 counted 'sum(proxyd_requests_total{job="proxypool-proxyd",code="200"})' 30 ||
    pp_die "Prometheus did not count the 30 requests: $(query 'proxyd_requests_total')"
pp_log "ok: Prometheus counted the 30 requests"
expect_ge "$(query 'sum(proxyd_cache_hits_total)' | jq -r '.[0].value[1]')" 28 "hits Prometheus counted"

# A trickle through the VIP while the dashboard is checked: the autoscaler
# exports its measure only while requests come (bounded: 60 s at most).
pp_bg trickle "${IN[@]}" bash -c "for i in \$(seq 1 600); do curl -s -o /dev/null --max-time 2 -x http://$VIP $ORIGIN/obj; sleep 0.1; done"
TRICKLE_PID=$PP_LAST_PID

# Each dashboard query, with Grafana's rate interval as a literal.
autoscale=0
if pp_curl "$API/metrics" | grep -q '^manager_autoscale_enabled'; then autoscale=1; fi
nq=0
while IFS= read -r expr; do
    expr=${expr//\$__rate_interval/1m}
    nq=$((nq + 1))
    if [[ "$expr" == *manager_autoscale_* ]] && [ "$autoscale" = 0 ]; then
        query "$expr" >/dev/null
        pp_log "ok: valid (this manager has no autoscaler metrics): $expr"
        continue
    fi
    pp_wait_until 30 has_data "$expr" || pp_die "no data for the dashboard query: $expr"
    pp_log "ok: data for $expr"
done < <(jq -r '.panels[].targets[].expr' "$DASHBOARD")
expect_ge "$nq" 15 "dashboard queries checked"
kill "$TRICKLE_PID" 2>/dev/null || true
wait "$TRICKLE_PID" 2>/dev/null || true

# Every rule loaded and evaluated.
rules() { pp_curl "$P/api/v1/rules"; }
evaluated() { [ "$(rules | jq -r '[.data.groups[].rules[] | select(.health == "ok" and .lastEvaluation > "2000")] | length')" = "$1" ]; }
nrules=$(grep -c -- '- alert:' "$SHIPPED/alerts.yml")
expect_eq "$(rules | jq -r '[.data.groups[] | select(.name == "proxypool") | .rules[]] | length')" "$nrules" "rules loaded"
pp_wait_until 20 evaluated "$nrules" || pp_die "rules not all evaluated with health ok: $(rules | jq -c '[.data.groups[].rules[] | {name, health, lastError}]')"
while IFS= read -r expr; do
    query "$expr" >/dev/null
done < <(rules | jq -r '.data.groups[].rules[].query')
pp_log "ok: each alert expression evaluates"
expect_eq "$(pp_curl "$P/api/v1/alerts" | jq -r '[.data.alerts[] | .labels.alertname] | join(" ")')" "" "alerts on the healthy pool"

# An instance killed while the manager cannot restart it: a target down.
victim=$(pp_curl "$API/v1/pool" | jq -r '.instances[1].name')
vpid=$(pp_curl "$API/v1/pool" | jq -r '.instances[1].pid')
kill -STOP "$MANAGER_PID"
kill -KILL "$vpid"
pp_log "manager stopped, $victim (pid $vpid) killed"
down_expr=$(rules | jq -r '.data.groups[].rules[] | select(.name == "ProxypoolTargetDown") | .query')
victim_down() { query "$down_expr" | jq -e --arg v "$victim" 'any(.[]; .metric.instance == $v)' >/dev/null; }
pp_wait_until 20 victim_down || pp_die "$victim not down in Prometheus"
pp_log "ok: ProxypoolTargetDown's expression is true for $victim"
alert_pending() {
    pp_curl "$P/api/v1/alerts" | jq -e --arg v "$victim" \
        'any(.data.alerts[]; .labels.alertname == "ProxypoolTargetDown" and .labels.instance == $v and (.state == "pending" or .state == "firing"))' >/dev/null
}
pp_wait_until 10 alert_pending || pp_die "ProxypoolTargetDown not pending: $(pp_curl "$P/api/v1/alerts")"
pp_log "ok: ProxypoolTargetDown pending for $victim"

kill -CONT "$MANAGER_PID"
pp_wait_until 30 pool_ready_2 || pp_die "$victim not restarted"
pp_wait_until 30 all_up "$want" || pp_die "$victim not up again in Prometheus"
restarted() { has_data 'increase(manager_restarts_total[15m]) > 0'; }
pp_wait_until 20 restarted || pp_die "the restart not seen by Prometheus"
pp_log "ok: $victim restarted, up again, the restart counted"
