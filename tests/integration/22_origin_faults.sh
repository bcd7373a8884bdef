#!/usr/bin/env bash
# When the origin fails, the client is told honestly and nothing broken is
# cached: a refused connection is a 502, an origin silent past
# --origin-timeout is a 504 (for every client waiting on that fetch), an
# origin that closes in the middle of the body closes the client connection
# before the full body and leaves nothing cached, and responses whose framing
# is ambiguous or broken (CL with TE, a bad chunk size) are 502s.
# timeout: 60
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_start_proxyd --name faults --origin-timeout 1s --connect-timeout 2s
errors() { pp_stat ".origin_errors.$1"; }

# --- nothing listening: 502
closed_port=$(pp_free_port)
expect_eq "$(pp_curl_proxy "http://127.0.0.1:$closed_port/x")" 502 "refused connection"
expect_match "$(cat "$PP_TMP/last.body")" '^502 Bad Gateway: .+' "502 reason"
expect_eq "$(pp_header "$PP_TMP/last.headers" X-Cache)" "MISS from faults" "502 X-Cache"
expect_eq "$(errors connect)" 1 "/stats origin_errors.connect"

# --- accepts, then closes without a word: 502
pp_start_badorigin refuse-after-accept
expect_eq "$(pp_curl_proxy "$PP_BAD_URL/x")" 502 "closed before the response head"
expect_eq "$(errors closed)" 1 "/stats origin_errors.closed"

# --- silent past --origin-timeout 1s: 504 for each of 5 waiting clients, one fetch
pp_start_badorigin silent
start=$SECONDS
pids=()
for i in 1 2 3 4 5; do
    pp_curl -x "http://$PP_PROXY" -o /dev/null -w '%{http_code}' "$PP_BAD_URL/silent" >"$PP_TMP/silent.$i" &
    pids+=($!)
done
wait "${pids[@]}" || true
took=$((SECONDS - start))
expect_eq "$(cat "$PP_TMP"/silent.* | tr -d '\n')" 504504504504504 "statuses of 5 waiting clients"
expect_le "$took" 4 "seconds until the 504s"
expect_eq "$(pp_count_lines "$PP_BAD_COUNT_FILE")" 1 "requests the silent origin got"
expect_eq "$(errors timeout)" 1 "/stats origin_errors.timeout"

# --- closes after 64 KiB of 1 MiB: the client sees a cut, nothing is cached
pp_start_badorigin close-mid-body
for i in 1 2; do
    rc=0
    pp_curl -x "http://$PP_PROXY" -D "$PP_TMP/cut.h" -o "$PP_TMP/cut.body" "$PP_BAD_URL/cut" 2>/dev/null || rc=$?
    expect_eq "$rc" 18 "curl exit code for request $i (18: partial file)"
    expect_eq "$(pp_header "$PP_TMP/cut.h" Content-Length)" 1048576 "announced length $i"
    expect_le "$(stat -c %s "$PP_TMP/cut.body")" 65536 "body bytes client $i got"
    expect_eq "$(pp_header "$PP_TMP/cut.h" X-Cache)" "MISS from faults" "X-Cache $i"
done
expect_eq "$(pp_count_lines "$PP_BAD_COUNT_FILE")" 2 "origin requests for the cut object (not cached)"
expect_eq "$(pp_stat .cache.objects)" 0 "/stats cache objects"

# --- ambiguous or broken response framing: 502
pp_start_badorigin cl-te
expect_eq "$(pp_curl_proxy "$PP_BAD_URL/clte")" 502 "response with CL and TE"
pp_start_badorigin bad-chunk
expect_eq "$(pp_curl_proxy "$PP_BAD_URL/badchunk")" 502 "response with a bad chunk size"
expect_ge "$(errors protocol)" 2 "/stats origin_errors.protocol"
expect_eq "$(pp_stat .cache.objects)" 0 "/stats cache objects at the end"
pp_proxyd_healthy || pp_die "proxyd unhealthy at the end"
