#!/usr/bin/env bash
# Reverse mode keys the cache on the configured origin, so it must ask the
# origin with that origin's name too: proxyd sends
# "Host: <configured origin>" upstream, as nginx's proxy_set_header Host
# $proxy_host default, whatever Host the client sent. Otherwise a client's
# "Host: evil.example" makes the origin answer for another virtual host, and
# that answer is cached under the site's key for every later client.
# timeout: 30
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

mkdir -p "$PP_TMP/www"
printf 'the site\n' >"$PP_TMP/www/page"
# The origin serves name-based virtual hosts: for Host evil.example every
# path is a page of evil.example's; /host echoes the Host it got.
# shellcheck disable=SC2016 # nginx's variables, not the shell's
pp_start_nginx_origin "$PP_TMP/www" '
        add_header Cache-Control "max-age=3600" always;
        if ($http_host = "evil.example") { return 200 "planted by evil.example\n"; }
        location = /host { add_header Cache-Control "max-age=3600"; return 200 "host=[$http_host]\n"; }'
# The precondition of the attack: the origin answers per Host.
expect_eq "$(pp_curl -H 'Host: evil.example' "$PP_ORIGIN_URL/page")" "planted by evil.example" \
    "the origin's /page for Host evil.example"
expect_eq "$(pp_curl "$PP_ORIGIN_URL/page")" "the site" "the origin's own /page"

port=$(pp_free_port)
origin=127.0.0.1:$PP_ORIGIN_PORT
pp_start_proxyd --name rev-host --reverse "127.0.0.1:$port=http://$origin"

# The first client forges Host; what the origin saw and what gets cached
# must be the configured origin's.
code=$(pp_curl -o "$PP_TMP/got" -w '%{http_code}' -H 'Host: evil.example' "http://127.0.0.1:$port/page")
expect_eq "$code" 200 "status with a forged Host"
expect_eq "$(cat "$PP_TMP/got")" "the site" "a forged Host gets the configured origin's page"
code=$(pp_curl -D "$PP_TMP/h" -o "$PP_TMP/got" -w '%{http_code}' "http://127.0.0.1:$port/page")
expect_eq "$code" 200 "status for the next client"
expect_eq "$(pp_header "$PP_TMP/h" X-Cache)" "HIT from rev-host" "the next client is a hit"
expect_eq "$(cat "$PP_TMP/got")" "the site" "the next client is not served evil.example's page"

code=$(pp_curl -o "$PP_TMP/got" -w '%{http_code}' -H 'Host: evil.example' "http://127.0.0.1:$port/host")
expect_eq "$code" 200 "status of /host"
expect_eq "$(cat "$PP_TMP/got")" "host=[$origin]" "Host sent upstream is the configured origin"
expect_eq "$(pp_origin_count /page)" 3 "origin fetches of /page (two by this test directly, one by proxyd)"
