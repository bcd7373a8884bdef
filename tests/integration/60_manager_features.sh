#!/usr/bin/env bash
# `manager --features` is a JSON object of what the build supports (runtimes,
# forwarding modes, workers, balancer algorithms, max replicas), printed
# with exit 0 whatever the host has; and ppexp plans from it: a manager that
# lists fewer modes gets those configurations skipped by name, and one that
# answers only --help (no features object) is refused, not guessed at.
# timeout: 30
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
pp_need_tool jq

# --- the object, parsed by jq
"$PP_BIN/manager" --features >"$PP_TMP/features.json"
expect_eq "$?" 0 "manager --features exit status"
jq -e 'type == "object"' "$PP_TMP/features.json" >/dev/null || pp_die "not a JSON object: $(cat "$PP_TMP/features.json")"
expect_eq "$(jq -c .forwarding "$PP_TMP/features.json")" '["none","nat","route","balancer"]' "forwarding modes"
expect_eq "$(jq -c .runtimes "$PP_TMP/features.json")" '["process","container","docker","swarm"]' "runtimes"
expect_eq "$(jq -c .workers "$PP_TMP/features.json")" '["proxyd","squid","nginx"]' "workers"
expect_eq "$(jq -c .forwarding_needs_container "$PP_TMP/features.json")" '["route"]' "modes only containers run"
expect_eq "$(jq -c .balancer_algos "$PP_TMP/features.json")" '["p2c-ewma","leastconn","roundrobin","source"]' "balancer algorithms"
expect_eq "$(jq .max_replicas "$PP_TMP/features.json")" 32 "max replicas"

# --- it describes the build, not this host: a missing squid does not matter
"$PP_BIN/manager" --features --worker squid --squid "$PP_TMP/no-such-squid" >/dev/null
expect_eq "$?" 0 "--features with a worker binary that is not there"

# --- ppexp plans from the features: a manager without balancer and squid
fake=$PP_TMP/fakebin
mkdir -p "$fake"
cat >"$fake/manager" <<'FAKE'
#!/bin/sh
[ "$1" = --features ] || exit 2
echo '{"runtimes": ["process", "container"], "forwarding": ["none", "nat", "route"],
       "forwarding_needs_container": ["route"], "workers": ["proxyd"]}'
FAKE
chmod +x "$fake/manager"
cat >"$PP_TMP/spec.json" <<'SPEC'
{"name": "feat", "factors": {"forwarding": ["nat", "balancer"], "runtime": ["process"],
 "worker": ["proxyd", "squid"]}}
SPEC
"$PP_BIN/ppexp" run "$PP_TMP/spec.json" --dry-run --bin-dir "$fake" >"$PP_TMP/plan.txt"
expect_eq "$?" 0 "ppexp --dry-run with the fake manager"
expect_match "$(cat "$PP_TMP/plan.txt")" 'run   nat-r1-proxyd-process' "nat with proxyd runs"
expect_match "$(cat "$PP_TMP/plan.txt")" 'skip  balancer-r1-proxyd-process.*: the manager has no balancer forwarding' "balancer skipped"
expect_match "$(cat "$PP_TMP/plan.txt")" 'skip  nat-r1-squid-process.*: the manager has no squid worker' "squid skipped"

# --- a manager that only knows --help is refused
cat >"$fake/manager" <<'FAKE'
#!/bin/sh
[ "$1" = --help ] && { echo "  --worker proxyd|squid|nginx"; echo "  --forwarding none|nat|route|balancer"; exit 0; }
echo "manager: unknown option or missing value: $1 (see --help)" >&2
exit 2
FAKE
rc=0
"$PP_BIN/ppexp" run "$PP_TMP/spec.json" --dry-run --bin-dir "$fake" >/dev/null 2>"$PP_TMP/ppexp.err" || rc=$?
expect_eq "$rc" 1 "ppexp with a manager that has no --features"
expect_match "$(cat "$PP_TMP/ppexp.err")" 'manager --features failed' "ppexp's message"
