#!/usr/bin/env bash
# make install into a DESTDIR with PREFIX=/usr: the daemons in sbin and the
# tools in bin, executable; each program's --help as a non-empty text file
# equal to what the installed program prints; the Prometheus files; the
# three systemd units with the paths filled in and their option files in
# /etc/default. The installed manager runs (--help, --version from DESTDIR).
# systemd is installed but not PID 1 here, so the units cannot be started:
# `systemd-analyze verify --root` checks them offline instead (every key
# known and parsed, every Exec binary present and executable), in a copy of
# DESTDIR with the host's system units beside them (verify needs
# sysinit.target and the like under the same root), and must print nothing;
# a unit with a misspelt key must make it complain (the check can fail).
# `systemd-analyze security --offline` rates each unit's exposure: the
# standalone balancer and proxyd must stay under 2.5, the manager (root with
# CAP_SYS_ADMIN, on purpose) under 7.5. make uninstall then leaves only the
# option files.
# timeout: 120
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_need_tool systemd-analyze "package systemd"
[ -x "$PP_BIN/manager" ] || pp_die "no $PP_BIN/manager (run make)"

DEST=$PP_TMP/dest
mk() { make --no-print-directory -C "$PP_REPO" BUILD="$PP_BUILD" DESTDIR="$DEST" PREFIX=/usr "$@"; }
mk install >"$PP_TMP/install.log" 2>&1 || pp_die "make install failed: $(tail -5 "$PP_TMP/install.log")"

for p in manager balancer proxyd; do
    if ! [ -f "$DEST/usr/sbin/$p" ] || ! [ -x "$DEST/usr/sbin/$p" ]; then pp_die "no executable $DEST/usr/sbin/$p"; fi
done
for p in ppctl loadgen ppexp; do
    if ! [ -f "$DEST/usr/bin/$p" ] || ! [ -x "$DEST/usr/bin/$p" ]; then pp_die "no executable $DEST/usr/bin/$p"; fi
done
pp_log "ok: daemons in /usr/sbin, tools in /usr/bin, executable"
for p in manager balancer proxyd ppctl loadgen ppexp; do
    help=$DEST/usr/share/doc/proxypool/$p.txt
    [ -s "$help" ] || pp_die "no help text $help"
    bin=$DEST/usr/sbin/$p
    [ -x "$bin" ] || bin=$DEST/usr/bin/$p
    "$bin" --help >"$PP_TMP/help.$p" || pp_die "installed $p --help failed"
    expect_file_eq "$help" "$PP_TMP/help.$p" "$p.txt"
    expect_match "$(head -1 "$help")" "^Usage: $p " "$p.txt's first line"
done
expect_match "$("$DEST/usr/sbin/manager" --version)" "manager" "installed manager --version"
for f in prometheus.yml alerts.yml grafana/proxypool.json; do
    expect_file_eq "$DEST/usr/share/proxypool/prometheus/$f" "$PP_REPO/deploy/prometheus/$f" "installed $f"
done

UNITS=(proxypool-manager proxypool-balancer proxypool-proxyd)
for u in "${UNITS[@]}"; do
    unit=$DEST/usr/lib/systemd/system/$u.service
    [ -s "$unit" ] || pp_die "no unit $unit"
    expect_no_match "$(cat "$unit")" "@[A-Z]+@" "$u.service: every placeholder filled"
    expect_match "$(grep '^EnvironmentFile=' "$unit")" "^EnvironmentFile=-/etc/default/$u\$" "$u.service: its option file"
    [ -s "$DEST/etc/default/$u" ] || pp_die "no option file /etc/default/$u"
done
expect_match "$(grep '^ExecStart=' "$DEST/usr/lib/systemd/system/proxypool-manager.service")" \
    "^ExecStart=/usr/sbin/manager " "manager unit's ExecStart"
