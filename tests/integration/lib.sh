# shellcheck shell=bash disable=SC2034 # sets variables for the scenarios
# The integration-test library, in the spirit of varnishtest: a scenario
# sources it, starts real processes (nginx origin, badorigin, proxyd), talks to
# them with curl or rawhttp and asserts on what came back. Everything a scenario
# starts or creates (processes, temp dir, namespaces, iptables rules) is undone
# by an EXIT trap, whether the scenario passes, fails or is killed by timeout.
#
# Usage, at the top of tests/integration/NN_name.sh:
#   . "$(dirname "$0")/lib.sh"
#   pp_make_file "$PP_TMP/www/obj1m" 1048576
#   pp_start_nginx_origin "$PP_TMP/www"
#   pp_start_proxyd --listen "127.0.0.1:$(pp_free_port)"
#   expect_eq "$(pp_origin_count /obj1m)" 1 "origin fetches"

set -euo pipefail

# A proxy setting in the environment would send curl somewhere else.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy no_proxy NO_PROXY

PP_REPO=${PP_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PP_BUILD=${PP_BUILD:-$PP_REPO/build}
PP_BIN=$PP_BUILD/bin
PP_TOOLS=$PP_BUILD/tools
PP_SCENARIO=$(basename "$0" .sh)
# Bounds on every wait, in seconds. Sanitizer builds start slower.
PP_START_TIMEOUT=${PP_START_TIMEOUT:-20}
PP_CURL_MAX_TIME=${PP_CURL_MAX_TIME:-15}

PP_TMP=$(mktemp -d "${TMPDIR:-/tmp}/pp-it.${PP_SCENARIO}.XXXXXX")
chmod 755 "$PP_TMP" # nginx worker and squid may read from it under another uid

PP_PIDS=()       # every background process started through this library
PP_SCAN_ALSO=()  # files or directories outside $PP_TMP scanned for sanitizer reports
PP_UNDO=()       # commands run at cleanup, last registered first
PP_FAILED=0
PP_SKIPPED=0
PP_NGINX_SEQ=0
PP_PROXYD_SEQ=0

pp_log() {
    printf '%s [%s] %s\n' "$(date +%H:%M:%S.%3N)" "$PP_SCENARIO" "$*" >&2
}

pp_die() {
    pp_log "FAIL: $*"
    exit 1
}

# PP_SKIP_RC: the exit status of a scenario that could not run (automake's
# convention). run.sh reports it as SKIP and, unless PP_ALLOW_SKIP=1, fails
# the run: CI must not pass on scenarios it never ran.
PP_SKIP_RC=77

# pp_skip REASON: this scenario cannot run here (not root, a tool missing).
# Only for what the machine lacks; a missing binary of ours is a failure.
pp_skip() {
    pp_log "SKIP: $*"
    PP_SKIPPED=1
    exit "$PP_SKIP_RC"
}

# pp_need_root WHY: skips the scenario unless it runs as root.
pp_need_root() {
    [ "$(id -u)" -eq 0 ] || pp_skip "needs root ($*)"
}

# pp_need_tool COMMAND [HINT]: skips the scenario if COMMAND is not installed.
pp_need_tool() {
    command -v "$1" >/dev/null 2>&1 || pp_skip "no $1${2:+ ($2)}"
}

# ---------------------------------------------------------------- cleanup

# Registers a command (a string, run with eval) to undo something at exit.
pp_on_cleanup() {
    PP_UNDO+=("$1")
}

pp_track() {
    PP_PIDS+=("$1")
}

# True if PID runs (a zombie, exited but not yet reaped, does not count).
pp_alive() {
    local stat
    read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

# The live descendants of the given pids. One ps snapshot, walked in awk;
# the helpers that took it (ps, subshells) have exited by the time the caller
# reads the list, and pids that are gone are dropped.
pp_descendants() {
    local snap p
    snap=$(ps -e -o pid=,ppid=)
    while read -r p; do
        if pp_alive "$p"; then echo "$p"; fi
    done < <(awk -v roots="$*" '
        BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) want[r[i]] = 1 }
        { parent[$1] = $2 }
        END {
            do {
                more = 0
                for (c in parent)
                    if (!(c in want) && (parent[c] in want)) { want[c] = 1; out[c] = 1; more = 1 }
            } while (more)
            for (c in out) print c
        }' <<<"$snap")
}

# TERM, a bounded wait, then KILL: for the given pids only.
pp_stop_pids() {
    local pid alive i
    [ "$#" -gt 0 ] || return 0
    kill -TERM "$@" 2>/dev/null || true
    for i in $(seq 1 50); do
        alive=0
        for pid in "$@"; do
            if pp_alive "$pid"; then alive=1; fi
        done
        [ "$alive" = 1 ] || break
        [ "$i" -lt 50 ] && sleep 0.1
    done
    for pid in "$@"; do
        if pp_alive "$pid"; then
            pp_log "cleanup: pid $pid ($(ps -o comm= -p "$pid")) ignored SIGTERM for 5 s, killing"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    wait "$@" 2>/dev/null || true
}

# What a sanitizer writes when it finds something: ASan's and LSan's
# "==PID==ERROR: AddressSanitizer: ...", UBSan's "file:line: runtime error:",
# and LeakSanitizer's own failures ("LeakSanitizer has encountered a fatal
# error"), since a leak check that could not run proves nothing.
PP_SANITIZER_RE='ERROR: [A-Za-z]*Sanitizer|LeakSanitizer|runtime error:'

# pp_scan_also PATH...: files or directories outside $PP_TMP whose logs are
# scanned too (under $PP_TMP, every log is scanned anyway).
pp_scan_also() {
    PP_SCAN_ALSO+=("$@")
}

# pp_collect_logs DIR: copies the logs under DIR (kept out of $PP_TMP by the
# program that wrote them) into $PP_TMP/collected/, for the scan and the dump
# on failure; for cleanup commands that remove DIR next.
pp_collect_logs() {
    local dest
    [ -d "$1" ] || return 0
    dest=$PP_TMP/collected/$(basename "$1")
    mkdir -p "$dest"
    (cd "$1" && find . -type f \( -name '*.log' -o -name '*.err' -o -name '*.out' \) \
        -exec cp --parents -t "$dest" {} +) || pp_log "cleanup: could not collect the logs of $1"
}

# pp_sanitizer_logs: the files a sanitizer report may be in, one a line:
# every log (*.log, *.err, *.out) under $PP_TMP, at any depth (instances the
# manager starts write STATE/<name>.log, its balancer STATE/<prefix>-balancer.log,
# ppexp OUT/logs/ and OUT/runs/), and those under the pp_scan_also paths.
pp_sanitizer_logs() {
    find "$PP_TMP" "${PP_SCAN_ALSO[@]}" -type f \( -name '*.log' -o -name '*.err' -o -name '*.out' \) \
        2>/dev/null | sort -u
}

# pp_scan_sanitizer_reports: fails the scenario (PP_FAILED=1, returns 1) if
# any of those logs holds a sanitizer report, even if every response looked
# right (make asan runs the same scenarios): a managed instance that crashed
# was restarted and would otherwise have passed unnoticed. Prints each log
# with a report and the first report in it (the first three logs in full).
# Run at cleanup, once every daemon has stopped and written its leak report.
pp_scan_sanitizer_reports() {
    local log found=0
    while IFS= read -r log; do
        grep -qaE "$PP_SANITIZER_RE" "$log" || continue
        found=$((found + 1))
        pp_log "FAIL: sanitizer report in $log"
        if [ "$found" -le 3 ]; then
            grep -a -m 1 -B 2 -A 40 -E "$PP_SANITIZER_RE" "$log" | sed 's/^/    | /' >&2 || true
        fi
    done < <(pp_sanitizer_logs)
    [ "$found" -eq 0 ] && return 0
    pp_log "FAIL: sanitizer reports in $found log(s)"
    PP_FAILED=1
    return 1
}

pp_cleanup() {
    local rc=$? i pids
    trap - EXIT INT TERM
    # A skip is a skip only if pp_skip said so: any other 77 is a failure.
    if [ "$rc" -eq "$PP_SKIP_RC" ] && [ "$PP_SKIPPED" = 1 ]; then
        rc=0
    elif [ "$rc" -ne 0 ]; then
        PP_FAILED=1
    fi
    # Daemons first, politely, so they can finish and flush their reports;
    # then whatever they or the scenario left behind.
    if [ "${#PP_PIDS[@]}" -gt 0 ]; then
        # shellcheck disable=SC2046 # one pid per word
        pp_stop_pids $(pp_descendants "${PP_PIDS[@]}") "${PP_PIDS[@]}"
    fi
    pids=$(pp_descendants $$)
    # shellcheck disable=SC2086
    [ -z "$pids" ] || pp_stop_pids $pids
    for ((i = ${#PP_UNDO[@]} - 1; i >= 0; i--)); do
        eval "${PP_UNDO[$i]}" || pp_log "cleanup: '${PP_UNDO[$i]}' failed"
    done
    pp_scan_sanitizer_reports || true
    if [ "$PP_FAILED" != 0 ]; then
        pp_dump_logs
        rc=1
    elif [ "$PP_SKIPPED" = 1 ]; then
        rc=$PP_SKIP_RC
    fi
    if [ "${PP_KEEP_TMP:-0}" = 1 ]; then
        pp_log "kept $PP_TMP"
    else
        rm -rf "$PP_TMP"
    fi
    exit "$rc"
}

# On failure, the last lines of every log the scenario's processes wrote.
pp_dump_logs() {
    local f
    while IFS= read -r f; do
        [ -s "$f" ] || continue
        echo "---- tail of ${f#"$PP_TMP"/}" >&2
        tail -n 25 "$f" >&2
    done < <(find "$PP_TMP" -maxdepth 4 -type f \( -name '*.log' -o -name '*.err' \) | sort)
}

trap pp_cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# ---------------------------------------------------------------- ports, waits

# A free TCP port on 127.0.0.1, below the ephemeral range (so client sockets
# cannot take it between now and the bind), never handed out twice here.
pp_free_port() {
    local low port tries
    low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    [ "$low" -gt 12000 ] || low=32768
    for tries in $(seq 1 200); do
        port=$((10000 + (RANDOM * 32768 + RANDOM) % (low - 10000)))
        # Callers use $(pp_free_port), a subshell: remember ports in a file.
        if grep -qx "$port" "$PP_TMP/.ports" 2>/dev/null; then continue; fi
        if [ -z "$(ss -Htan "sport = :$port" 2>/dev/null)" ]; then
            echo "$port" >>"$PP_TMP/.ports"
            echo "$port"
            return 0
        fi
    done
    pp_die "pp_free_port: no free port after $tries tries"
}

# True once HOST:PORT accepts a TCP connection.
pp_port_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

# pp_wait_port HOST PORT [SECONDS] [PID]: waits until the port accepts
# connections; fails early if PID (the server) has died.
pp_wait_port() {
    local host=$1 port=$2 secs=${3:-$PP_START_TIMEOUT} pid=${4:-} deadline
    deadline=$((SECONDS + secs))
    while ! pp_port_open "$host" "$port"; do
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            pp_die "process $pid exited before $host:$port opened"
        fi
        [ "$SECONDS" -lt "$deadline" ] || pp_die "$host:$port not open after ${secs}s"
        sleep 0.05
    done
}

# pp_wait_until SECONDS COMMAND...: polls COMMAND every 50 ms until it succeeds.
pp_wait_until() {
    local secs=$1 deadline
    shift
    deadline=$((SECONDS + secs))
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.05
    done
}

# pp_bg NAME COMMAND...: runs COMMAND in the background with its output in
# $PP_TMP/NAME.log, tracked for cleanup; sets PP_LAST_PID.
pp_bg() {
    local name=$1
    shift
    "$@" >"$PP_TMP/$name.log" 2>&1 </dev/null &
    PP_LAST_PID=$!
    pp_track "$PP_LAST_PID"
}

# ---------------------------------------------------------------- files

# pp_make_file PATH BYTES: random content, so a wrong byte anywhere shows.
pp_make_file() {
    mkdir -p "$(dirname "$1")"
    head -c "$2" /dev/urandom >"$1"
}

pp_sha() {
    sha256sum "$1" | awk '{print $1}'
}

pp_count_lines() {
    if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi
}

# ---------------------------------------------------------------- nginx origin

# pp_start_nginx_origin DOCROOT [EXTRA_SERVER_DIRECTIVES]: a real nginx in the
# foreground (one process), on a free loopback port, serving DOCROOT with
# Cache-Control max-age=3600 on every file. Sets PP_ORIGIN_PORT,
# PP_ORIGIN_URL (http://127.0.0.1:PORT), PP_ORIGIN_LOG (access log),
# PP_ORIGIN_PID, PP_ORIGIN_DIR (its config and logs).
pp_start_nginx_origin() {
    local docroot=$1 extra=${2:-} dir port user_line=""
    pp_need_tool nginx "make deps installs it"
    [ -d "$docroot" ] || pp_die "pp_start_nginx_origin: no docroot $docroot"
    docroot=$(cd "$docroot" && pwd)
    PP_NGINX_SEQ=$((PP_NGINX_SEQ + 1))
    dir=$PP_TMP/nginx-origin-$PP_NGINX_SEQ
    mkdir -p "$dir/tmp"
    port=$(pp_free_port)
    [ "$(id -u)" -eq 0 ] && user_line="user root;"
    cat >"$dir/nginx.conf" <<EOF
# generated by tests/integration/lib.sh for $PP_SCENARIO
daemon off;
master_process off;
worker_processes 1;
$user_line
pid $dir/nginx.pid;
error_log $dir/error.log info;
events { worker_connections 4096; }
http {
    log_format pp '\$remote_addr \$request_method \$request_uri \$status \$body_bytes_sent \$request_time';
    access_log $dir/access.log pp;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 65s;
    server {
        listen 127.0.0.1:$port;
        server_name origin;
        root $docroot;
        location / {
            add_header Cache-Control "max-age=3600";
        }
        $extra
    }
}
EOF
    nginx -q -t -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" 2>"$dir/configtest.err" ||
        pp_die "nginx rejected $dir/nginx.conf: $(cat "$dir/configtest.err")"
    nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" >"$dir/stdout.log" 2>&1 </dev/null &
    PP_ORIGIN_PID=$!
    pp_track "$PP_ORIGIN_PID"
    pp_wait_port 127.0.0.1 "$port" "$PP_START_TIMEOUT" "$PP_ORIGIN_PID"
    PP_ORIGIN_PORT=$port
    PP_ORIGIN_URL=http://127.0.0.1:$port
    PP_ORIGIN_LOG=$dir/access.log
    PP_ORIGIN_DIR=$dir
    pp_log "nginx origin pid $PP_ORIGIN_PID on 127.0.0.1:$port serving $docroot"
}

# pp_origin_count PATH [ACCESS_LOG]: requests nginx logged for exactly PATH
# (the request URI, query included). nginx writes the line after the last
# byte is sent, so this waits until two reads 100 ms apart agree.
pp_origin_count() {
    local path=$1 log=${2:-$PP_ORIGIN_LOG} prev=-1 n i
    for i in $(seq 1 20); do
        n=0
        [ -f "$log" ] && n=$(awk -v p="$path" '$3 == p { c++ } END { print c + 0 }' "$log")
        [ "$n" = "$prev" ] && break
        prev=$n
        [ "$i" -lt 20 ] && sleep 0.1
    done
    echo "$n"
}

# ---------------------------------------------------------------- badorigin

# pp_start_badorigin MODE [MORE_ARGS...]: the scripted origin of
# tests/tools/badorigin.c. Sets PP_BAD_PORT, PP_BAD_URL, PP_BAD_COUNT_FILE,
# PP_BAD_PID. pp_count_lines "$PP_BAD_COUNT_FILE" counts requests it got.
pp_start_badorigin() {
    local mode=$1 port
    shift
    [ -x "$PP_TOOLS/badorigin" ] || pp_die "no $PP_TOOLS/badorigin (run make)"
    port=$(pp_free_port)
    PP_BAD_COUNT_FILE=$PP_TMP/badorigin-$port.count
    : >"$PP_BAD_COUNT_FILE"
    pp_bg "badorigin-$port" "$PP_TOOLS/badorigin" --listen "127.0.0.1:$port" --mode "$mode" \
        --count-file "$PP_BAD_COUNT_FILE" --max-seconds 300 "$@"
    PP_BAD_PID=$PP_LAST_PID
    pp_wait_port 127.0.0.1 "$port" "$PP_START_TIMEOUT" "$PP_BAD_PID"
    PP_BAD_PORT=$port
    PP_BAD_URL=http://127.0.0.1:$port
    pp_log "badorigin pid $PP_BAD_PID mode $mode on 127.0.0.1:$port"
}

# pp_badorigin_body BYTES FILE: the body badorigin sends (byte i is
# 'a' + i % 26), to compare what a client received against.
pp_badorigin_body() {
    awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) printf "%c", 97 + i % 26 }' >"$2"
}

# ---------------------------------------------------------------- proxyd

# pp_start_proxyd ARGS...: $PP_BIN/proxyd with ARGS; adds --admin on a free
# port and --name it when ARGS lack them, and --listen on a free port when
# ARGS name no listener at all. Waits until the admin /healthz answers 200.
# proxyd refuses loopback destinations unless opened, and the origin
# (pp_start_nginx_origin) is on 127.0.0.1: --allow-dest 127.0.0.1/32 is added
# unless ARGS say --allow-dest themselves or PP_PROXYD_ALLOW_ORIGIN=0.
# Sets PP_PROXY_PORT (first --listen port, if any), PP_PROXY (host:port of it),
# PP_ADMIN_PORT, PP_ADMIN_URL, PP_PROXYD_PID, PP_PROXYD_LOG, PP_PROXYD_NAME.
pp_start_proxyd() {
    local args=("$@") have_admin=0 have_listener=0 have_name=0 have_allow_dest=0 i a log admin="" listen=""
    [ -x "$PP_BIN/proxyd" ] || pp_die "no $PP_BIN/proxyd (run make)"
    PP_PROXYD_NAME=$PP_SCENARIO
    for ((i = 0; i < ${#args[@]}; i++)); do
        a=${args[$i]}
        case "$a" in
        --admin) have_admin=1 admin=${args[$((i + 1))]:-} ;;
        --admin=*) have_admin=1 admin=${a#--admin=} ;;
        --listen)
            have_listener=1
            if [ -z "$listen" ]; then listen=${args[$((i + 1))]:-}; fi
            ;;
        --listen=*)
            have_listener=1
            if [ -z "$listen" ]; then listen=${a#--listen=}; fi
            ;;
        --intercept | --intercept=* | --reverse | --reverse=*) have_listener=1 ;;
        --name) have_name=1 PP_PROXYD_NAME=${args[$((i + 1))]:-} ;;
        --name=*) have_name=1 PP_PROXYD_NAME=${a#--name=} ;;
        --allow-dest | --allow-dest=*) have_allow_dest=1 ;;
        esac
    done
    if [ "$have_allow_dest" = 0 ] && [ "${PP_PROXYD_ALLOW_ORIGIN:-1}" != 0 ]; then
        args+=(--allow-dest 127.0.0.1/32)
    fi
    if [ "$have_admin" = 0 ]; then
        admin=127.0.0.1:$(pp_free_port)
        args+=(--admin "$admin")
    fi
    if [ "$have_listener" = 0 ]; then
        listen=127.0.0.1:$(pp_free_port)
        args+=(--listen "$listen")
    fi
    [ "$have_name" = 1 ] || args+=(--name "$PP_PROXYD_NAME")
    PP_PROXYD_SEQ=$((PP_PROXYD_SEQ + 1))
    log=$PP_TMP/proxyd-$PP_PROXYD_SEQ.log
    pp_log "starting proxyd ${args[*]}"
    "$PP_BIN/proxyd" "${args[@]}" >"$log" 2>&1 </dev/null &
    PP_PROXYD_PID=$!
    pp_track "$PP_PROXYD_PID"
    PP_PROXYD_LOG=$log
    PP_ADMIN_PORT=${admin##*:}
    PP_ADMIN_URL=http://${admin%:*}:$PP_ADMIN_PORT
    PP_PROXY=$listen
    PP_PROXY_PORT=${listen##*:}
    if ! pp_wait_until "$PP_START_TIMEOUT" pp_proxyd_healthy; then
        kill -0 "$PP_PROXYD_PID" 2>/dev/null || pp_die "proxyd exited at start-up (see $log)"
        pp_die "proxyd's $PP_ADMIN_URL/healthz did not answer 200 within ${PP_START_TIMEOUT}s"
    fi
    pp_log "proxyd pid $PP_PROXYD_PID listening on ${PP_PROXY:-?}, admin $admin"
}

# Starts the balancer with the given arguments, adding --admin and --listen
# on free loopback ports unless given. Sets PP_BAL_PID, PP_BAL_LOG,
# PP_BAL_ADMIN (http://127.0.0.1:PORT), PP_BAL_LISTEN (ADDR:PORT of the
# first --listen) and waits for its /healthz.
pp_start_balancer() {
    local args=("$@") have_admin=0 listen="" i a admin="" have_auth=0
    [ -x "$PP_BIN/balancer" ] || pp_die "no $PP_BIN/balancer (run make)"
    for ((i = 0; i < ${#args[@]}; i++)); do
        a=${args[$i]}
        case "$a" in
        --token-file) have_auth=1 PP_BAL_TOKEN_FILE=${args[$((i + 1))]:-} ;;
        --token-file=*) have_auth=1 PP_BAL_TOKEN_FILE=${a#--token-file=} ;;
        --no-auth) have_auth=1 ;;
        --admin) have_admin=1 admin=${args[$((i + 1))]:-} ;;
        --admin=*) have_admin=1 admin=${a#--admin=} ;;
        --listen) [ -n "$listen" ] || listen=${args[$((i + 1))]:-} ;;
        --listen=*) [ -n "$listen" ] || listen=${a#--listen=} ;;
        esac
    done
    if [ "$have_admin" = 0 ]; then
        admin=127.0.0.1:$(pp_free_port)
        args+=(--admin "$admin")
    fi
    if [ -z "$listen" ]; then
        listen=127.0.0.1:$(pp_free_port)
        args+=(--listen "$listen")
    fi
    if [ "$have_auth" = 0 ]; then # the admin API's token, as an operator makes one
        PP_BAL_TOKEN_FILE=$PP_TMP/balancer.token
        [ -s "$PP_BAL_TOKEN_FILE" ] || (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$PP_BAL_TOKEN_FILE")
        args+=(--token-file "$PP_BAL_TOKEN_FILE")
    fi
    PP_BAL_SEQ=$((${PP_BAL_SEQ:-0} + 1))
    PP_BAL_LOG=$PP_TMP/balancer-$PP_BAL_SEQ.log
    pp_log "starting balancer ${args[*]}"
    "$PP_BIN/balancer" "${args[@]}" >"$PP_BAL_LOG" 2>&1 </dev/null &
    PP_BAL_PID=$!
    pp_track "$PP_BAL_PID"
    PP_BAL_ADMIN=http://$admin
    PP_BAL_LISTEN=$listen
    if ! pp_wait_until "$PP_START_TIMEOUT" curl -sf -o /dev/null "$PP_BAL_ADMIN/healthz"; then
        kill -0 "$PP_BAL_PID" 2>/dev/null || pp_die "balancer exited at start-up (see $PP_BAL_LOG)"
        pp_die "balancer's $PP_BAL_ADMIN/healthz did not answer within ${PP_START_TIMEOUT}s"
    fi
    pp_log "balancer pid $PP_BAL_PID listening on $listen, admin $admin"
}

# The balancer's open client connections; pp_bal_active_is N for waits
# (pp_wait_until 5 pp_bal_active_is 0), which must re-read it each time.
pp_bal_active() {
    curl -s --max-time 5 "$PP_BAL_ADMIN/v1/backends" | jq .connections.active
}
pp_bal_active_is() {
    test "$(pp_bal_active)" = "$1"
}
pp_bal_active_ge() {
    local n
    n=$(pp_bal_active)
    [ -n "$n" ] && [ "$n" -ge "$1" ]
}

# The balancer's view of one backend field: pp_bal_backend NAME FIELD
pp_bal_backend() {
    curl -sf --max-time 5 "$PP_BAL_ADMIN/v1/backends" |
        jq -r --arg n "$1" --arg f "$2" '.backends[] | select(.name == $n) | .[$f]'
}
# For waits: pp_wait_until 5 pp_bal_state_is p2 down
pp_bal_state_is() {
    test "$(pp_bal_backend "$1" state)" = "$2"
}

# ---------------------------------------------------------------- API tokens

# pp_api_headers TOKEN_FILE: a file of the headers a write to the manager's
# API or the balancer's admin needs (the bearer token in TOKEN_FILE, the JSON
# content type), printed for curl -H @FILE; re-read each call, so it follows
# a token the daemon generated at start. The file is 0600 in $PP_TMP.
pp_api_headers() {
    local tok hdr
    tok=$(head -n 1 "$1" 2>/dev/null) || tok=
    hdr=$PP_TMP/.api-headers.$(printf '%s' "$1" | md5sum | cut -c1-12)
    (umask 077 && printf 'Authorization: Bearer %s\nContent-Type: application/json\n' "$tok" >"$hdr")
    echo "$hdr"
}

# pp_api METHOD URL [JSON] [CURL_ARGS...]: one call to the manager's API with
# the token of its state dir (PP_API_STATE, default $PP_TMP/state: the
# manager generates STATE/api.token at start); prints the body as curl does.
# pp_bal_api is the same for the balancer's admin (PP_BAL_TOKEN_FILE).
pp_api() {
    local method=$1 url=$2 body=${3:-}
    shift 2
    [ "$#" -gt 0 ] && shift
    pp_curl -X "$method" -H "@$(pp_api_headers "${PP_API_STATE:-$PP_TMP/state}/api.token")" \
        ${body:+--data-binary "$body"} "$@" "$url"
}
pp_bal_api() {
    local method=$1 url=$2 body=${3:-}
    shift 2
    [ "$#" -gt 0 ] && shift
    pp_curl -X "$method" -H "@$(pp_api_headers "$PP_BAL_TOKEN_FILE")" \
        ${body:+--data-binary "$body"} "$@" "$url"
}

pp_proxyd_healthy() {
    kill -0 "$PP_PROXYD_PID" 2>/dev/null || pp_die "proxyd (pid $PP_PROXYD_PID) died; log: $(tail -n 5 "$PP_PROXYD_LOG")"
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$PP_ADMIN_URL/healthz" 2>/dev/null)" = 200 ]
}

# pp_metric NAME: the value of one Prometheus sample from /metrics (first
# line whose name, labels included, is exactly NAME); empty if absent.
pp_metric() {
    curl -s --max-time 5 "$PP_ADMIN_URL/metrics" | awk -v m="$1" '$1 == m { print $2; exit }'
}

# pp_stat JQ_PATH: one value from proxyd's /stats JSON (e.g. .hits,
# .origin_errors.timeout, '.requests.by_code["200"] // 0').
pp_stat() {
    curl -s --max-time 5 "$PP_ADMIN_URL/stats" | jq -r "$1"
}

# ---------------------------------------------------------------- HTTP clients

# pp_curl ARGS...: curl, silent but showing errors, bounded in time.
pp_curl() {
    curl -sS --max-time "$PP_CURL_MAX_TIME" "$@"
}

# pp_curl_proxy URL [ARGS...]: through proxyd's forward listener, headers in
# $PP_TMP/last.headers, body in $PP_TMP/last.body; prints the status code.
pp_curl_proxy() {
    local url=$1
    shift
    pp_curl -x "http://$PP_PROXY" -D "$PP_TMP/last.headers" -o "$PP_TMP/last.body" \
        -w '%{http_code}' "$@" "$url"
}

# pp_header FILE NAME: the value of header NAME in a curl -D dump (the last
# response's, case-insensitive, CR stripped).
pp_header() {
    tr -d '\r' <"$1" | awk -v n="$(echo "$2" | tr '[:upper:]' '[:lower:]')" '
        /^HTTP\// { v = "" }
        { i = index($0, ":"); if (i > 0 && tolower(substr($0, 1, i - 1)) == n) {
              v = substr($0, i + 1); sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v) } }
        END { print v }'
}

