#!/usr/bin/env bash
# Connections that find no backend to reach (none up yet, or every connect
# refused) end before any bytes move; the ones after them, once a backend
# is up, must relay as usual. A relay freed before it connected used to give
# descriptor 0 to the splice pipe pool as if it were a pipe, and every later
# connection that took it was cut at its first byte (seen as a restarted
# Swarm task that never answered through the VIP again).
# timeout: 60
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_make_file "$PP_TMP/www/obj10k" 10240
pp_start_nginx_origin "$PP_TMP/www"
url=$PP_ORIGIN_URL/obj10k
listen=127.0.0.1:$(pp_free_port)
admin=127.0.0.1:$(pp_free_port)
pp_start_balancer --check-interval 200ms --check-timeout 300ms --rise 1 --fall 1 \
    --backend "late=$listen,health=$admin"

get() { curl -s -o /dev/null --max-time 5 -x "$PP_BAL_LISTEN" -H 'Connection: close' -w '%{http_code}' "$url" || true; }

# Nothing listens yet: refused connects, then "no backend up".
for i in 1 2 3; do
    expect_eq "$(get)" 000 "request $i before the backend exists"
done
pp_wait_until 5 pp_bal_state_is late down || pp_die "the missing backend never went down"
expect_eq "$(get)" 000 "a request while no backend is up"

pp_start_proxyd --name late --listen "$listen" --admin "$admin"
pp_wait_until 10 pp_bal_state_is late up || pp_die "the backend never came up"
ok=0
for i in $(seq 1 20); do
    [ "$(get)" != 200 ] || ok=$((ok + 1))
done
expect_eq "$ok" 20 "requests answered once the backend is up (of 20)"
expect_eq "$(pp_bal_backend late resets)" 0 "resets counted against the backend"
pp_log "connections that found no backend did not break the ones after them"
