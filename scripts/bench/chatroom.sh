#!/usr/bin/env bash
# Chat rooms under load: deliveries per second and delivery latency, TCP (50, 200 members) and UDP (50) (release)
#
#   scripts/bench.sh chatroom [--messages N] [--runs N]     defaults: 100 messages each, 3 runs (median)
#
# For each case, start the release server of ej8-chatroom-tcp or ej8-chatroom-udp on
# loopback and run crates/benchkit's chat-load against it: every member joins, then each
# sends its messages one at a time, the next once the room has relayed the previous one
# back to it. Every delivery to another member is timed from the sender's send to the
# receiver's read (one process, one clock). The row of the median run (by deliveries per
# second) is printed. Bounded: each run is killed after 300 s.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
messages=100; runs=3
while [ $# -gt 0 ]; do
    case $1 in
        --messages) messages=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

# 200 members: 200 sockets on each side, plus a few.
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 1024 ]; then
    ulimit -n 1024 2>/dev/null || echo "chatroom: open-file limit $(ulimit -n); 200 members may not fit" >&2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sockets-rs-chatbench.XXXXXX")
pids=()
cleanup() {
    local p
    for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

echo "building release binaries..." >&2
scripts/dist.sh ej8-chatroom-tcp ej8-chatroom-udp >/dev/null
cargo build --quiet --release -p benchkit --bin chat-load
LOAD="$ROOT/target/release/chat-load"

# one_run <tcp|udp> <members>: prints chat-load's row.
one_run() {
    local transport=$1 members=$2
    "$ROOT/dist/ej8-chatroom-$transport/server" --port 0 >/dev/null 2>"$work/server.err" &
    local spid=$!; pids+=($spid)
    local deadline=$((SECONDS + 20))
    until grep -q '^listening on' "$work/server.err"; do
        { [ $SECONDS -lt $deadline ] && kill -0 $spid 2>/dev/null; } || { echo "server not ready" >&2; cat "$work/server.err" >&2; exit 1; }
        sleep 0.02
    done
    local port
    port=$(sed -n 's/^listening on .*:\([0-9]*\) (\(tcp\|udp\))$/\1/p' "$work/server.err")
    timeout 300 "$LOAD" "$transport" --port "$port" --clients "$members" --messages "$messages" --deadline 280
    kill $spid 2>/dev/null || true
    wait $spid 2>/dev/null || true
}

# median_row <tcp|udp> <members>: runs $runs times, prints the row with the median rate.
median_row() {
    local rows=() i
    for i in $(seq "$runs"); do
        echo "$1, $2 members: run $i/$runs..." >&2
        rows+=("$(one_run "$1" "$2")")
    done
    printf '%s\n' "${rows[@]}" | sort -t'|' -k7,7n | sed -n "$(( (runs + 1) / 2 ))p"
}

echo
echo "### Chat rooms: $messages messages per member, loopback, median of $runs ($(nproc) cores, $(uname -sr))"
echo
echo "| transport | members | messages each | deliveries | seconds | deliveries/s | p50 ms | p99 ms | max ms |"
echo "|---|---|---|---|---|---|---|---|---|"
median_row tcp 50
median_row tcp 200
median_row udp 50
echo
echo "A delivery is one member's message reaching one other member; latency runs from the"
echo "sender's send to the receiver's read. Members send one message at a time (closed loop)."