# pp_raw HOST:PORT ARGS...: tests/tools/rawhttp (see rawhttp --help) in this
# shell: what came back is in the file $PP_RAW_OUT, the exit code in
# PP_RAW_RC (0 the peer closed, 2 timeout, 1 error). Use it without $(...).
pp_raw() {
    [ -x "$PP_TOOLS/rawhttp" ] || pp_die "no $PP_TOOLS/rawhttp (run make)"
    PP_RAW_OUT=$PP_TMP/raw.out
    PP_RAW_RC=0
    "$PP_TOOLS/rawhttp" "$@" >"$PP_RAW_OUT" || PP_RAW_RC=$?
}

# The status code of the first response in $PP_RAW_OUT (empty if none).
pp_raw_status() {
    head -n 1 "$PP_RAW_OUT" | tr -d '\r' | awk '/^HTTP\/1\.[01] [0-9][0-9][0-9]/ { print $2 }'
}

# ---------------------------------------------------------------- namespaces, iptables

# pp_netns NAME: creates a network namespace with a name unique to this run
# (printed), removed at cleanup with every process inside it. Keep the printed
# name: `ns=$(pp_netns client)` runs in a subshell, so register from here.
pp_netns() {
    local ns="pp-${PP_SCENARIO:0:12}-$$-$1"
    ip netns add "$ns" || pp_die "ip netns add $ns failed"
    ip -n "$ns" link set lo up
    echo "$ns" >>"$PP_TMP/.netns"
    echo "$ns"
}

