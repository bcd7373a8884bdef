#!/usr/bin/env bash
# Local destinations, as Squid's to_localhost and
# to_linklocal: through proxyd, 127.0.0.0/8, ::1, 0.0.0.0/8, 169.254.0.0/16
# and proxyd's own listening and admin ports are refused with a one-line
# 403, judged on the address actually connected to (a name resolving to
# 127.0.0.1 too), for GET and CONNECT, in forward and intercept mode. The
# attack this closes: a client of an instance sends PUT /v1/pool to the root
# manager's API on 127.0.0.1 through the instance, and the pool scales.
# --allow-dest opens a network on purpose; a --reverse origin is the
# operator's choice and is reached without it.
# timeout: 120
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_need_root "a manager whose API the instance must not reach"
[ -x "$PP_BIN/manager" ] || pp_die "no $PP_BIN/manager (run make)"
pp_make_file "$PP_TMP/www/obj" 2048
pp_start_nginx_origin "$PP_TMP/www"
o=$PP_ORIGIN_URL

# expect_403 CODE WHAT: the last pp_curl_proxy was a 403 with one reason line.
expect_403() {
    expect_eq "$1" 403 "$2: status"
    expect_eq "$(wc -l <"$PP_TMP/last.body" | tr -d ' ')" 1 "$2: reason lines"
    expect_match "$(cat "$PP_TMP/last.body")" '^403 Forbidden: .{8,}$' "$2: reason"
}
# expect_connect_403 TARGET: CONNECT TARGET is refused with a reason line.
expect_connect_403() {
    pp_raw "$PP_PROXY" --quiet --timeout-ms 3000 --send "CONNECT $1 HTTP/1.1\r\nHost: $1\r\n\r\n"
    expect_eq "$(pp_raw_status)" 403 "CONNECT $1"
    expect_match "$(tr -d '\r' <"$PP_RAW_OUT" | tail -n 1)" '^403 Forbidden: .+' "CONNECT $1: reason"
}

# --- a proxyd with nothing opened (the product's default)
PP_PROXYD_ALLOW_ORIGIN=0 pp_start_proxyd --name deny --connect-port 1-65535
admin_port=$PP_ADMIN_PORT deny_proxy=$PP_PROXY
expect_403 "$(pp_curl_proxy "$o/obj")" "the origin on 127.0.0.1"
expect_403 "$(pp_curl_proxy "http://127.0.0.1:$admin_port/stats")" "proxyd's own admin port"
expect_403 "$(pp_curl_proxy "http://127.0.0.1:$PP_PROXY_PORT/obj")" "proxyd's own listening port"
expect_403 "$(pp_curl_proxy "http://localhost:$PP_ORIGIN_PORT/obj")" "localhost (resolves to 127.0.0.1)"
expect_403 "$(pp_curl_proxy "http://127.1.2.3:$PP_ORIGIN_PORT/obj")" "127.1.2.3"
expect_403 "$(pp_curl_proxy "http://[::1]:$PP_ORIGIN_PORT/obj")" "[::1]"
expect_403 "$(pp_curl_proxy "http://[::ffff:127.0.0.1]:$PP_ORIGIN_PORT/obj")" "[::ffff:127.0.0.1]"
expect_403 "$(pp_curl_proxy "http://0.0.0.0:$PP_ORIGIN_PORT/obj")" "0.0.0.0"
expect_403 "$(pp_curl_proxy http://169.254.169.254/latest/meta-data/)" "169.254.169.254 (cloud metadata)"
expect_403 "$(pp_curl_proxy "http://[fe80::1]:$PP_ORIGIN_PORT/obj")" "[fe80::1]"
for target in 127.0.0.1:443 "127.0.0.1:$PP_ORIGIN_PORT" "127.0.0.1:$admin_port" localhost:443 \
    169.254.169.254:443 "[::1]:443" 0.0.0.0:443; do
    expect_connect_403 "$target"
done
expect_eq "$(pp_origin_count /obj)" 0 "origin requests through the refusing proxyd"

# --- intercept mode, routed (Host names the origin): the same rule
ic_port=$(pp_free_port)
PP_PROXYD_ALLOW_ORIGIN=0 pp_start_proxyd --name deny-ic --intercept "127.0.0.1:$ic_port"
code=$(pp_curl -o "$PP_TMP/last.body" -w '%{http_code}' -H "Host: 127.0.0.1:$PP_ORIGIN_PORT" \
    "http://127.0.0.1:$ic_port/obj")
expect_403 "$code" "intercepted request with Host 127.0.0.1"

# --- --allow-dest opens the origin, and nothing more
pp_start_proxyd --name open --allow-dest 127.0.0.1/32
expect_eq "$(pp_curl_proxy "$o/obj")" 200 "the origin with --allow-dest 127.0.0.1/32"
expect_file_eq "$PP_TMP/last.body" "$PP_TMP/www/obj" "body with --allow-dest"
expect_403 "$(pp_curl_proxy "http://127.0.0.1:$PP_ADMIN_PORT/stats")" "own admin port despite --allow-dest"
expect_403 "$(pp_curl_proxy "http://127.0.0.2:$PP_ORIGIN_PORT/obj")" "127.0.0.2 (outside the opened /32)"
expect_403 "$(pp_curl_proxy http://169.254.169.254/)" "metadata despite --allow-dest 127.0.0.1/32"
pp_start_proxyd --name open-denied --allow-dest 127.0.0.0/8 --deny-dest 127.0.0.1
expect_403 "$(pp_curl_proxy "$o/obj")" "--deny-dest wins over --allow-dest"
expect_eq "$(pp_origin_count /obj)" 1 "origin requests (only the opened one)"

