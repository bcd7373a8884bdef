#!/usr/bin/env bash
# --cache-mem is a bound on memory, not on a count that leaves things out:
# under requests a client shapes to inflate the cache —
# thousands of Vary variants each storing an 8 KB request value, thousands
# of tiny chunked bodies (each once holding a 64 KiB block), bodies one byte
# past a block, 6 KB URLs — proxyd's resident memory grows by at most
# 1.2 x --cache-mem plus a fixed overhead, and the cache's own figure stays
# under the limit. A URL keeps at most --max-variants variants (the least
# recently used goes), and by default a response varying on request values
# over --max-vary-size is not stored.
#
# The fixed overhead (CM_OVERHEAD_KB, 1 MiB) is for what proxyd holds beside
# the cache for this traffic: the client's and the origin's connection
# buffers, an object in flight (up to a 64 KiB block) and heap fragments
# between live allocations that malloc_trim cannot return (the cache trims
# after dropping an eighth of its limit). Measured growth stayed at or below
# --cache-mem itself (2.9-3.8 MiB for 4 MiB: the baseline already holds the
# warm-up's objects, and the accounting rounds up), so the 0.2 x and the
# overhead are margin, not use.
#
# RSS is Rss of /proc/PID/smaps_rollup (memfd bodies count there as
# shared memory), read once the traffic has finished. Under AddressSanitizer
# (redzones, quarantine) RSS says nothing about proxyd's own use: the traffic
# still runs, the RSS assertions are skipped.
# timeout: 300
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

CM_CACHE_MEM_KB=4096
CM_OVERHEAD_KB=1024
CM_BOUND_KB=$((CM_CACHE_MEM_KB * 12 / 10 + CM_OVERHEAD_KB))
CM_BATCH_TIMEOUT=240 # seconds for one batch of requests (one curl, keep-alive)

pp_need_tool curl

mkdir -p "$PP_TMP/www"
pp_make_file "$PP_TMP/www/small.html" 200
pp_make_file "$PP_TMP/www/twoblock.html" 65537
# nginx sends a body through sub_filter without a length (chunked), as an
# origin that streams: proxyd stores it in 64 KiB blocks.
# shellcheck disable=SC2016 # nginx variables, for nginx
pp_start_nginx_origin "$PP_TMP/www" '
        large_client_header_buffers 4 16k;
        location /vary/ {
            add_header Vary X-V;
            add_header Cache-Control "max-age=3600";
            return 200 "v\n";
        }
        location /chunked/ {
            default_type text/html;
            sub_filter_types *;
            sub_filter zzzz y;
            add_header Cache-Control "max-age=3600";
            try_files /small.html =404;
        }
        location /twoblock/ {
            default_type text/html;
            sub_filter_types *;
            sub_filter zzzz y;
            add_header Cache-Control "max-age=3600";
            try_files /twoblock.html =404;
        }
        location /long/ {
            add_header Cache-Control "max-age=3600";
            return 200 "l\n";
        }'

# cm_asan: proxyd is a sanitizer build (RSS bounds do not apply).
# The tools' output is read whole: grep -q leaving mid-pipe would kill them
# with SIGPIPE, which pipefail reads as "not found".
cm_asan() {
    case "$(ldd "$PP_BIN/proxyd" 2>/dev/null)" in *libasan*) return 0 ;; esac
    case "$(nm "$PP_BIN/proxyd" 2>/dev/null)" in *__asan_init*) return 0 ;; esac
    return 1
}

# cm_rss_kb: proxyd's resident set, in KiB.
cm_rss_kb() {
    awk '/^Rss:/ { print $2 }' "/proc/$PP_PROXYD_PID/smaps_rollup"
}

# cm_value I BYTES: the X-V value of request I, BYTES long, unique per I.
cm_value() {
    printf '%08d' "$1"
    head -c "$(($2 - 8))" /dev/zero | tr '\0' v
}

# cm_config KIND FIRST COUNT [ARG]: a curl config (-K) for COUNT requests
# through proxyd, one transfer each, printing each status on a line:
#   vary     /vary/(I / ARG) with X-V: cm_value I 8000 (ARG variants a URL)
#   chunked  /chunked/I, twoblock /twoblock/I
#   long     /long/<6000 bytes>/I
cm_config() {
    awk -v kind="$1" -v first="$2" -v n="$3" -v arg="${4:-1}" -v origin="$PP_ORIGIN_URL" \
        -v proxy="$PP_PROXY" -v mt="$PP_CURL_MAX_TIME" 'BEGIN {
        pad = ""
        want = kind == "vary" ? 8000 - 8 : 6000
        while (length(pad) < want) pad = pad "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
        pad = substr(pad, 1, want)
        for (i = first; i < first + n; i++) {
            if (i > first) print "next"
            if (kind == "vary") {
                printf "url = \"%s/vary/%d\"\n", origin, int(i / arg)
                printf "header = \"X-V: %08d%s\"\n", i, pad
            } else if (kind == "long") {
                printf "url = \"%s/long/%s/%d\"\n", origin, pad, i
            } else {
                printf "url = \"%s/%s/%d\"\n", origin, kind, i
            }
            printf "proxy = \"http://%s\"\noutput = \"/dev/null\"\n", proxy
            printf "write-out = \"%%{http_code}\\n\"\nmax-time = %d\n", mt
        }
    }'
}

