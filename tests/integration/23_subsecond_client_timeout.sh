#!/usr/bin/env bash
# --client-timeout below a second is honoured around a request body: with
# --client-timeout 500ms, a client that sends a head with Content-Length: 10,
# then 3 bytes of the body and stalls, is closed after about 500 ms; and so is
# one that sends its whole body and then does not read the (large) response.
# (A conversion that dropped the milliseconds turned 500ms into no timeout at
# all: both connections stayed open until the client gave up.)
# timeout: 30
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

# An origin that reads the request and never answers: only the client's
# timeout can end the exchange. And nginx, which answers a POST to /post/
# with the file (32 MiB: more than the sockets between hold).
pp_start_badorigin silent
mkdir -p "$PP_TMP/www/post"
pp_make_file "$PP_TMP/www/post/big" $((32 * 1024 * 1024))
# shellcheck disable=SC2016 # $uri is nginx's, not the shell's
pp_start_nginx_origin "$PP_TMP/www" 'location /post/ { error_page 405 =200 $uri; }'
pp_start_proxyd --name subsec --client-timeout 500ms
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# --- a body that stops short: the receive timeout

t0=$(now_ms)
pp_raw "$PP_PROXY" --quiet --timeout-ms 5000 \
    --send "POST $PP_BAD_URL/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"
took=$(($(now_ms) - t0))
expect_eq "$PP_RAW_RC" 0 "stalled body: connection closed by proxyd (2: still open at 5 s)"
expect_ge "$took" 400 "ms until the close (not before the 500 ms timeout)"
expect_le "$took" 2500 "ms until the close"
expect_eq "$(wc -c <"$PP_RAW_OUT")" 0 "bytes sent back (no response was started)"
expect_eq "$(pp_count_lines "$PP_BAD_COUNT_FILE")" 1 "requests that reached the origin"
pp_wait_until 3 grep -q "receiving timed out" "$PP_PROXYD_LOG" ||
    pp_die "proxyd did not log the receive timeout"
pp_log "ok: proxyd logged the receive timeout"

# --- a whole body, then a response never read: the send timeout
exec {stalled}<>"/dev/tcp/127.0.0.1/$PP_PROXY_PORT"
t0=$(now_ms)
printf 'POST %s/post/big HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc' "$PP_ORIGIN_URL" >&"$stalled"
pp_wait_until 5 bash -c "[ \"\$(curl -s --max-time 2 $PP_ADMIN_URL/stats | jq .connections.open)\" = 0 ]" ||
    pp_die "the client that does not read is still connected after 5 s"
took=$(($(now_ms) - t0))
exec {stalled}>&-
expect_ge "$took" 400 "ms until the close (not before the 500 ms timeout)"
expect_le "$took" 3000 "ms until the close"
pp_wait_until 3 grep -q "sending timed out" "$PP_PROXYD_LOG" ||
    pp_die "proxyd did not log the send timeout"
pp_log "ok: proxyd logged the send timeout"