pp_netns_cleanup() {
    local ns pids
    [ -f "$PP_TMP/.netns" ] || return 0
    while IFS= read -r ns; do
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        # shellcheck disable=SC2086
        [ -z "$pids" ] || pp_stop_pids $pids
        ip netns del "$ns" 2>/dev/null || pp_log "cleanup: ip netns del $ns failed"
    done < <(tac "$PP_TMP/.netns")
}
pp_on_cleanup pp_netns_cleanup

# pp_iptables [-n NETNS] [-t TABLE] -A|-I CHAIN RULE...: adds a rule and
# registers its deletion. Prefer rules inside a scenario's own namespace:
# they vanish with it even if cleanup is cut short.
pp_iptables() {
    local ns=() args=() del=() i a
    if [ "${1:-}" = -n ]; then
        ns=(ip netns exec "$2")
        shift 2
    fi
    args=("$@")
    for ((i = 0; i < ${#args[@]}; i++)); do
        a=${args[$i]}
        case "$a" in
        -A) del+=(-D) ;;
        -I)
            del+=(-D "${args[$((i + 1))]}")
            i=$((i + 1))
            # -I CHAIN NUM: the position is not part of the rule
            if [[ "${args[$((i + 1))]:-}" =~ ^[0-9]+$ ]]; then i=$((i + 1)); fi
            continue
            ;;
        *) del+=("$a") ;;
        esac
    done
    # The project writes legacy iptables (libiptc); tests use the same tables.
    local ipt=iptables
    if command -v iptables-legacy >/dev/null 2>&1; then ipt=iptables-legacy; fi
    "${ns[@]}" "$ipt" "${args[@]}" || pp_die "$ipt ${args[*]} failed"
    pp_on_cleanup "$(printf '%q ' "${ns[@]}" "$ipt" "${del[@]}")"
}