# cm_batch KIND FIRST COUNT [ARG]: runs those requests on one keep-alive
# connection and expects every one answered 200.
cm_batch() {
    local cfg=$PP_TMP/batch.curl ok start=$SECONDS
    cm_config "$@" >"$cfg"
    ok=$(timeout "$CM_BATCH_TIMEOUT" curl -sS -K "$cfg" 2>>"$PP_TMP/curl.err" | grep -c '^200$' || true)
    pp_log "$1: $3 requests in $((SECONDS - start)) s"
    expect_eq "$ok" "$3" "$1 requests answered 200"
}

cm_cache_bytes() {
    pp_stat .cache.bytes
}

# cm_expect_bounded WHAT: the cache's own figure under --cache-mem, and RSS
# growth since the baseline within the stated bound.
cm_expect_bounded() {
    local rss growth
    expect_le "$(cm_cache_bytes)" $((CM_CACHE_MEM_KB * 1024)) "$1: cache bytes"
    rss=$(cm_rss_kb)
    growth=$((rss - CM_BASE_KB))
    pp_log "$1: RSS $rss KiB, growth $growth KiB (bound $CM_BOUND_KB KiB), cache $(cm_cache_bytes) bytes in $(pp_stat .cache.objects) objects, $(pp_stat .cache.evictions) evictions"
    if cm_asan; then
        pp_log "$1: sanitizer build, RSS bound not asserted"
    else
        expect_le "$growth" "$CM_BOUND_KB" "$1: RSS growth (KiB) within 1.2 x cache-mem + $CM_OVERHEAD_KB KiB"
    fi
}

xcache() { pp_header "$PP_TMP/last.headers" X-Cache; }

pp_start_proxyd --name mem --cache-mem "${CM_CACHE_MEM_KB}K" --max-vary-size 16K --threads 1
expect_match "$("$PP_BIN/proxyd" --help)" "--max-variants" "--help lists --max-variants"

# --- warm-up: connections, buffers and a few objects of each kind, then the baseline
cm_batch vary 0 40 40
cm_batch chunked 0 40
cm_batch twoblock 0 4
cm_batch long 0 40
CM_BASE_KB=$(cm_rss_kb)
pp_log "baseline RSS $CM_BASE_KB KiB after warm-up; bound on growth $CM_BOUND_KB KiB"

# --- a URL keeps --max-variants (32) variants: the least recently used goes
v1=$(cm_value 1 8000)
v40=$(cm_value 39 8000)
expect_eq "$(pp_curl_proxy "$PP_ORIGIN_URL/vary/0" -H "X-V: $v40")" 200 "newest variant"
expect_eq "$(xcache)" "HIT from mem" "newest of 40 variants is stored"
expect_eq "$(pp_curl_proxy "$PP_ORIGIN_URL/vary/0" -H "X-V: $v1")" 200 "old variant"
expect_eq "$(xcache)" "MISS from mem" "one of the first 8 of 40 variants was dropped"

# --- 1500 variants over 50 URLs, each storing an 8 KB request value
cm_batch vary 100000 1500 30
v=$(cm_value 101499 8000)
expect_eq "$(pp_curl_proxy "$PP_ORIGIN_URL/vary/$((101499 / 30))" -H "X-V: $v")" 200 "last variant"
expect_eq "$(xcache)" "HIT from mem" "last variant is stored"
expect_ge "$(pp_stat .cache.evictions)" 1000 "evictions under the variants' weight"
cm_expect_bounded "1500 Vary variants"

# --- 4000 chunked 200-byte bodies (each once a 64 KiB block)
cm_batch chunked 100000 4000
expect_eq "$(pp_curl_proxy "$PP_ORIGIN_URL/chunked/103999")" 200 "last chunked body"
expect_eq "$(xcache)" "HIT from mem" "last chunked body is stored"
expect_file_eq "$PP_TMP/last.body" "$PP_TMP/www/small.html" "chunked body from the cache"
cm_expect_bounded "4000 small chunked bodies"

# --- 100 chunked bodies one byte past a block (62 fit)
cm_batch twoblock 100000 100
expect_eq "$(pp_curl_proxy "$PP_ORIGIN_URL/twoblock/100099")" 200 "last two-block body"
expect_eq "$(xcache)" "HIT from mem" "last two-block body is stored"
expect_file_eq "$PP_TMP/last.body" "$PP_TMP/www/twoblock.html" "two-block body from the cache"
cm_expect_bounded "100 bodies of 64 KiB + 1"

# --- 1500 URLs of 6 KB (the key is copied into the object and the index)
cm_batch long 100000 1500
cm_expect_bounded "1500 long URLs"

# --- the default --max-vary-size (4K): a response varying on 8 KB is not stored
pp_start_proxyd --name dflt --cache-mem "${CM_CACHE_MEM_KB}K"
for i in 1 2; do
    expect_eq "$(pp_curl_proxy "$PP_ORIGIN_URL/vary/big" -H "X-V: $v1")" 200 "8 KB variant, request $i"
    expect_eq "$(xcache)" "MISS from dflt" "8 KB Vary value not stored by default ($i)"
done
v=$(cm_value 7 3000)
for want in MISS HIT; do
    expect_eq "$(pp_curl_proxy "$PP_ORIGIN_URL/vary/small" -H "X-V: $v")" 200 "3 KB variant"
    expect_eq "$(xcache)" "$want from dflt" "3 KB Vary value stored by default"
done
