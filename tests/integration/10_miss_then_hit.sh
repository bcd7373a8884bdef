#!/usr/bin/env bash
# The first promise of a cache: the first request for an object goes to the
# origin (X-Cache MISS), the second is served from memory (HIT) byte for byte,
# and the origin sees one fetch. With --no-cache every request goes through.
# --max-object-size is inclusive: an object of exactly the limit is cached,
# one byte more is not. With --threads the workers serve the same promises.
# timeout: 60
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_make_file "$PP_TMP/www/obj1m" 1048576
pp_make_file "$PP_TMP/www/exact" 65536
pp_make_file "$PP_TMP/www/over" 65537
pp_start_nginx_origin "$PP_TMP/www"

# --- MISS, then HIT, one origin fetch, same bytes
pp_start_proxyd --name edge1
url=$PP_ORIGIN_URL/obj1m
expect_eq "$(pp_curl_proxy "$url")" 200 "first status"
expect_eq "$(pp_header "$PP_TMP/last.headers" X-Cache)" "MISS from edge1" "first X-Cache"
expect_match "$(pp_header "$PP_TMP/last.headers" Via)" "edge1" "first Via names the instance"
expect_file_eq "$PP_TMP/last.body" "$PP_TMP/www/obj1m" "first body"
expect_eq "$(pp_curl_proxy "$url")" 200 "second status"
expect_eq "$(pp_header "$PP_TMP/last.headers" X-Cache)" "HIT from edge1" "second X-Cache"
expect_match "$(pp_header "$PP_TMP/last.headers" Via)" "^1\.1 edge1" "second Via"
expect_match "$(pp_header "$PP_TMP/last.headers" Age)" "^[0-9]+$" "Age on a hit"
expect_eq "$(pp_header "$PP_TMP/last.headers" Content-Length)" 1048576 "hit Content-Length"
expect_file_eq "$PP_TMP/last.body" "$PP_TMP/www/obj1m" "hit body"
expect_eq "$(pp_origin_count /obj1m)" 1 "origin fetches of /obj1m"

expect_eq "$(pp_stat .hits)" 1 "/stats hits"
expect_eq "$(pp_stat .misses)" 1 "/stats misses"
expect_eq "$(pp_stat .origin_fetches)" 1 "/stats origin_fetches"
expect_eq "$(pp_stat '.requests.by_code["200"]')" 2 "/stats 200s"
expect_eq "$(pp_metric proxyd_cache_hits_total)" 1 "metric proxyd_cache_hits_total"

# --- the size limit is inclusive
pp_start_proxyd --name edge2 --max-object-size 64K
for obj in exact over; do
    pp_curl_proxy "$PP_ORIGIN_URL/$obj" >/dev/null
    expect_eq "$(pp_header "$PP_TMP/last.headers" X-Cache)" "MISS from edge2" "$obj first"
    expect_eq "$(pp_curl_proxy "$PP_ORIGIN_URL/$obj")" 200 "$obj second status"
    expect_file_eq "$PP_TMP/last.body" "$PP_TMP/www/$obj" "$obj second body"
done
pp_curl_proxy "$PP_ORIGIN_URL/exact" >/dev/null
expect_eq "$(pp_header "$PP_TMP/last.headers" X-Cache)" "HIT from edge2" "65536 bytes (= limit) cached"
pp_curl_proxy "$PP_ORIGIN_URL/over" >/dev/null
expect_eq "$(pp_header "$PP_TMP/last.headers" X-Cache)" "MISS from edge2" "65537 bytes (> limit) not cached"
expect_eq "$(pp_origin_count /exact)" 1 "origin fetches of /exact"
expect_eq "$(pp_origin_count /over)" 3 "origin fetches of /over"

# --- --no-cache: MISS every time, every request reaches the origin
pp_start_proxyd --name edge3 --no-cache
before=$(pp_origin_count /obj1m)
for i in 1 2; do
    expect_eq "$(pp_curl_proxy "$url")" 200 "no-cache request $i"
    expect_eq "$(pp_header "$PP_TMP/last.headers" X-Cache)" "MISS from edge3" "no-cache X-Cache $i"
    expect_file_eq "$PP_TMP/last.body" "$PP_TMP/www/obj1m" "no-cache body $i"
done
expect_eq "$(pp_origin_count /obj1m)" $((before + 2)) "origin fetches with --no-cache"

# --- --threads 4: each worker has its own cache (SO_REUSEPORT spreads the
# connections), every response is whole, and /stats adds the workers up
pp_start_proxyd --name edge4 --threads 4
for i in $(seq 1 12); do
    expect_eq "$(pp_curl_proxy "$url")" 200 "threads: request $i" >/dev/null
    cmp -s "$PP_TMP/last.body" "$PP_TMP/www/obj1m" || pp_die "threads: body $i differs"
done
expect_eq "$(pp_stat .threads)" 4 "/stats threads"
expect_eq "$(pp_stat .requests.total)" 12 "/stats requests over all workers"
expect_eq "$(($(pp_stat .hits) + $(pp_stat .misses)))" 12 "/stats hits + misses"
expect_le "$(pp_stat .misses)" 4 "/stats misses (at most one per worker)"
