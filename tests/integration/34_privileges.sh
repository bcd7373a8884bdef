#!/usr/bin/env bash
# Privileges: proxyd started as root binds its ports and
# then runs as an unprivileged user (proxy by default, --user to choose)
# with no capability in any set and PR_SET_NO_NEW_PRIVS, every thread of
# it; so do the proxyd instances the manager starts, in the process and in
# the container runtime. --user root keeps root, on purpose and with a
# warning; a user that does not exist stops it at start. What is asserted is
# /proc/PID/task/*/status.
# timeout: 120
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_need_root "starting proxyd as root is what is tested"
[ -x "$PP_BIN/manager" ] || pp_die "no $PP_BIN/manager (run make)"
getent passwd proxy >/dev/null || pp_skip "no user proxy (Debian's base passwd has one)"
PROXY_UID=$(id -u proxy)
pp_make_file "$PP_TMP/www/obj" 2048
pp_start_nginx_origin "$PP_TMP/www"

# expect_unprivileged PID WHAT [UID]: every thread of PID runs as UID (the
# proxy user's by default) in every uid field, with no capability, no
# supplementary group and no_new_privs.
expect_unprivileged() {
    local pid=$1 what=$2 want=${3:-$PROXY_UID} task n=0 st
    for task in /proc/"$pid"/task/*; do
        st=$(cat "$task/status") || pp_die "$what: pid $pid has gone"
        n=$((n + 1))
        expect_eq "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' <<<"$st")" "$want $want $want $want" "$what: Uid (thread ${task##*/})"
        expect_ne "$(awk '/^Uid:/ { print $2 }' <<<"$st")" 0 "$what: not root (thread ${task##*/})"
        expect_eq "$(awk '/^Groups:/ { print $2 }' <<<"$st")" "" "$what: supplementary groups"
        for set in CapEff CapPrm CapInh CapBnd CapAmb; do
            expect_eq "$(awk -v s="$set:" '$1 == s { print $2 }' <<<"$st")" 0000000000000000 "$what: $set (thread ${task##*/})"
        done
        expect_eq "$(awk '/^NoNewPrivs:/ { print $2 }' <<<"$st")" 1 "$what: NoNewPrivs"
    done
    expect_ge "$n" 1 "$what: threads read"
}

# --- standalone, default user, two worker threads, an access log
pp_start_proxyd --name priv --threads 2 --access-log "$PP_TMP/access.log"
expect_unprivileged "$PP_PROXYD_PID" "standalone proxyd"
expect_eq "$(find /proc/"$PP_PROXYD_PID"/task -mindepth 1 -maxdepth 1 | wc -l)" 2 "threads of the standalone proxyd"
expect_eq "$(pp_curl_proxy "$PP_ORIGIN_URL/obj")" 200 "a request through the unprivileged proxyd"
expect_match "$(cat "$PP_PROXYD_LOG")" "running as user proxy \\(uid $PROXY_UID" "the drop is logged"
expect_eq "$(stat -c %U "$PP_TMP/access.log")" proxy "the access log is the proxy user's (SIGHUP can reopen it)"

# --- an access log that is not a regular file is written, not handed over
pp_start_proxyd --name priv-stdout --access-log /dev/stdout
expect_eq "$(pp_curl_proxy "$PP_ORIGIN_URL/obj")" 200 "a request through proxyd logging to /dev/stdout"
expect_unprivileged "$PP_PROXYD_PID" "proxyd --access-log /dev/stdout"

# --- --user NAME
pp_start_proxyd --name priv-nobody --user nobody
expect_unprivileged "$PP_PROXYD_PID" "proxyd --user nobody" "$(id -u nobody)"

# --- --user root: kept on purpose, said loudly
pp_start_proxyd --name priv-root --user root
expect_eq "$(awk '/^Uid:/ { print $2 }' /proc/"$PP_PROXYD_PID"/status)" 0 "--user root keeps root"
expect_match "$(cat "$PP_PROXYD_LOG")" "warn: --user root: running as root" "--user root warns"

