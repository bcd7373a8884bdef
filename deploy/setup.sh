#!/usr/bin/env bash
# Installs every Debian 12 package proxypool needs to build, test, fuzz and
# benchmark, idempotently: when dpkg already lists them all, apt is not run.
# The system nginx, squid, haproxy, prometheus, docker and containerd services
# are never left running: tests and benchmarks start their own instances on
# free loopback ports, and their own dockerd (deploy/dockerd) inside a
# namespace.
set -euo pipefail

# One package per line, with what needs it.
PACKAGES=(
    build-essential            # cc, make, ar
    clang                      # fuzz targets (make fuzz)
    libclang-rt-14-dev         # libFuzzer and sanitizer runtimes (only a Recommends of clang)
    pkg-config                 # the Makefile asks it for every library's flags
    libevent-dev               # proxyd, balancer, manager event loops
    libcjson-dev               # config files, REST JSON
    check                      # unit tests
    libsubunit-dev             # check's pkg-config file links -lsubunit
    libnl-3-dev                # manager: policy routes (route mode)
    libnl-route-3-dev
    libiptc-dev                # manager: DNAT rules (nat mode)
    libnetfilter-conntrack-dev # manager: flush conntrack on rule swaps
    nginx-light                # origin server in tests, nginx peer in bench/
    squid                      # Squid 5: the paper's proxy, bench/ peer and pool worker
    apache2-utils              # ab, the benchmark client
    wrk                        # load generator peer (bench/loadgen-peers.sh, balancer-peers.sh)
    haproxy                    # balancer peer in TCP mode (bench/balancer-peers.sh)
    curl                       # integration tests
    jq                         # integration tests read JSON (/stats, the REST API)
    python3                    # integration tests: many idle sockets at once
    iproute2                   # ip netns, veth (testbed, tests)
    iptables                   # testbed, intercept-mode tests
    stress                     # the paper's CPU load
    gnuplot-nox                # ppexp: plots (SVG and PNG) drawn from results CSVs
    procps                     # ps, pgrep, sysctl
    psmisc                     # fuser, killall (diagnostics only)
    clang-format               # make format
    shellcheck                 # lint of the shell scripts
    linux-perf                 # profiles for bench/ when a target is missed
    docker.io                  # --runtime docker: a private dockerd (deploy/dockerd), never the system one
    libcurl4-openssl-dev       # manager: the Docker Engine API client (unix socket, multi interface)
    chromium                   # the status page's browser test (tests/integration/95_status_page.sh)
    chromium-driver            # ... drives it headless through WebDriver
    python3-selenium           # ... from Python
    prometheus                 # prometheus and promtool: deploy/prometheus tested for real (96_prometheus)
    systemd                    # systemd-analyze verify of the installed units (97_install_units)
)

# Debian's prometheus service would hold 9090, the manager API's default port;
# docker.socket first: socket activation would start the system dockerd.
SERVICES=(nginx squid haproxy prometheus docker.socket docker containerd)

missing_packages() {
    local p status
    for p in "${PACKAGES[@]}"; do
        status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        [ "$status" = "install ok installed" ] || echo "$p"
    done
}

# policy-rc.d answering 101 is Debian's way to tell maintainer scripts not to
# start services (Docker images ship one). Add ours only if none is there.
POLICY=/usr/sbin/policy-rc.d
policy_added=0
remove_policy() {
    if [ "$policy_added" = 1 ]; then rm -f "$POLICY"; fi
}

# The pid of a service started from the system config, if it runs.
system_pid() {
    local svc=$1 pidfile
    for pidfile in "/run/$svc.pid" "/var/run/$svc.pid"; do
        if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
            cat "$pidfile"
            return 0
        fi
    done
    return 1
}

# Stops and disables a service by whatever init is present (systemctl may
# exist without systemd running, as in containers); then makes sure no process
# started from the system config is left.
stop_service() {
    local svc=$1 pid _
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
        systemctl stop "$svc" >/dev/null 2>&1 || true
        systemctl disable "$svc" >/dev/null 2>&1 || true
    else
        if command -v systemctl >/dev/null; then systemctl disable "$svc" >/dev/null 2>&1 || true; fi
        if command -v update-rc.d >/dev/null; then update-rc.d "$svc" disable >/dev/null 2>&1 || true; fi
        if system_pid "$svc" >/dev/null && [ -x "/etc/init.d/$svc" ]; then
            "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
        fi
    fi
    if pid=$(system_pid "$svc"); then
        echo "setup: stopping system $svc (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || return 0
            sleep 0.1
        done
        echo "setup: system $svc (pid $pid) still running after 5 s" >&2
    fi
}

main() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: must run as root (apt-get, namespaces, iptables)" >&2
        exit 1
    fi
    local missing
    missing=$(missing_packages)
    if [ -z "$missing" ]; then
        echo "setup: all ${#PACKAGES[@]} packages already installed"
    else
        # shellcheck disable=SC2086 # one package name per word
        echo "setup: installing" $missing
        if [ ! -e "$POLICY" ]; then
            printf '#!/bin/sh\n# added by proxypool deploy/setup.sh during install\nexit 101\n' >"$POLICY"
            chmod 755 "$POLICY"
            policy_added=1
            trap remove_policy EXIT
        fi
        export DEBIAN_FRONTEND=noninteractive
        apt-get update
        # shellcheck disable=SC2086
        apt-get install -y $missing </dev/null
        remove_policy
        policy_added=0
    fi
    local svc
    for svc in "${SERVICES[@]}"; do stop_service "$svc"; done
}

main "$@"