expect_eq "$(grep '^KillMode=' "$DEST/usr/lib/systemd/system/proxypool-manager.service")" "KillMode=process" \
    "manager unit signals the manager alone (drain, adoption)"
for u in proxypool-balancer proxypool-proxyd; do
    expect_eq "$(grep '^User=' "$DEST/usr/lib/systemd/system/$u.service")" "User=proxy" "$u runs as proxy"
    expect_eq "$(grep '^CapabilityBoundingSet=' "$DEST/usr/lib/systemd/system/$u.service")" "CapabilityBoundingSet=" \
        "$u holds no capability"
done

# An offline root for systemd-analyze: DESTDIR, the host's system units
# (sysinit.target, ...) and /bin/kill (proxyd's ExecReload).
ROOT=$PP_TMP/root
cp -a "$DEST/." "$ROOT/"
cp -a /lib/systemd/system/. "$ROOT/usr/lib/systemd/system/"
mkdir -p "$ROOT/usr/bin"
cp /bin/kill "$ROOT/usr/bin/kill"
ln -s usr/bin "$ROOT/bin"
verify() { systemd-analyze verify --man=no --root="$ROOT" "/usr/lib/systemd/system/$1.service" 2>&1; }
for u in "${UNITS[@]}"; do
    out=$(verify "$u") || pp_die "systemd-analyze verify $u failed: $out"
    expect_eq "$out" "" "systemd-analyze verify $u.service says nothing"
done
# The check can fail: a misspelt key and a missing binary are reported.
unit=$ROOT/usr/lib/systemd/system/proxypool-proxyd.service
cp "$unit" "$PP_TMP/unit.saved"
sed -i 's/^NoNewPrivileges=yes/NoNewPrivilege=yes/' "$unit"
expect_match "$(verify proxypool-proxyd)" "Unknown key 'NoNewPrivilege'" "verify reports a misspelt key"
cp "$PP_TMP/unit.saved" "$unit"
rm "$ROOT/usr/sbin/proxyd"
if out=$(verify proxypool-proxyd); then pp_die "verify passed without /usr/sbin/proxyd: $out"; fi
expect_match "$out" "/usr/sbin/proxyd is not executable" "verify reports a missing binary"
cp -a "$DEST/usr/sbin/proxyd" "$ROOT/usr/sbin/proxyd"

# exposure UNIT: systemd-analyze's overall exposure level, times 10.
exposure() {
    local out
    out=$(systemd-analyze security --offline=yes --root="$ROOT" --no-pager "/usr/lib/systemd/system/$1.service" 2>&1) ||
        pp_die "systemd-analyze security $1 failed: $out"
    sed -n 's/.*Overall exposure level for [^:]*: \([0-9]*\)\.\([0-9]\).*/\1\2/p' <<<"$out"
}
expect_le "$(exposure proxypool-balancer)" 25 "balancer unit's exposure (x10)"
expect_le "$(exposure proxypool-proxyd)" 25 "proxyd unit's exposure (x10)"
expect_le "$(exposure proxypool-manager)" 75 "manager unit's exposure (x10)"

# A second install keeps an operator's options.
echo 'MANAGER_ARGS="--replicas 7"' >"$DEST/etc/default/proxypool-manager"
mk install >"$PP_TMP/install2.log" 2>&1 || pp_die "second make install failed: $(tail -5 "$PP_TMP/install2.log")"
expect_eq "$(cat "$DEST/etc/default/proxypool-manager")" 'MANAGER_ARGS="--replicas 7"' "options kept by a second install"

mk uninstall >"$PP_TMP/uninstall.log" 2>&1 || pp_die "make uninstall failed: $(tail -5 "$PP_TMP/uninstall.log")"
expect_eq "$(cd "$DEST" && find . -type f | sort | tr '\n' ' ')" \
    "./etc/default/proxypool-balancer ./etc/default/proxypool-manager ./etc/default/proxypool-proxyd " \
    "what make uninstall leaves"
