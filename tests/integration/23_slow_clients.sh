#!/usr/bin/env bash
# Slow and vanished clients cost only themselves: a request head trickled in
# byte by byte (slowloris) gets 408 and a close at --header-timeout; a client
# that stops reading a big object neither slows another client fetching the
# same object (even one too big to cache, shared as it streams) nor holds its
# connection past --client-timeout; a client that leaves in the middle of a
# transfer others are waiting on leaves the fetch going for them, and a fetch
# nobody waits on any more stops.
# timeout: 60
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_make_file "$PP_TMP/www/big" $((16 * 1024 * 1024))
pp_make_file "$PP_TMP/www/gz/big" $((16 * 1024 * 1024))
printf 'ok\n' >"$PP_TMP/www/ok"
# /gz/: gzipped on the fly, so chunked, of a length nobody knows in advance;
# at 8 MiB/s, so a second client can join while it streams.
pp_start_nginx_origin "$PP_TMP/www" '
        location /gz/ {
            gzip on;
            gzip_types *;
            gzip_proxied any;
            limit_rate 8m;
            add_header Cache-Control "max-age=3600";
        }'
pp_start_proxyd --name slow --header-timeout 1s --client-timeout 2s --max-object-size 16M
o=$PP_ORIGIN_URL
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# --- slowloris: one byte every 300 ms; 408 and a close after about 1 s
t0=$(now_ms)
pp_raw "$PP_PROXY" --quiet --slow-ms 300 --timeout-ms 8000 \
    --send "GET $o/ok HTTP/1.1\r\nHost: x\r\nUser-Agent: slowloris\r\n\r\n"
took=$(($(now_ms) - t0))
expect_eq "$(pp_raw_status)" 408 "slowloris status"
expect_eq "$PP_RAW_RC" 0 "slowloris: connection closed by proxyd"
expect_le "$took" 2000 "ms until the 408 and close"
expect_ge "$took" 900 "ms until the 408 (not before the timeout)"
expect_eq "$(pp_origin_count /ok)" 0 "slowloris requests at the origin"

# --- a client that asks for 16 MiB and never reads...
exec {stalled}<>"/dev/tcp/127.0.0.1/$PP_PROXY_PORT"
printf 'GET %s/big HTTP/1.1\r\nHost: x\r\n\r\n' "$o" >&"$stalled"
sleep 0.3
expect_eq "$(pp_stat .connections.open)" 1 "open connections with the stalled client"
# ...does not slow another client of the same object.
code=$(pp_curl -x "http://$PP_PROXY" -o "$PP_TMP/big.got" -w '%{http_code} %{time_total}' "$o/big")
expect_eq "${code% *}" 200 "second client status"
expect_file_eq "$PP_TMP/big.got" "$PP_TMP/www/big" "second client body"
expect_le "$(awk -v t="${code#* }" 'BEGIN { printf "%d", t * 1000 }')" 3000 "ms for the second client's 16 MiB"
expect_eq "$(pp_origin_count /big)" 1 "origin fetches of /big"
# ...and is dropped once it has not taken a byte for --client-timeout (2 s).
pp_wait_until 6 bash -c "[ \"\$(curl -s --max-time 2 $PP_ADMIN_URL/stats | jq .connections.open)\" = 0 ]" ||
    pp_die "the stalled client's connection is still open after 6 s"
pp_log "ok: stalled client's connection closed by proxyd"
exec {stalled}>&-

# --- a client leaves mid-transfer; another waiting on the same fetch gets it all
pp_start_badorigin slow # 1 MiB in 16 KiB steps every 100 ms: about 6.4 s
pp_badorigin_body 1048576 "$PP_TMP/slow.expected"
pp_curl -x "http://$PP_PROXY" -o /dev/null --max-time 1 "$PP_BAD_URL/shared" 2>/dev/null &
leaver=$!
sleep 0.3
pp_curl -x "http://$PP_PROXY" -o "$PP_TMP/stayer.body" -w '%{http_code}' "$PP_BAD_URL/shared" >"$PP_TMP/stayer.code" &
stayer=$!
wait "$leaver" || true # curl gives up after 1 s
pp_log "the first client has left"
wait "$stayer" || true
expect_eq "$(cat "$PP_TMP/stayer.code")" 200 "the client that stayed"
expect_file_eq "$PP_TMP/stayer.body" "$PP_TMP/slow.expected" "what the client that stayed got"
expect_eq "$(pp_count_lines "$PP_BAD_COUNT_FILE")" 1 "origin requests for /shared"
expect_eq "$(pp_curl_proxy "$PP_BAD_URL/shared")" 200 "a later request"
expect_eq "$(pp_header "$PP_TMP/last.headers" X-Cache)" "HIT from slow" "the completed fetch was cached"

# --- the only client leaves: the fetch stops, nothing half-done is cached
pp_curl -x "http://$PP_PROXY" -o /dev/null --max-time 1 "$PP_BAD_URL/alone" 2>/dev/null || true
pp_wait_until 3 bash -c "[ \"\$(curl -s --max-time 2 $PP_ADMIN_URL/stats | jq .fetches_in_flight)\" = 0 ]" ||
    pp_die "a fetch is still in flight after its only client left"
pp_log "ok: no fetch in flight after the only client left"
code=$(pp_curl_proxy "$PP_BAD_URL/alone" --max-time 1 2>/dev/null || true)
expect_eq "$code" 200 "asking again"
expect_eq "$(pp_header "$PP_TMP/last.headers" X-Cache)" "MISS from slow" "asking again: not cached"
expect_eq "$(grep -c 'GET /alone' "$PP_BAD_COUNT_FILE")" 2 "origin requests for /alone"

# --- the same with a body that outgrows --max-object-size as it streams: it
# cannot be kept, so a stalled client would hold the shared fetch for all.
pp_start_proxyd --name slow2 --max-object-size 4M
exec {stalled}<>"/dev/tcp/127.0.0.1/$PP_PROXY_PORT"
printf 'GET %s/gz/big HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n' "$o" >&"$stalled"
sleep 0.15 # joins while the first 4 MiB stream in (0.5 s)
code=$(pp_curl -x "http://$PP_PROXY" -o "$PP_TMP/gz.got" -w '%{http_code} %{time_total}' \
    --max-time 10 -H 'Accept-Encoding: gzip' "$o/gz/big" || true)
expect_eq "${code% *}" 200 "client sharing a fetch with a stalled one"
expect_eq "$(pp_stat .collapsed)" 1 "it joined the stalled client's fetch"
gzip -dc <"$PP_TMP/gz.got" >"$PP_TMP/gz.plain" || pp_die "the shared body is not whole gzip"
expect_file_eq "$PP_TMP/gz.plain" "$PP_TMP/www/gz/big" "the shared body, unzipped"
expect_le "$(awk -v t="${code#* }" 'BEGIN { printf "%d", t * 1000 }')" 6000 "ms for the shared 16 MiB (2 s at the origin's rate)"
expect_eq "$(pp_origin_count /gz/big)" 1 "origin fetches of /gz/big"
exec {stalled}>&-
pp_proxyd_healthy || pp_die "proxyd unhealthy at the end"