# ---------------------------------------------------------------- assertions

pp_where() {
    local i
    for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
        if [ "${BASH_SOURCE[$i]}" != "${BASH_SOURCE[0]}" ]; then
            echo "$(basename "${BASH_SOURCE[$i]}"):${BASH_LINENO[$((i - 1))]}"
            return
        fi
    done
}

# expect_eq ACTUAL EXPECTED [WHAT]
expect_eq() {
    if [ "$1" = "$2" ]; then
        pp_log "ok: ${3:-value} = '$2'"
    else
        pp_die "$(pp_where): ${3:-value}: expected '$2', saw '$1'"
    fi
}

# expect_ne ACTUAL UNEXPECTED [WHAT]
expect_ne() {
    if [ "$1" != "$2" ]; then
        pp_log "ok: ${3:-value} != '$2' ('$1')"
    else
        pp_die "$(pp_where): ${3:-value}: expected anything but '$2'"
    fi
}

# expect_match ACTUAL ERE [WHAT]
expect_match() {
    if [[ "$1" =~ $2 ]]; then
        pp_log "ok: ${3:-value} matches /$2/"
    else
        pp_die "$(pp_where): ${3:-value}: expected a match for /$2/, saw '$(printf '%s' "$1" | head -c 2000)'"
    fi
}

