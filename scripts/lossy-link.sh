#!/usr/bin/env bash
# A real lossy network: two network namespaces joined by a veth pair, with the kernel
# dropping a share of the packets crossing the link in both directions; server in one
# namespace, client in the other.
#
#   sudo scripts/lossy-link.sh [--loss PCT] [--size-mib N]      defaults: 10 %, 20 MiB
#
# Loss: `tc qdisc ... netem loss PCT% delay 20ms reorder 25%` where the kernel has sch_netem;
# otherwise an nftables rule in each namespace (`numgen random mod 100 < PCT drop`) on the
# packets arriving through the veth. Checks, each with a timeout:
#   - a random file uploaded with ej2-upload-tcp arrives byte-identical;
#   - the same with ej2-upload-udp;
#   - further checks for other exercises (ej6-shell-udp commands run exactly once, an
#     ej8-chatroom-udp room of three delivers every message once) run when those crates exist.
# The namespaces and the addresses in them (192.0.2.0/24, TEST-NET-1, reserved for
# documentation and never routed) exist only while the script runs; it removes them on exit,
# failure or interrupt. Needs root; installs iproute2 and nftables if missing.
# Ends with a summary line: "lossy-link: N passed, M failed (loss: <mechanism>)".
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

loss=10
size_mib=20
while [ $# -gt 0 ]; do
    case $1 in
        --loss) loss=$2; shift 2 ;;
        --size-mib) size_mib=$2; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

if [ "$(id -u)" -ne 0 ]; then
    echo "lossy-link: needs root (network namespaces); run it with sudo" >&2
    exit 1
fi
if ! command -v ip >/dev/null || ! command -v nft >/dev/null; then
    echo "installing iproute2 and nftables..." >&2
    (apt-get update -qq && apt-get install -y -qq iproute2 nftables) >/dev/null
fi

# How long one check may take before it counts as failed, in seconds.
CHECK_TIMEOUT=300
NS_C="sockets-rs-client-$$"
NS_S="sockets-rs-server-$$"
ADDR_C=192.0.2.1
ADDR_S=192.0.2.2
work=$(mktemp -d "${TMPDIR:-/tmp}/sockets-rs-lossy.XXXXXX")
pids=()

