# shellcheck shell=bash disable=SC2034 # sets variables for the scenarios
# What the docker scenarios (51_docker_runtime.sh, 52_docker_nat_route.sh,
# 53_docker_adopt.sh) share: a testbed of their own, a private dockerd in its
# intermediate namespace (deploy/dockerd, removed with its data root at
# exit), proxyd's image imported into it, and the manager started in mid
# with --runtime docker. Skips only when dockerd is not installed.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_need_root "network namespaces, a private dockerd"
pp_need_tool dockerd "apt-get install docker.io: deploy/setup.sh"
[ -x "$PP_BIN/manager" ] || pp_die "no $PP_BIN/manager (run make)"

TESTBED=$PP_REPO/deploy/testbed
DOCKERD=$PP_REPO/deploy/dockerd
P=d$(($$ % 10000000))  # testbed prefix and daemon name
MP=k$(($$ % 1000))     # the manager's prefix: instances k<pid>1.., network k<pid>br
SOCK=/run/proxypool/dockerd-$P.sock
# Cleanup runs last registered first: the daemon goes before its namespace.
pp_on_cleanup "$(printf '%q' "$TESTBED") --prefix $P down >/dev/null 2>&1 || true"
pp_on_cleanup "$(printf '%q' "$DOCKERD") --name $P down --purge >/dev/null 2>&1 || true"
tb() { "$TESTBED" --prefix "$P" "$@"; }
in_mid() { nsenter --net="/run/netns/$P-mid" "$@"; }
# The Engine API, for the checks (the manager has its own client).
dapi() { curl -sS --max-time 30 --unix-socket "$SOCK" "http://docker/v1.41$1"; }
# Our label's filter, URL-encoded: {"label":["proxypool.prefix=MP"]}.
LABEL_FILTER="filters=%7B%22label%22%3A%5B%22proxypool.prefix%3D$MP%22%5D%7D"
labelled_containers() { dapi "/containers/json?all=1&$LABEL_FILTER" | jq length; }
labelled_networks() { dapi "/networks?$LABEL_FILTER" | jq length; }

# docker_testbed CLIENTS: the testbed, the daemon in its mid, the image.
docker_testbed() {
    tb up --clients "$1" >/dev/null
    "$DOCKERD" --name "$P" up >"$PP_TMP/dockerd-up.log" 2>&1 ||
        pp_die "deploy/dockerd up failed: $(cat "$PP_TMP/dockerd-up.log")"
    PP_SCAN_ALSO+=("/var/lib/proxypool/dockerd-$P.log")
    "$PP_REPO/deploy/images.sh" --socket "$SOCK" --build "$PP_BUILD" >"$PP_TMP/images.log" 2>&1 ||
        pp_die "deploy/images.sh failed: $(cat "$PP_TMP/images.log")"
}

API_PORT=$(pp_free_port)
API=http://127.0.0.1:$API_PORT
STATE=$PP_TMP/state
# Writes carry the manager's token (STATE/api.token) and the JSON content type.
api() { in_mid curl -sS --max-time 120 -H "@$(pp_api_headers "$STATE/api.token")" "$@"; }
pool() { api "$API/v1/pool"; }
ready_is() { [ "$(pool 2>/dev/null | jq -r .ready)" = "$1" ]; }

# start_manager NAME ARGS...: the manager in mid with the docker runtime.
start_manager() {
    local name=$1
    shift
    pp_bg "$name" nsenter --net="/run/netns/$P-mid" "$PP_BIN/manager" --runtime docker \
        --docker-socket "$SOCK" --api "127.0.0.1:$API_PORT" --state-dir "$STATE" --prefix "$MP" \
        --bridge "${MP}br" --subnet 198.19.0.0/24 --cpus 1 --memory 256M --drain-timeout 5s \
        --proxy-arg=--cache-mem=16M "$@"
    MANAGER_PID=$PP_LAST_PID
}

# The instance name in the X-Cache header of client K's request for URL
# through proxy PROXY ("HIT from NAME" -> "HIT NAME").
through() {
    tb exec "client-$1" -- curl -sS --max-time 15 -o /dev/null -D - -x "http://$2" "$3" |
        tr -d '\r' | awk -F': ' 'tolower($1) == "x-cache" { sub(/ from /, " ", $2); print $2 }'
}
