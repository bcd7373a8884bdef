#!/usr/bin/env bash
# The nat forwarding mode's kernel state, through tests/tools/natprobe
# in a namespace of its own: for 64 clients over 1..32 instances, exactly one
# jump from PREROUTING and one from OUTPUT, the chain holding the CIDR cover of
# every block, each block's edge clients mapped to its instance; then real
# connections from two client addresses reaching two different servers; the
# swap time at 32 x 64 and 32 x 4096 clients; and after a crashed run's
# leftovers and a clear, nothing of ours left while others' rules stay.
# Every rule lives in the namespace this scenario creates.
# timeout: 60
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

pp_need_root "network namespaces, nat table"
VIP=198.19.255.10
VIP_PORT=3128
PREFIX=pp
CHAIN=PP-DNAT
TARGET_BASE=198.19.0.2 # instance k at 198.19.0.(1+k):3128
# The issue's target for one swap, at both sizes.

netns=$(pp_netns nat)
in_ns() { ip netns exec "$netns" "$@"; }
natprobe() {
    in_ns "$PP_TOOLS/natprobe" --prefix "$PREFIX" --vip "$VIP" --vip-port "$VIP_PORT" "$@"
}
nat_save() { in_ns iptables-legacy-save -t nat; }

ip2int() {
    local a b c d
    IFS=. read -r a b c d <<<"$1"
    echo $(((a << 24) | (b << 16) | (c << 8) | d))
}
int2ip() {
    echo "$(($1 >> 24 & 255)).$(($1 >> 16 & 255)).$(($1 >> 8 & 255)).$(($1 & 255))"
}

# cover_count FIRST LAST (integers): the size of the smallest exact CIDR
# cover, computed here independently of partition.c.
cover_count() {
    local lo=$1 hi=$(($2 + 1)) n=0 size
    while [ "$lo" -lt "$hi" ]; do
        size=1
        while [ $((lo % (size * 2))) -eq 0 ] && [ $((lo + size * 2)) -le "$hi" ]; do
            size=$((size * 2))
        done
        lo=$((lo + size))
        n=$((n + 1))
    done
    echo "$n"
}

# target_of ADDR: the --to-destination of the first rule of our chain whose
# source prefix holds ADDR (first match wins, as in the kernel), from the
# rules loaded by load_rules.
RULE_LO=() RULE_HI=() RULE_TO=()
load_rules() {
    local line src to len base
    RULE_LO=() RULE_HI=() RULE_TO=()
    while read -r line; do
        src=$(sed -n 's/.* -s \([0-9.]*\/[0-9]*\) .*/\1/p' <<<"$line")
        to=$(sed -n 's/.*--to-destination \([0-9.:]*\).*/\1/p' <<<"$line")
        if [ -z "$src" ] || [ -z "$to" ]; then pp_die "unexpected rule in $CHAIN: $line"; fi
        len=${src#*/}
        base=$(ip2int "${src%/*}")
        RULE_LO+=("$base")
        RULE_HI+=($((base + (1 << (32 - len)) - 1)))
        RULE_TO+=("$to")
    done < <(grep -- "^-A $CHAIN " <<<"$1")
}
target_of() {
    local x i
    x=$(ip2int "$1")
    for i in "${!RULE_LO[@]}"; do
        if [ "$x" -ge "${RULE_LO[$i]}" ] && [ "$x" -le "${RULE_HI[$i]}" ]; then
            echo "${RULE_TO[$i]}"
            return
        fi
    done
    echo none
}

# Somebody else's nat state in the same table (Docker, kube-proxy): never ours
# to touch.
in_ns iptables-legacy -t nat -N OTHER-CHAIN
in_ns iptables-legacy -t nat -A PREROUTING -d 10.9.9.9/32 -j OTHER-CHAIN
in_ns iptables-legacy -t nat -A OUTPUT -p udp --dport 53 -j ACCEPT
others_intact() {
    local save=$1
    expect_eq "$(grep -c -- '^-A PREROUTING -d 10.9.9.9/32 -j OTHER-CHAIN$' <<<"$save")" 1 \
        "$2: the foreign jump"
    expect_eq "$(grep -c -- '^-A OUTPUT -p udp -m udp --dport 53 -j ACCEPT$' <<<"$save")" 1 \
        "$2: the foreign OUTPUT rule"
    expect_eq "$(grep -c -- '^:OTHER-CHAIN ' <<<"$save")" 1 "$2: the foreign chain"
}

# --- 64 clients over 1, 2, 4, 8, 16, 32 instances
first=$(ip2int 198.18.1.1)
for n in 1 2 4 8 16 32; do
    out=$(natprobe --clients 198.18.1.1-198.18.1.64 --instances "$n" --target-base "$TARGET_BASE" --keep)
    pp_log "natprobe: $out"
    save=$(nat_save)
    for hook in PREROUTING OUTPUT; do
        expect_eq "$(grep -c -- "^-A $hook .*-j $CHAIN\$" <<<"$save")" 1 "n=$n: jumps from $hook"
        expect_eq "$(grep -cx -- "-A $hook -d $VIP/32 -p tcp -m tcp --dport $VIP_PORT -j $CHAIN" <<<"$save")" 1 \
            "n=$n: the $hook jump matches the VIP"
    done
    size=$((64 / n))
    want=0
    for ((k = 0; k < n; k++)); do
        want=$((want + $(cover_count $((first + k * size)) $((first + (k + 1) * size - 1)))))
    done
    expect_eq "$(grep -c -- "^-A $CHAIN " <<<"$save")" "$want" "n=$n: rules in $CHAIN"
    expect_match "$out" "rules=$want " "n=$n: natprobe's rule count"
    load_rules "$save"
    for ((k = 0; k < n; k++)); do
        to="$(int2ip $(($(ip2int "$TARGET_BASE") + k))):3128"
        edge_first=$(int2ip $((first + k * size)))
        edge_last=$(int2ip $((first + (k + 1) * size - 1)))
        expect_eq "$(target_of "$edge_first")" "$to" "n=$n: block $((k + 1)) first client $edge_first"
        expect_eq "$(target_of "$edge_last")" "$to" "n=$n: block $((k + 1)) last client $edge_last"
    done
    expect_eq "$(target_of 198.18.1.65)" none "n=$n: 198.18.1.65 is nobody's"
    others_intact "$save" "n=$n"
done

# --- end to end: two clients at the block edges, two servers, OUTPUT DNAT
for a in 198.18.1.1 198.18.1.64 198.19.0.2 198.19.0.3; do
    in_ns ip addr add "$a/32" dev lo
done
in_ns ip route add "$VIP/32" dev lo # locally sent traffic needs a route to the VIP
for i in 1 2; do
    pp_bg "origin$i" ip netns exec "$netns" "$PP_TOOLS/badorigin" --listen "198.19.0.$((i + 1)):3128" \
        --mode delay-0 --count-file "$PP_TMP/count$i" --max-seconds 50
done
in_ns_port_open() { in_ns timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }
for i in 1 2; do
    pp_wait_until 10 in_ns_port_open "198.19.0.$((i + 1))" 3128 || pp_die "origin $i did not open"
done
count() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }
base1=$(count "$PP_TMP/count1") base2=$(count "$PP_TMP/count2")

