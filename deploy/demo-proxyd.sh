#!/bin/bash
# The demo: a real nginx origin on loopback serving a 1024 KB object (the
# paper's), proxyd in front of it, and two requests through the proxy as a
# browser or JMeter with a proxy set sends them: the first is a MISS fetched
# from the origin, the second a HIT from proxyd's memory cache. Then proxyd's
# own counters. Everything runs on 127.0.0.1 and is removed on exit.
set -euo pipefail
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy

REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=${PP_BUILD:-$REPO/build}/bin
TMP=$(mktemp -d /tmp/proxypool-demo.XXXXXX)
chmod 755 "$TMP"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 20000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
    done
    echo "demo: no free port" >&2; exit 1
}
wait_port() {
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "demo: nothing listens on 127.0.0.1:$1; logs in $TMP" >&2; exit 1
}

ORIGIN_PORT=$(free_port); PROXY_PORT=$(free_port); ADMIN_PORT=$(free_port)
mkdir -p "$TMP/www"
head -c $((1024 * 1024)) /dev/urandom >"$TMP/www/obj1m"
cat >"$TMP/nginx.conf" <<CONF
daemon off; master_process off; worker_processes 1; user root;
error_log $TMP/nginx-error.log; pid $TMP/nginx.pid;
events { worker_connections 1024; }
http {
    access_log $TMP/origin-access.log;
    client_body_temp_path $TMP; proxy_temp_path $TMP; fastcgi_temp_path $TMP;
    uwsgi_temp_path $TMP; scgi_temp_path $TMP;
    server { listen 127.0.0.1:$ORIGIN_PORT; root $TMP/www;
             location / { add_header Cache-Control "max-age=3600"; } }
}
CONF
nginx -c "$TMP/nginx.conf" & PIDS+=($!)
# --allow-dest: proxyd refuses loopback destinations unless told (the origin is one).
"$BIN/proxyd" --listen "127.0.0.1:$PROXY_PORT" --admin "127.0.0.1:$ADMIN_PORT" --name demo-p1 \
    --allow-dest 127.0.0.1/32 \
    --cache-mem 260M --max-object-size 1M --access-log "$TMP/proxyd-access.log" \
    2>"$TMP/proxyd.log" & PIDS+=($!)
wait_port "$ORIGIN_PORT"; wait_port "$ADMIN_PORT"

URL="http://127.0.0.1:$ORIGIN_PORT/obj1m"
echo "origin: nginx at 127.0.0.1:$ORIGIN_PORT serving /obj1m (1024 KB)"
echo "proxy:  proxyd at 127.0.0.1:$PROXY_PORT (admin on 127.0.0.1:$ADMIN_PORT)"
for i in 1 2; do
    echo
    echo "\$ curl -x 127.0.0.1:$PROXY_PORT $URL    # request $i"
    curl -sS --max-time 10 -x "127.0.0.1:$PROXY_PORT" -o "$TMP/got" -D "$TMP/head" \
        -w 'status %{http_code}, %{size_download} bytes in %{time_total} s\n' "$URL"
    grep -iE '^(x-cache|via|age):' "$TMP/head" | tr -d '\r'
    cmp -s "$TMP/got" "$TMP/www/obj1m" && echo "body identical to the origin's"
done
echo
echo "origin fetches (nginx access log): $(grep -c ' /obj1m ' "$TMP/origin-access.log")"
echo "proxyd /stats:"
curl -sS --max-time 5 "http://127.0.0.1:$ADMIN_PORT/stats" | head -c 600; echo
sleep 1.2 # the access log is written in batches, once a second
echo "proxyd access log (Squid format):"
cat "$TMP/proxyd-access.log"
