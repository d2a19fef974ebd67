#!/usr/bin/env bash
# Ej. 2 upload throughput and memory: TCP against a raw io::copy floor, then UDP (release).
#
#   scripts/bench.sh ej2 [--size-mib N] [--runs N]     defaults: 1024 MiB, 3 runs (median)
#
# Files live on tmpfs (/dev/shm) so the disk is not what is measured. Peak RSS comes from
# GNU time (`/usr/bin/time -v`, package `time`, installed if missing). Every figure in a
# table is measured in this run. Bounded: each transfer is killed after 300 s.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
size_mib=1024; runs=3
while [ $# -gt 0 ]; do
    case $1 in
        --size-mib) size_mib=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

if [ ! -x /usr/bin/time ]; then
    echo "installing GNU time (for peak RSS)" >&2
    (apt-get update -qq && apt-get install -y -qq time) >/dev/null
fi

work=$(mktemp -d /dev/shm/sockets-rs-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

echo "building release binaries..." >&2
scripts/dist.sh ej2-upload-tcp >/dev/null
cargo build --quiet --release -p benchkit
BIN="$ROOT/dist/ej2-upload-tcp"
FLOOR="$ROOT/target/release/tcp-floor"

mkdir -p "$work/src" "$work/dst"
echo "writing a ${size_mib} MiB random file on tmpfs..." >&2
head -c $((size_mib * 1024 * 1024)) /dev/urandom >"$work/data.bin"
bytes=$(stat -c %s "$work/data.bin")
# Fresh memory is slow to touch the first time in a VM (the host maps each page on first
# use: ~350 MB/s here, against ~1.3 GB/s once mapped), which would penalise whichever
# program writes first. Touch 3x the file size once, then free it.
echo "warming tmpfs pages..." >&2
head -c $((3 * size_mib * 1024 * 1024)) /dev/zero >"$work/warm" && rm -f "$work/warm"

# wait_ready <stderr file> <pid>: until the readiness line appears; prints the port.
wait_ready() {
    local deadline=$((SECONDS + 20))
    until grep -q '^listening on' "$1"; do
        { [ $SECONDS -lt $deadline ] && kill -0 "$2" 2>/dev/null; } || { echo "server not ready" >&2; cat "$1" >&2; exit 1; }
        sleep 0.02
    done
    sed -n 's/^listening on .*:\([0-9]*\) (tcp)$/\1/p' "$1"
}

# rss_kib <time -v output file>: the "Maximum resident set size" figure.
rss_kib() { sed -n 's/.*Maximum resident set size (kbytes): \([0-9]*\).*/\1/p' "$1"; }

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# One upload with our programs; prints "seconds client_rss_kib server_rss_kib".
run_ours() {
    rm -rf "$work/dst"/* "$work/dst"/.sockcore-part-* 2>/dev/null || true
    cp "$work/data.bin" "$work/src/data.bin"
    (cd "$work/dst" && exec /usr/bin/time -v -o "$work/server.time" "$BIN/server" --port 0 --dir . \
        >/dev/null 2>"$work/server.err") &
    local spid=$!; pids+=($spid)
    local port; port=$(wait_ready "$work/server.err" $spid)
    local t0 t1
    t0=$(date +%s.%N)
    (cd "$work/src" && timeout 300 /usr/bin/time -v -o "$work/client.time" "$BIN/client" --port "$port" data.bin >/dev/null)
    t1=$(date +%s.%N)
    # GNU time writes its report when the server exits; SIGINT lets time itself survive.
    pkill -INT -P $spid 2>/dev/null || kill $spid; wait $spid 2>/dev/null || true
    cmp -s "$work/data.bin" "$work/dst/data.bin" || { echo "ours: received file differs!" >&2; exit 1; }
    echo "$(echo "$t1 - $t0" | bc -l) $(rss_kib "$work/client.time") $(rss_kib "$work/server.time")"
}

# One transfer with the floor programs; prints "seconds".
run_floor() {
    rm -f "$work/dst/floor.bin"
    "$FLOOR" recv --port 0 "$work/dst/floor.bin" 2>"$work/floor.err" &
    local spid=$!; pids+=($spid)
    local port; port=$(wait_ready "$work/floor.err" $spid)
    local t0 t1
    t0=$(date +%s.%N)
    timeout 300 "$FLOOR" send --port "$port" "$work/data.bin"
    wait $spid
    t1=$(date +%s.%N)
    cmp -s "$work/data.bin" "$work/dst/floor.bin" || { echo "floor: received file differs!" >&2; exit 1; }
    echo "$t1 - $t0" | bc -l
}

command -v bc >/dev/null || { (apt-get update -qq && apt-get install -y -qq bc) >/dev/null; }

ours_t=(); ours_c=(); ours_s=(); floor_t=()
for i in $(seq "$runs"); do
    echo "run $i/$runs..." >&2
    read -r t c s < <(run_ours)
    ours_t+=("$t"); ours_c+=("$c"); ours_s+=("$s")
    floor_t+=("$(run_floor)")
done
mt=$(printf '%s\n' "${ours_t[@]}" | median)
mf=$(printf '%s\n' "${floor_t[@]}" | median)
mc=$(printf '%s\n' "${ours_c[@]}" | sort -n | tail -n 1)
ms=$(printf '%s\n' "${ours_s[@]}" | sort -n | tail -n 1)
mbps() { echo "scale=1; $bytes / $1 / 1000000" | bc -l; }
pct=$(echo "scale=0; 100 * $mf / $mt" | bc -l)

echo
echo "### Ej. 2 over TCP: ${size_mib} MiB, loopback, tmpfs, median of $runs ($(nproc) cores, $(uname -sr))"
echo
echo "| program | seconds | MB/s | % of floor | peak RSS client | peak RSS server |"
echo "|---|---|---|---|---|---|"
printf '| ej2-upload-tcp (frames, CRC-32, temp file + rename) | %.2f | %s | %s%% | %d KiB | %d KiB |\n' "$mt" "$(mbps "$mt")" "$pct" "$mc" "$ms"
printf '| floor: `std::io::copy` socket -> file | %.2f | %s | 100%% | - | - |\n' "$mf" "$(mbps "$mf")"
echo
echo "Targets: >= 70% of the floor; peak RSS <= 16 MiB (16384 KiB) on either side."

if [ -f "$ROOT/scripts/bench/ej2-udp.sh" ]; then
    bash "$ROOT/scripts/bench/ej2-udp.sh"
fi
