#!/usr/bin/env bash
# An error answered before the whole request was read must reach the client.
# Closing with input unread or still arriving makes the
# kernel send RST, which can discard the answer in flight; proxyd closes as
# nginx's lingering_close does: answer, shut down writing, read and discard
# until the client closes (at most 5 s between reads, 30 s and 1 MiB in
# all), then close. A client that sent a 100 kB URL reads its 414 and a
# clean end (FIN, not RST), one that sent a 70 kB header its 431; a client
# that goes silent instead of closing is dropped after the 5 s.
# timeout: 60
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

printf 'ok\n' >"$PP_TMP/www-ok"
mkdir -p "$PP_TMP/www" && mv "$PP_TMP/www-ok" "$PP_TMP/www/ok"
pp_start_nginx_origin "$PP_TMP/www"
pp_start_proxyd --name linger
o=$PP_ORIGIN_URL

long_url="$o/$(head -c 100000 /dev/zero | tr '\0' a)"
big_header="X-Big: $(head -c 70000 /dev/zero | tr '\0' b)"
printf 'GET %s HTTP/1.1\r\nHost: x\r\n\r\n' "$long_url" >"$PP_TMP/url.req"
printf 'GET %s/ok HTTP/1.1\r\nHost: x\r\n%s\r\n\r\n' "$o" "$big_header" >"$PP_TMP/header.req"
# ... and a 100 kB URL followed by a 1 MB body the proxy never asked for.
{
    printf 'POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n' "$long_url"
    head -c 1000000 /dev/zero
} >"$PP_TMP/url-body.req"

# answered NAME STATUS REQUEST_FILE: rawhttp sends the request as fast as it
# can while reading; it must read STATUS and then a clean close, never a reset.
answered() {
    local name=$1 status=$2 req=$3 i rc
    for i in 1 2 3; do
        rc=0
        "$PP_TOOLS/rawhttp" --timeout-ms 10000 "$PP_PROXY" <"$req" >"$PP_TMP/raw.out" \
            2>"$PP_TMP/raw.err" || rc=$?
        expect_eq "$(head -n 1 "$PP_TMP/raw.out" | tr -d '\r' | awk '{print $2}')" "$status" \
            "$name ($i): status read by the client"
        expect_eq "$rc" 0 "$name ($i): rawhttp saw the connection end"
        expect_no_match "$(cat "$PP_TMP/raw.err")" 'reset' "$name ($i): ended by FIN, not RST"
    done
    # curl sends the whole request before it reads.
    code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -x "http://$PP_PROXY" \
        -H "@$PP_TMP/$name.hdr" "${4:-$o/ok}" 2>"$PP_TMP/curl.err") || true
    expect_eq "$code" "$status" "$name: curl read the status"
}
: >"$PP_TMP/414.hdr"
printf '%s\n' "$big_header" >"$PP_TMP/431.hdr"
answered 414 414 "$PP_TMP/url.req" "$long_url"
answered 431 431 "$PP_TMP/header.req"
cp "$PP_TMP/414.hdr" "$PP_TMP/414-body.hdr"
answered 414-body 414 "$PP_TMP/url-body.req" "$long_url"
expect_eq "$(pp_stat .connections.open)" 0 "no connection left lingering"

# A client that neither closes nor sends more is dropped after 5 s of silence.
# (For waits: each call reads /stats anew.)
open_is() { test "$(pp_stat .connections.open)" = "$1"; }
bad_requests_is() { test "$(pp_stat .bad_requests)" = "$1"; }
bad_before=$(pp_stat .bad_requests)
exec {fd}<>"/dev/tcp/127.0.0.1/$PP_PROXY_PORT"
printf 'GET %s/ok HTTP/1.1\r\nHost: x\r\nX-Space : bad\r\n\r\n' "$o" >&"$fd"
pp_wait_until 2 bad_requests_is $((bad_before + 1)) ||
    pp_die "the bad request was not answered"
expect_eq "$(pp_stat .connections.open)" 1 "the silent client's connection lingers"
head -n 1 <&"$fd" | grep -q '^HTTP/1.1 400' || pp_die "the silent client did not get its 400"
pp_log "ok: the silent client read its 400"
sleep 4
expect_eq "$(pp_stat .connections.open)" 1 "still lingering after 4 s"
pp_wait_until 4 open_is 0 ||
    pp_die "the silent client was not dropped within 8 s"
pp_log "ok: the silent client was dropped after the 5 s lingering timeout"
exec {fd}>&-
expect_eq "$(pp_curl_proxy "$o/ok")" 200 "a normal request afterwards"
