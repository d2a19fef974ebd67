#!/usr/bin/env bash
# TCP 1.3: 100,000 TIME queries, our client and server against a bare request/response floor (release).
#
#   scripts/bench.sh time [--queries N] [--runs N]     defaults: 100000 queries, 5 runs (median)
#
# Ours: dist/tcp13-time/{client,server}. The floor: the example time-floor
# (exercises/practica-tcp/tcp13-time/examples/time-floor.rs), the same 4-byte request and
# 26-byte answer over one loopback TcpStream with TCP_NODELAY, and nothing else: no parsing,
# no clock, no framing rules. Each run is a fresh client process against a server started
# once per placement; ours and the floor alternate, so both see the same machine load. Every
# figure is the client's own measurement, from its first query to its last answer.
#
# Where the two processes run decides the figures more than anything in them: each query
# wakes the other process, which is cheap on the same CPU and costs an inter-processor
# interrupt across CPUs (tens of µs in a VM). Left to the scheduler, runs flip between the
# two cases and medians compare luck. So, with taskset (Linux), both placements are measured
# separately: server and client on CPU 0, then server on CPU 0 and client on CPU 1. Without
# taskset, one unpinned series is run and the table says so. Traffic stays on loopback; each
# run is killed after 120 s.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
queries=100000; runs=5
while [ $# -gt 0 ]; do
    case $1 in
        --queries) queries=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

work=$(mktemp -d "${TMPDIR:-/tmp}/sockets-rs-bench-time.XXXXXX")
pids=()
stop_servers() {
    local p
    for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    pids=()
}
cleanup() { stop_servers; rm -rf "$work"; }
trap cleanup EXIT

echo "building release binaries..." >&2
scripts/dist.sh tcp13-time >/dev/null
cargo build --quiet --release -p tcp13-time --example time-floor
BIN="$ROOT/dist/tcp13-time"
cp target/release/examples/time-floor "$work/time-floor"
FLOOR="$work/time-floor"

# start <name> <cpu> <command...>: starts a server on port 0 (remembered for cleanup), waits
# for its readiness line, and sets PORT.
start() {
    local err="$work/$1.err" cpu=$2; shift 2
    local cmd=("$@" --port 0)
    # taskset execs the server, so $! is the server itself.
    [ "$cpu" = - ] || cmd=(taskset -c "$cpu" "${cmd[@]}")
    "${cmd[@]}" >/dev/null 2>"$err" &
    local pid=$!; pids+=($pid)
    local deadline=$((SECONDS + 20))
    until grep -q '^listening on' "$err"; do
        { [ $SECONDS -lt $deadline ] && kill -0 "$pid" 2>/dev/null; } || { echo "server not ready" >&2; cat "$err" >&2; exit 1; }
        sleep 0.02
    done
    PORT=$(sed -n 's/^listening on .*:\([0-9]*\) (tcp)$/\1/p' "$err")
}

# run <cpu|-> <command...>: one client run; prints "seconds mean_rtt_us".
run() {
    local cpu=$1; shift
    local cmd=("$@")
    [ "$cpu" = - ] || cmd=(taskset -c "$cpu" "${cmd[@]}")
    timeout 120 "${cmd[@]}" >"$work/run.out" || { echo "run failed: $*" >&2; cat "$work/run.out" >&2; exit 1; }
    awk '/queries in / { for (i = 1; i <= NF; i++) if ($i == "in") s = $(i + 1) }
         /^RTT min/ { m = $(NF - 3) }
         END { print s, m }' "$work/run.out"
}

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    placements=("0 0 same CPU" "0 1 different CPUs")
else
    placements=("- - unpinned")
fi

rows=(); all=()
for placement in "${placements[@]}"; do
    read -r scpu ccpu label <<<"$placement"
    start ours "$scpu" "$BIN/server"; ours_port=$PORT
    start floor "$scpu" "$FLOOR" server; floor_port=$PORT
    ours_s=(); ours_rtt=(); floor_s=(); floor_rtt=()
    for i in $(seq "$runs"); do
        echo "$label: run $i/$runs..." >&2
        read -r s m < <(run "$ccpu" "$BIN/client" --port "$ours_port" --queries "$queries")
        ours_s+=("$s"); ours_rtt+=("$m")
        read -r s m < <(run "$ccpu" "$FLOOR" client --port "$floor_port" --queries "$queries")
        floor_s+=("$s"); floor_rtt+=("$m")
    done
    stop_servers
    os=$(printf '%s\n' "${ours_s[@]}" | median)
    fs=$(printf '%s\n' "${floor_s[@]}" | median)
    om=$(printf '%s\n' "${ours_rtt[@]}" | median)
    fm=$(printf '%s\n' "${floor_rtt[@]}" | median)
    rows+=("$(awk -v l="$label" -v s="$os" -v f="$fs" -v q="$queries" -v m="$om" 'BEGIN {
        printf "| %s | tcp13-time client + server | %.3f | %.0f | %s µs | %.2fx |", l, s, q / s, m, s / f }')")
    rows+=("$(awk -v l="$label" -v s="$fs" -v q="$queries" -v m="$fm" 'BEGIN {
        printf "| %s | floor | %.3f | %.0f | %s µs | 1.00x |", l, s, q / s, m }')")
    all+=("$label: ours ${ours_s[*]}; floor ${floor_s[*]}")
done

echo
echo "### TCP 1.3: $queries TIME queries, loopback, median of $runs ($(nproc) cores, $(uname -sr))"
echo
echo "| placement | program | seconds | queries/s | mean RTT | ratio to floor |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "All runs (seconds):"
printf -- '- %s\n' "${all[@]}"
echo
echo "Target: within 1.3x of the floor."
