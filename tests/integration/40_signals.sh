#!/usr/bin/env bash
# Signals, as an operator uses them: SIGTERM stops accepting at once, closes
# idle connections, lets a transfer in flight finish, then proxyd exits 0;
# SIGHUP reopens the access log, so logrotate can move the file away and new
# lines go to a new file.
# timeout: 40
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_make_file "$PP_TMP/www/slow/obj" 1048576
printf 'ok\n' >"$PP_TMP/www/ok"
# 1 MiB at 400 KiB/s: a transfer of about 2.5 s.
pp_start_nginx_origin "$PP_TMP/www" '
        location /slow/ { limit_rate 400k; add_header Cache-Control "max-age=3600"; }'
o=$PP_ORIGIN_URL

# --- SIGHUP: move the log away, HUP, new lines in a new file
# Started as root, proxyd runs as the user proxy once its ports are bound:
# after a rotation it creates the new file in a directory that user may
# write, as Squid's /var/log/squid is proxy's.
mkdir -p "$PP_TMP/log"
if [ "$(id -u)" = 0 ]; then chown proxy:proxy "$PP_TMP/log"; fi
alog=$PP_TMP/log/access.log
pp_start_proxyd --name sig --access-log "$alog"
expect_eq "$(pp_curl_proxy "$o/ok")" 200 "request before the rotation"
pp_wait_until 5 grep -q "$o/ok" "$alog" || pp_die "no access-log line after 5 s"
expect_match "$(cat "$alog")" "TCP_MISS/200 [0-9]+ GET $o/ok " "access-log line (Squid native format)"
mv "$alog" "$alog.1"
kill -HUP "$PP_PROXYD_PID"
pp_wait_until 5 test -e "$alog" || pp_die "SIGHUP did not reopen $alog"
expect_eq "$(pp_curl_proxy "$o/ok")" 200 "request after the rotation"
pp_wait_until 5 grep -q TCP_MEM_HIT "$alog" || pp_die "no line in the new access log after 5 s"
expect_eq "$(grep -c "$o/ok" "$alog")" 1 "lines in the new file"
expect_eq "$(grep -c "$o/ok" "$alog.1")" 1 "lines in the rotated file"
pp_proxyd_healthy || pp_die "proxyd died on SIGHUP"

# --- SIGTERM in the middle of a slow transfer, with an idle keep-alive
# connection open beside it (closed at once, not after --idle-timeout)
exec {idle}<>"/dev/tcp/127.0.0.1/$PP_PROXY_PORT"
printf 'GET %s/ok HTTP/1.1\r\nHost: x\r\n\r\n' "$o" >&"$idle"
pp_curl -x "http://$PP_PROXY" -o "$PP_TMP/slow.got" -w '%{http_code}' "$o/slow/obj" >"$PP_TMP/slow.code" &
client=$!
sleep 0.7
kill -TERM "$PP_PROXYD_PID"
sleep 0.3
if pp_port_open 127.0.0.1 "$PP_PROXY_PORT"; then pp_die "proxyd still accepts after SIGTERM"; fi
pp_log "ok: no new connections after SIGTERM"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$PP_ADMIN_URL/healthz")" 503 "/healthz while stopping"
kill -0 "$PP_PROXYD_PID" || pp_die "proxyd exited before the transfer finished"
wait "$client" || true
# The idle connection got its response, then was closed: reading ends in EOF.
idle_got=$(timeout 3 cat <&"$idle" || echo "(no EOF within 3 s)")
exec {idle}>&-
expect_match "$idle_got" $'^HTTP/1.1 200 OK\r\n' "idle connection: its response"
expect_no_match "$idle_got" 'no EOF' "idle connection closed by proxyd"
expect_eq "$(cat "$PP_TMP/slow.code")" 200 "the transfer in flight"
expect_file_eq "$PP_TMP/slow.got" "$PP_TMP/www/slow/obj" "the transfer in flight"
rc=0
timeout 5 tail --pid="$PP_PROXYD_PID" -f /dev/null || pp_die "proxyd still running 5 s after the last transfer"
wait "$PP_PROXYD_PID" || rc=$?
expect_eq "$rc" 0 "proxyd exit code"
expect_match "$(cat "$PP_PROXYD_LOG")" 'stopped' "proxyd's last words"