# --- reverse mode: the configured origin is the operator's choice
rev_port=$(pp_free_port)
PP_PROXYD_ALLOW_ORIGIN=0 pp_start_proxyd --name deny-rev \
    --reverse "127.0.0.1:$rev_port=http://127.0.0.1:$PP_ORIGIN_PORT"
code=$(pp_curl -o "$PP_TMP/got" -w '%{http_code}' "http://127.0.0.1:$rev_port/obj")
expect_eq "$code" 200 "reverse mode to its configured loopback origin"
expect_file_eq "$PP_TMP/got" "$PP_TMP/www/obj" "reverse mode body"

# --- the manager's API, through a standalone proxyd and through the
# manager's own instance
PREFIX=dl$$
PREFIX=${PREFIX:0:7}
API_PORT=$(pp_free_port)
BASE=$(pp_free_port)
API=http://127.0.0.1:$API_PORT
cleanup_prefix() {
    local d
    for d in $(find /sys/fs/cgroup -maxdepth 3 -type d -name "$PREFIX*" | sort -r); do
        xargs -r kill -KILL <"$d/cgroup.procs" 2>/dev/null || true
    done
    sleep 0.2
    find /sys/fs/cgroup -maxdepth 3 -depth -type d -name "$PREFIX*" -exec rmdir {} \; 2>/dev/null || true
}
pp_on_cleanup cleanup_prefix
pp_bg manager "$PP_BIN/manager" --runtime process --replicas 1 --api "127.0.0.1:$API_PORT" \
    --base-port "$BASE" --state-dir "$PP_TMP/state" --prefix "$PREFIX" --drain-timeout 2s \
    --proxy-arg=--cache-mem=16M
replicas() { curl -s --max-time 2 "$API/v1/pool" | jq -r .replicas 2>/dev/null; }
ready_is_1() { [ "$(curl -s --max-time 2 "$API/v1/pool" | jq -r .ready 2>/dev/null)" = 1 ]; }
pp_wait_until 30 ready_is_1 || pp_die "the manager's instance never became ready"
expect_eq "$(replicas)" 1 "replicas before"

put_through() { # PROXY: PUT /v1/pool {"replicas": 3} through PROXY; prints the status
    curl -sS --max-time 10 -x "http://$1" -X PUT -H 'Content-Type: application/json' \
        --data '{"replicas": 3}' -o "$PP_TMP/last.body" -w '%{http_code}' "$API/v1/pool"
}
expect_403 "$(put_through "$deny_proxy")" "PUT to the manager's API through a standalone proxyd"
expect_403 "$(put_through "127.0.0.1:$((BASE + 1))")" "PUT to the manager's API through its own instance"
pp_raw "127.0.0.1:$((BASE + 1))" --quiet --timeout-ms 3000 \
    --send "CONNECT 127.0.0.1:$API_PORT HTTP/1.1\r\nHost: 127.0.0.1:$API_PORT\r\n\r\n"
expect_eq "$(pp_raw_status)" 403 "CONNECT to the manager's API through its instance"
sleep 0.5 # a scale, had one started, shows in GET /v1/pool at once
expect_eq "$(replicas)" 1 "replicas after (the pool did not scale)"
expect_eq "$(curl -s --max-time 2 "$API/v1/pool" | jq '.instances | length')" 1 "instances after"

# --- a manager whose instances have the loopback origin opened
# (--proxy-arg=--allow-dest=127.0.0.1/32, as README's example): the origin is
# reached through its instance, the manager's API on the same address still
# is not (the manager passes --deny-dest API_ADDR:PORT, which wins).
kill -TERM "$PP_LAST_PID"
pp_wait_until 20 bash -c "! kill -0 $PP_LAST_PID 2>/dev/null" || pp_die "the first manager did not stop"
API_PORT=$(pp_free_port)
BASE=$(pp_free_port)
API=http://127.0.0.1:$API_PORT
pp_bg manager-open "$PP_BIN/manager" --runtime process --replicas 1 --api "127.0.0.1:$API_PORT" \
    --base-port "$BASE" --state-dir "$PP_TMP/state-open" --prefix "$PREFIX" --drain-timeout 2s \
    --proxy-arg=--cache-mem=16M --proxy-arg=--allow-dest=127.0.0.1/32
pp_wait_until 30 ready_is_1 || pp_die "the second manager's instance never became ready"
code=$(pp_curl -x "http://127.0.0.1:$((BASE + 1))" -o "$PP_TMP/got" -w '%{http_code}' "$o/obj")
expect_eq "$code" 200 "the opened loopback origin through the manager's instance"
expect_403 "$(put_through "127.0.0.1:$((BASE + 1))")" "PUT to the manager's API through an instance with 127.0.0.1/32 opened"
expect_match "$(cat "$PP_TMP/last.body")" "denied" "the reason"
sleep 0.5
expect_eq "$(replicas)" 1 "replicas after (the pool did not scale)"
