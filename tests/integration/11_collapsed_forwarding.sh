#!/usr/bin/env bash
# Collapsed forwarding, the paper's workload in small: N clients ask at once
# for an object nobody has cached; the origin is slow, so all of them arrive
# while the first fetch is in flight. Exactly one request reaches the origin,
# every client gets the whole body, and /stats counts N-1 collapsed. A
# response the cache may not keep (Cache-Control: private, or larger than
# --max-object-size) must not be shared: the same N clients then cause N
# origin fetches, each its own.
# timeout: 60
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

N=50
pp_badorigin_body 1024 "$PP_TMP/expected"

# fire_clients URL TAG: N concurrent curls through the proxy; waits for all.
# Each writes its body to $PP_TMP/TAG.body.I and "STATUS XCACHE" to TAG.res.I.
fire_clients() {
    local url=$1 tag=$2 i pids=()
    for i in $(seq 1 "$N"); do
        curl -s --max-time 15 -x "http://$PP_PROXY" -o "$PP_TMP/$tag.body.$i" \
            -w '%{http_code} %header{x-cache}\n' "$url" >"$PP_TMP/$tag.res.$i" 2>/dev/null &
        pids+=($!)
    done
    wait "${pids[@]}" || true
}

# check_clients TAG: every client got 200 and the full body.
check_clients() {
    local tag=$1 i ok=0
    for i in $(seq 1 "$N"); do
        if [ "$(cut -d' ' -f1 "$PP_TMP/$tag.res.$i")" = 200 ] &&
            cmp -s "$PP_TMP/$tag.body.$i" "$PP_TMP/expected"; then
            ok=$((ok + 1))
        else
            pp_log "client $i: $(cat "$PP_TMP/$tag.res.$i"), $(stat -c %s "$PP_TMP/$tag.body.$i" 2>/dev/null || echo no) body bytes"
        fi
    done
    expect_eq "$ok" "$N" "$tag: clients with 200 and the full body"
}

# --- cacheable: one fetch for all
pp_start_badorigin delay-800
shared_count=$PP_BAD_COUNT_FILE
pp_start_proxyd --name cf
fire_clients "$PP_BAD_URL/shared" shared
check_clients shared
expect_eq "$(pp_count_lines "$shared_count")" 1 "origin requests for the shared object"
# Every request but the first was served without the origin: collapsed onto
# the fetch in flight, or (clients started late on a loaded machine) a hit on
# what it stored.
expect_eq "$(($(pp_stat .collapsed) + $(pp_stat .hits)))" $((N - 1)) "/stats collapsed + hits"
expect_ge "$(pp_stat .collapsed)" 1 "/stats collapsed"
expect_eq "$(pp_stat .origin_fetches)" 1 "/stats origin_fetches"
expect_eq "$(cat "$PP_TMP"/shared.res.* | grep -c 'MISS from cf')" 1 "clients told MISS"
expect_eq "$(cat "$PP_TMP"/shared.res.* | grep -c 'HIT from cf')" $((N - 1)) "clients told HIT"
# And afterwards it is a plain hit.
expect_eq "$(pp_curl_proxy "$PP_BAD_URL/shared")" 200 "later request"
expect_eq "$(pp_header "$PP_TMP/last.headers" X-Cache)" "HIT from cf" "later request X-Cache"
expect_eq "$(pp_count_lines "$shared_count")" 1 "origin requests after the later hit"

# --- private: never shared, each client its own fetch
pp_start_badorigin delay-800 --cache-control private
private_count=$PP_BAD_COUNT_FILE
fire_clients "$PP_BAD_URL/private" private
check_clients private
expect_eq "$(pp_count_lines "$private_count")" "$N" "origin requests for the private object"
expect_eq "$(cat "$PP_TMP"/private.res.* | grep -c 'MISS from cf')" "$N" "private: clients told MISS"
expect_eq "$(pp_curl_proxy "$PP_BAD_URL/private")" 200 "private again"
expect_eq "$(pp_header "$PP_TMP/last.headers" X-Cache)" "MISS from cf" "private again X-Cache"
expect_eq "$(pp_count_lines "$private_count")" $((N + 1)) "origin requests after one more"

# --- too big to cache (1024 bytes over a 512-byte --max-object-size): not
# shared either, each client its own fetch
pp_start_proxyd --name cf-small --max-object-size 512 --cache-mem 1M
pp_start_badorigin delay-800
big_count=$PP_BAD_COUNT_FILE
fire_clients "$PP_BAD_URL/toobig" toobig
check_clients toobig
expect_eq "$(pp_count_lines "$big_count")" "$N" "origin requests for an object over the size limit"
expect_eq "$(pp_curl_proxy "$PP_BAD_URL/toobig")" 200 "too big, again"
expect_eq "$(pp_header "$PP_TMP/last.headers" X-Cache)" "MISS from cf-small" "too big, again: X-Cache"
expect_eq "$(pp_count_lines "$big_count")" $((N + 1)) "origin requests after one more"
pp_proxyd_healthy || pp_die "proxyd unhealthy at the end"