cleanup() {
    local p
    for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    ip netns del "$NS_C" 2>/dev/null || true
    ip netns del "$NS_S" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "lossy-link: interrupted" >&2; exit 130' INT TERM

# --- the link -------------------------------------------------------------------------------
ip netns add "$NS_C"
ip netns add "$NS_S"
ip link add "veth-c$$" type veth peer name "veth-s$$"
ip link set "veth-c$$" netns "$NS_C"
ip link set "veth-s$$" netns "$NS_S"
ip -n "$NS_C" addr add "$ADDR_C/24" dev "veth-c$$"
ip -n "$NS_S" addr add "$ADDR_S/24" dev "veth-s$$"
for ns in "$NS_C" "$NS_S"; do
    ip -n "$ns" link set lo up
done
ip -n "$NS_C" link set "veth-c$$" up
ip -n "$NS_S" link set "veth-s$$" up

mechanism=""
if ip netns exec "$NS_C" tc qdisc add dev "veth-c$$" root netem loss "$loss%" delay 20ms reorder 25% 2>/dev/null &&
   ip netns exec "$NS_S" tc qdisc add dev "veth-s$$" root netem loss "$loss%" delay 20ms reorder 25% 2>/dev/null; then
    mechanism="tc netem loss $loss% delay 20ms reorder 25%, each way"
else
    for pair in "$NS_C:veth-c$$" "$NS_S:veth-s$$"; do
        ns=${pair%%:*}; dev=${pair#*:}
        ip netns exec "$ns" nft add table inet lossy
        # Dropped on arrival (input hook), so the sender is not told: a drop on the output
        # hook makes the sender's sendto() fail with EPERM, which no real network does.
        ip netns exec "$ns" nft add chain inet lossy in '{ type filter hook input priority 0; policy accept; }'
        ip netns exec "$ns" nft add rule inet lossy in iifname "$dev" numgen random mod 100 '<' "$loss" counter drop
    done
    mechanism="nftables numgen random mod 100 < $loss drop, each way (this kernel has no sch_netem)"
fi
echo "link: $NS_C ($ADDR_C) <-> $NS_S ($ADDR_S); loss: $mechanism"

# dropped: packets the nftables rules dropped so far (both namespaces), or "?" with netem.
dropped() {
    local total=0 n ns
    for ns in "$NS_C" "$NS_S"; do
        n=$(ip netns exec "$ns" nft list chain inet lossy in 2>/dev/null | sed -n 's/.*counter packets \([0-9]*\).*/\1/p' | head -n 1)
        [ -n "$n" ] || { echo "?"; return; }
        total=$((total + n))
    done
    echo "$total"
}

# --- helpers --------------------------------------------------------------------------------
# bins <crate>: builds the crate (debug) and copies its two bins to $work/<crate>/.
bins() {
    cargo build --quiet -p "$1" --bins
    mkdir -p "$work/$1"
    cp target/debug/client target/debug/server "$work/$1/"
}

# start_server_ns <crate> <dir> [args...]: starts the crate's server in the server namespace,
# waits for its readiness line, sets PORT.
start_server_ns() {
    local crate=$1 dir=$2; shift 2
    (cd "$dir" && exec ip netns exec "$NS_S" "$work/$crate/server" --host "$ADDR_S" --port 0 "$@" \
        >"$work/$crate.server.out" 2>"$work/$crate.server.err") &
    pids+=($!)
    local deadline=$((SECONDS + 30))
    until grep -q '^listening on' "$work/$crate.server.err"; do
        [ $SECONDS -lt $deadline ] || { cat "$work/$crate.server.err" >&2; return 1; }
        sleep 0.05
    done
    PORT=$(sed -n 's/^listening on .*:\([0-9]*\) (\(tcp\|udp\))$/\1/p' "$work/$crate.server.err")
}

stop_servers() {
    local p
    for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    pids=()
}

passed=0; failed=0
result() { # result <name> <0|1> <detail>
    if [ "$2" -eq 0 ]; then passed=$((passed + 1)); echo "PASS $1: $3"; else failed=$((failed + 1)); echo "FAIL $1: $3"; fi
}

head -c $((size_mib * 1024 * 1024)) /dev/urandom >"$work/data.bin"

# upload_check <crate>: uploads data.bin across the link and compares the bytes.
upload_check() {
    local crate=$1
    [ -f "exercises/practica2/$crate/Cargo.toml" ] || { echo "skip $crate: crate not in this workspace"; return; }
    bins "$crate"
    local srv="$work/$crate.srv" cli="$work/$crate.cli"
    mkdir -p "$srv" "$cli"
    cp "$work/data.bin" "$cli/data.bin"
    if ! start_server_ns "$crate" "$srv" --dir .; then
        stop_servers; result "$crate" 1 "the server did not start"; return
    fi
    local before t0 status=0
    before=$(dropped); t0=$SECONDS
    (cd "$cli" && ip netns exec "$NS_C" timeout "$CHECK_TIMEOUT" "$work/$crate/client" \
        --host "$ADDR_S" --port "$PORT" data.bin >"$work/$crate.client.out" 2>&1) || status=$?
    local secs=$((SECONDS - t0)) after; after=$(dropped)
    stop_servers
    if [ $status -eq 0 ] && cmp -s "$work/data.bin" "$srv/data.bin" && [ ! -e "$cli/data.bin" ]; then
        local lost="?"; [ "$before" = "?" ] || lost=$((after - before))
        result "$crate" 0 "$size_mib MiB byte-identical in ${secs}s, $lost packets dropped on the link"
    else
        result "$crate" 1 "client exit $status after ${secs}s; $(tail -n 3 "$work/$crate.client.out" | tr '\n' ' ')"
    fi
}

upload_check ej2-upload-tcp
upload_check ej2-upload-udp

# Further checks (ej6-shell-udp exactly once, ej8-chatroom-udp room of three) are sourced
# from scripts/lossy-link.d/*.sh when present; each uses the helpers above.
for extra in "$ROOT"/scripts/lossy-link.d/*.sh; do
    [ -e "$extra" ] || continue
    # shellcheck source=/dev/null
    source "$extra"
done

echo "lossy-link: $passed passed, $failed failed (loss: $mechanism)"
[ "$failed" -eq 0 ]
