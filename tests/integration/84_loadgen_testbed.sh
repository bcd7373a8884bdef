#!/usr/bin/env bash
# Many clients from one loadgen: --testbed N opens client K's sockets inside
# the testbed's namespace PREFIX-cK, so the origin (in srv, across mid) logs
# each request from that client's own address, each client with its own -n
# and -c; 64 clients at once the same. --source does the same with local
# addresses on loopback. loadgen's own namespace is left as it was.
# timeout: 90
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_need_root "network namespaces"
LOADGEN=$PP_BIN/loadgen
[ -x "$LOADGEN" ] || pp_die "no $LOADGEN (run make)"

json() { jq -r "$2" "$1"; }

TESTBED=$PP_REPO/deploy/testbed
P=lg$(($$ % 1000000)) # at most 8 characters, unique per run
STATE=/run/proxypool-testbed/$P
pp_on_cleanup "$(printf '%q' "$TESTBED") --prefix $P down >/dev/null 2>&1 || true"

addr_of() { echo "198.18.$((1 + ($1 - 1) / 254)).$((1 + ($1 - 1) % 254))"; }

# origin_count ADDR PATH: requests the testbed's nginx logged from ADDR.
origin_count() {
    awk -v a="$1" -v p="$2" '$1 == a && $3 == p && $4 == 200 { c++ } END { print c + 0 }' "$STATE/access.log"
}

netns_before=$(readlink /proc/self/ns/net)
"$TESTBED" --prefix "$P" up --clients 64 --object-size 1K >"$PP_TMP/up.log" 2>&1 ||
    pp_die "testbed up failed: $(cat "$PP_TMP/up.log")"

# --- 4 clients, each -n 5 -c 2, from their own addresses
"$LOADGEN" http://198.19.1.2/obj1m --testbed 4 --testbed-prefix "$P" -n 5 -c 2 \
    --csv "$PP_TMP/tb.csv" --json "$PP_TMP/tb.json" >"$PP_TMP/tb.out" || pp_die "testbed run failed"
expect_eq "$(json "$PP_TMP/tb.json" .clients)" 4 "clients"
expect_eq "$(json "$PP_TMP/tb.json" .requests)" 20 "requests (4 x 5)"
expect_eq "$(json "$PP_TMP/tb.json" .ok)" 20 "ok"
for k in 1 2 3 4; do
    a=$(addr_of "$k")
    expect_eq "$(json "$PP_TMP/tb.json" ".per_client[$((k - 1))].requests")" 5 "client $k requests"
    expect_match "$(json "$PP_TMP/tb.json" ".per_client[$((k - 1))].source")" "^$a \\($P-c$k\\)$" "client $k source"
    expect_eq "$(awk -F, -v k="$k" 'NR > 1 && $2 == k' "$PP_TMP/tb.csv" | wc -l | tr -d ' ')" 5 "client $k CSV rows"
    pp_wait_until 5 test "$(origin_count "$a" /obj1m)" = 5 ||
        pp_die "origin logged $(origin_count "$a" /obj1m) requests from $a, not 5"
    pp_log "ok: origin logged 5 requests from $a"
done
expect_eq "$(origin_count 198.18.1.5 /obj1m)" 0 "requests from client 5 (not in the run)"
expect_eq "$(readlink /proc/self/ns/net)" "$netns_before" "this shell's namespace"

# --- 64 clients at once, 20 connections each, from one process
"$LOADGEN" http://198.19.1.2/obj --testbed 64 --testbed-prefix "$P" -n 40 -c 20 \
    --json "$PP_TMP/tb64.json" --quiet || pp_die "64-client run failed"
expect_eq "$(json "$PP_TMP/tb64.json" .requests)" 2560 "64 x 40 requests"
expect_eq "$(json "$PP_TMP/tb64.json" .ok)" 2560 "64 x 40 ok"
expect_eq "$(json "$PP_TMP/tb64.json" .connections)" 1280 "64 x 20 connections"
expect_eq "$(json "$PP_TMP/tb64.json" '[.per_client[] | select(.requests == 40)] | length')" 64 "clients with their 40 requests"
pp_wait_until 5 test "$(awk '$3 == "/obj" && $4 == 200 { print $1 }' "$STATE/access.log" | sort -u | wc -l)" = 64 ||
    pp_die "origin saw /obj from $(awk '$3 == "/obj" { print $1 }' "$STATE/access.log" | sort -u | wc -l) addresses, not 64"
expect_eq "$(origin_count "$(addr_of 64)" /obj)" 40 "requests from client 64"
expect_eq "$(origin_count "$(addr_of 33)" /obj)" 40 "requests from client 33"

# --- a testbed that is not there: a runtime failure naming it
rc=0
"$LOADGEN" http://198.19.1.2/obj1m --testbed 65 --testbed-prefix "$P" -n 1 >/dev/null 2>"$PP_TMP/missing.err" || rc=$?
expect_eq "$rc" 1 "exit code with a client namespace missing"
expect_match "$(cat "$PP_TMP/missing.err")" "/run/netns/$P-c65" "message names the namespace"

# --- --source on loopback: each client from its own local address
pp_make_file "$PP_TMP/www/obj1k" 1024
pp_start_nginx_origin "$PP_TMP/www"
"$LOADGEN" "$PP_ORIGIN_URL/obj1k" --source 127.0.0.2 --source 127.0.0.3 --source 127.0.0.4 -n 7 -c 3 \
    --json "$PP_TMP/src.json" --quiet || pp_die "--source run failed"
expect_eq "$(json "$PP_TMP/src.json" .clients)" 3 "--source clients"
for a in 127.0.0.2 127.0.0.3 127.0.0.4; do
    expect_eq "$(awk -v a="$a" '$1 == a && $3 == "/obj1k"' "$PP_ORIGIN_LOG" | wc -l | tr -d ' ')" 7 "origin requests from $a"
done
pp_log "PASS"