# --- a user that does not exist: no start
rc=0
"$PP_BIN/proxyd" --listen "127.0.0.1:$(pp_free_port)" --user no-such-user-pp >"$PP_TMP/nouser.log" 2>&1 || rc=$?
expect_ne "$rc" 0 "exit status with --user no-such-user-pp"
expect_match "$(cat "$PP_TMP/nouser.log")" "no-such-user-pp" "the error names the user"

# --- instances the manager starts: process and container runtimes
PREFIX=pv$$
PREFIX=${PREFIX:0:7}
tns=$(pp_netns priv)
NS=(nsenter --net="/run/netns/$tns")
cleanup_prefix() {
    local d
    for d in $(find /sys/fs/cgroup -maxdepth 3 -type d -name "$PREFIX*" | sort -r); do
        xargs -r kill -KILL <"$d/cgroup.procs" 2>/dev/null || true
    done
    sleep 0.2
    find /sys/fs/cgroup -maxdepth 3 -depth -type d -name "$PREFIX*" -exec rmdir {} \; 2>/dev/null || true
}
pp_on_cleanup cleanup_prefix

# The manager keeps only what it uses (manager/main.c's list: NET_ADMIN,
# NET_RAW, SYS_ADMIN, SYS_PTRACE, KILL, SETUID, SETGID, SETPCAP, CHOWN,
# DAC_OVERRIDE, FOWNER, NET_BIND_SERVICE, SYS_RESOURCE), in every set.
MANAGER_CAPS=0x12835eb
expect_manager_caps() { # PID WHAT
    local field mask
    for field in CapEff CapPrm CapBnd; do
        mask=$(awk -v f="$field:" '$1 == f { print $2 }' "/proc/$1/status")
        expect_eq "$(printf '%x' $((0x$mask & ~MANAGER_CAPS)))" 0 "$2: $field bits outside the manager's list (0x$mask)"
    done
    mask=$(awk '$1 == "CapEff:" { print $2 }' "/proc/$1/status")
    expect_eq $(((0x$mask >> 12) & 1)) 1 "$2: CAP_NET_ADMIN kept"
}

for rt in process container; do
    API_PORT=$(pp_free_port)
    BASE=$(pp_free_port)
    wrap=() extra=()
    if [ "$rt" = container ]; then
        wrap=("${NS[@]}")
        extra=(--subnet 198.19.0.0/24 --bridge "${PREFIX}br" --cpus 1 --memory 256M)
    fi
    pp_bg "manager-$rt" "${wrap[@]}" "$PP_BIN/manager" --runtime "$rt" --replicas 2 \
        --api "127.0.0.1:$API_PORT" --base-port "$BASE" --state-dir "$PP_TMP/state-$rt" \
        --prefix "$PREFIX" --drain-timeout 2s --proxy-arg=--cache-mem=16M --proxy-arg=--threads=2 \
        "${extra[@]}"
    mpid=$PP_LAST_PID
    pool() { "${wrap[@]}" curl -s --max-time 2 "http://127.0.0.1:$API_PORT/v1/pool"; }
    ready2() { [ "$(pool | jq -r .ready 2>/dev/null)" = 2 ]; }
    pp_wait_until 30 ready2 || pp_die "$rt: two instances never became ready: $(tail -5 "$PP_TMP/manager-$rt.log")"
    expect_manager_caps "$mpid" "$rt runtime manager"
    for pid in $(pool | jq -r '.instances[].pid'); do
        expect_unprivileged "$pid" "$rt runtime instance pid $pid"
        expect_eq "$(find /proc/"$pid"/task -mindepth 1 -maxdepth 1 | wc -l)" 2 "threads of $rt instance pid $pid"
    done
    kill -TERM "$mpid"
    pp_wait_until 30 bash -c "! kill -0 $mpid 2>/dev/null" || pp_die "$rt manager still running 30 s after SIGTERM"
done