# expect_no_match ACTUAL ERE [WHAT]
expect_no_match() {
    if ! [[ "$1" =~ $2 ]]; then
        pp_log "ok: ${3:-value} does not match /$2/"
    else
        pp_die "$(pp_where): ${3:-value}: expected no match for /$2/, saw '$(printf '%s' "$1" | head -c 2000)'"
    fi
}

pp_is_int() {
    [[ "$1" =~ ^-?[0-9]+$ ]]
}

# expect_le ACTUAL MAX [WHAT] (integers)
expect_le() {
    if ! pp_is_int "$1" || ! pp_is_int "$2"; then
        pp_die "$(pp_where): ${3:-value}: not integers: '$1' <= '$2'"
    fi
    if [ "$1" -le "$2" ]; then
        pp_log "ok: ${3:-value} = $1 <= $2"
    else
        pp_die "$(pp_where): ${3:-value}: expected <= $2, saw $1"
    fi
}

# expect_ge ACTUAL MIN [WHAT] (integers)
expect_ge() {
    if ! pp_is_int "$1" || ! pp_is_int "$2"; then
        pp_die "$(pp_where): ${3:-value}: not integers: '$1' >= '$2'"
    fi
    if [ "$1" -ge "$2" ]; then
        pp_log "ok: ${3:-value} = $1 >= $2"
    else
        pp_die "$(pp_where): ${3:-value}: expected >= $2, saw $1"
    fi
}

# expect_file_eq ACTUAL_FILE EXPECTED_FILE [WHAT]: byte for byte.
expect_file_eq() {
    if cmp -s "$1" "$2"; then
        pp_log "ok: ${3:-file} identical to ${2##*/} ($(stat -c %s "$2") bytes)"
    else
        pp_die "$(pp_where): ${3:-file}: $1 ($(stat -c %s "$1" 2>/dev/null || echo missing) bytes) differs from $2 ($(stat -c %s "$2") bytes)"
    fi
}
