#!/usr/bin/env bash
# Streaming with backpressure (le-proxy): a response far larger than any
# buffer, to a client that reads slower than the origin sends, passes through
# without sitting in proxyd's memory — with the cache off, and with the cache
# on for an object over --max-object-size. proxyd's resident memory may grow
# by a few MiB of buffers, not by the size of the response.
# timeout: 60
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

SIZE_MIB=96
# Under AddressSanitizer freed buffers sit in a quarantine (256 MiB by
# default) that would read as growth here; keep it small for this scenario.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
mkdir -p "$PP_TMP/www"
truncate -s "${SIZE_MIB}M" "$PP_TMP/www/huge" # sparse: costs no disk
pp_start_nginx_origin "$PP_TMP/www"

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# stream NAME: one slow client (32 MiB/s, 3 s) while proxyd's RSS is sampled.
stream() {
    local name=$1 base peak=0 now pid i
    base=$(rss_kib "$PP_PROXYD_PID")
    pp_curl --max-time 30 -x "http://$PP_PROXY" --limit-rate 32M -o "$PP_TMP/got" \
        -w '%{http_code}' "$PP_ORIGIN_URL/huge" >"$PP_TMP/code" &
    pid=$!
    for i in $(seq 1 300); do # 100 ms apart, bounded by curl's --max-time
        kill -0 "$pid" 2>/dev/null || break
        now=$(rss_kib "$PP_PROXYD_PID")
        [ "$now" -gt "$peak" ] && peak=$now
        sleep 0.1
    done
    wait "$pid" || true
    expect_eq "$(cat "$PP_TMP/code")" 200 "$name: status"
    expect_eq "$(stat -c %s "$PP_TMP/got")" $((SIZE_MIB * 1024 * 1024)) "$name: bytes received"
    cmp -s "$PP_TMP/got" "$PP_TMP/www/huge" || pp_die "$name: body differs"
    pp_log "$name: proxyd RSS $base KiB before, $peak KiB at the peak"
    expect_le $((peak - base)) $((24 * 1024)) "$name: KiB proxyd's RSS grew by for a $SIZE_MIB MiB response"
    rm -f "$PP_TMP/got"
}

pp_start_proxyd --name stream-nocache --no-cache
stream "cache off"
pp_start_proxyd --name stream-big --max-object-size 1M
stream "over --max-object-size"
expect_le "$(pp_stat .cache.bytes)" 4096 "/stats cache bytes after it (a hit-for-miss marker at most)"