out=$(natprobe --clients 198.18.1.1-198.18.1.64 --instances 2 --target-base "$TARGET_BASE" --keep)
pp_log "natprobe: $out"
code=$(in_ns curl -sS -o /dev/null -w '%{http_code}' --max-time 5 --interface 198.18.1.1 \
    "http://$VIP:$VIP_PORT/edge-first")
expect_eq "$code" 200 "client 198.18.1.1 through the VIP"
expect_eq "$(count "$PP_TMP/count1")" $((base1 + 1)) "requests at instance 1 (198.19.0.2)"
expect_eq "$(count "$PP_TMP/count2")" "$base2" "requests at instance 2 (198.19.0.3)"
code=$(in_ns curl -sS -o /dev/null -w '%{http_code}' --max-time 5 --interface 198.18.1.64 \
    "http://$VIP:$VIP_PORT/edge-last")
expect_eq "$code" 200 "client 198.18.1.64 through the VIP"
expect_eq "$(count "$PP_TMP/count1")" $((base1 + 1)) "requests at instance 1 (198.19.0.2)"
expect_eq "$(count "$PP_TMP/count2")" $((base2 + 1)) "requests at instance 2 (198.19.0.3)"

# A swap to 1 instance: new connections from .64 follow the new rules.
out=$(natprobe --clients 198.18.1.1-198.18.1.64 --instances 1 --target-base "$TARGET_BASE" --keep)
code=$(in_ns curl -sS -o /dev/null -w '%{http_code}' --max-time 5 --interface 198.18.1.64 \
    "http://$VIP:$VIP_PORT/after-swap")
expect_eq "$code" 200 "client 198.18.1.64 after the swap to 1 instance"
expect_eq "$(count "$PP_TMP/count1")" $((base1 + 2)) "requests at instance 1 after the swap"

# --- swap time: 32 instances x 64 clients, and x 4096 clients. The second
# apply replaces a full chain: that is the scale step's swap.
swap_us() { sed -n 's/.*swap_us=\([0-9]*\).*/\1/p' <<<"$1" | tail -n 1; }
out=$(natprobe --clients 198.18.1.1-198.18.1.64 --instances 32 --reapply-n 32 --target-base "$TARGET_BASE")
pp_log "natprobe 32 x 64: $(tr '\n' ' ' <<<"$out")"
s64=$(swap_us "$out")
out=$(natprobe --clients 198.18.0.1-198.18.16.0 --instances 32 --reapply-n 32 --target-base "$TARGET_BASE")
pp_log "natprobe 32 x 4096: $(tr '\n' ' ' <<<"$out")"
s4096=$(swap_us "$out")
echo "nat swap time: 32 instances x 64 clients: ${s64} us; 32 x 4096 clients: ${s4096} us"
# Reported, not asserted (shared machines): only that each swap was measured.
expect_match "$s64" "^[0-9]+$" "swap time measured (us), 32 x 64"
expect_match "$s4096" "^[0-9]+$" "swap time measured (us), 32 x 4096"

# --- a crashed run's leftovers: a stale chain, two jumps in one hook; the
# next start removes them, its clear leaves nothing of ours.
in_ns iptables-legacy -t nat -N "$CHAIN"
in_ns iptables-legacy -t nat -A "$CHAIN" -s 198.18.1.1/32 -p tcp -j DNAT --to-destination 198.19.0.9:3128
in_ns iptables-legacy -t nat -A PREROUTING -j "$CHAIN"
in_ns iptables-legacy -t nat -I PREROUTING -d "$VIP/32" -p tcp --dport "$VIP_PORT" -j "$CHAIN"
in_ns iptables-legacy -t nat -A OUTPUT -j "$CHAIN"
out=$(natprobe --clients 198.18.1.1-198.18.1.64 --instances 4 --target-base "$TARGET_BASE" --clear 2>&1)
expect_match "$out" "removing 2 leftover jumps from PREROUTING" "init reports the leftover jumps"
expect_match "$out" "removing leftover chain $CHAIN \\(1 rule\\)" "init reports the leftover chain"
save=$(nat_save)
expect_eq "$(grep -c -- "PP-" <<<"$save" || true)" 0 "lines of ours after clear"
others_intact "$save" "after clear"
