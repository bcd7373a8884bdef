#!/usr/bin/env bash
# --client-timeout below a second is honoured while a request body arrives:
# a client that sends a head with Content-Length: 10, then 3 bytes of the
# body and stalls, is closed after about 500 ms with --client-timeout 500ms.
# (A conversion that dropped the milliseconds turned 500ms into no timeout at
# all: the connection stayed open until the client gave up.)
# timeout: 30
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

# An origin that reads the request and never answers: only the client's
# timeout can end the exchange.
pp_start_badorigin silent
pp_start_proxyd --name subsec --client-timeout 500ms
now_ms() { echo $(($(date +%s%N) / 1000000)); }

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
