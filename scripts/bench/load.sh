#!/usr/bin/env bash
# 500 idle TCP connections to each threaded server: a new client still served, peak RSS (release)
#
#   scripts/bench.sh load [--conns N] [--hold SECS]     defaults: 500 connections, held 60 s at most
#
# For each threaded TCP server present (ej7-ftp-tcp, tcp21-get, tcp22-lock, ej8-chatroom-tcp),
# with its default limits: start the release build on loopback, open N connections with
# crates/benchkit's idle-conns (each past the exercise's greeting, so each holds a server
# thread), run the real client through a short session meanwhile, then read the server's
# /proc/<pid>/status: VmHWM (peak resident set), VmRSS before and with the connections, and
# its thread count. Linux only (/proc). Bounded: every wait has a timeout, the connections
# are held at most --hold seconds and are released as soon as the figures are read.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
conns=500; hold=60
while [ $# -gt 0 ]; do
    case $1 in
        --conns) conns=$2; shift 2 ;;
        --hold) hold=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
[ -r /proc/self/status ] || { echo "load: needs Linux's /proc to read the server's memory" >&2; exit 1; }

# Each side holds one socket per connection, plus a few of its own; servers inherit this.
need=$((conns + 64))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
    ulimit -n "$need" 2>/dev/null || {
        echo "load: the open-file limit is $(ulimit -n) (hard $(ulimit -Hn)), below the $need needed for $conns connections" >&2
        exit 1
    }
fi

# name|greeting for idle-conns|server arguments (the working directory is a fresh one)
servers=(
    "ej7-ftp-tcp|ftp|--dir ."
    "tcp21-get|time|--dir ."
    "tcp22-lock|time|--dir ."
    "ej8-chatroom-tcp|line|"
)

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

present=()
for row in "${servers[@]}"; do
    name=${row%%|*}
    if compgen -G "exercises/*/$name/src/bin/server.rs" >/dev/null; then
        present+=("$row")
    else
        echo "load: $name is not in this workspace yet; skipped" >&2
    fi
done
echo "building release binaries..." >&2
for row in "${present[@]}"; do scripts/dist.sh "${row%%|*}" >/dev/null; done
cargo build --quiet --release -p benchkit --bin idle-conns
IDLE="$ROOT/target/release/idle-conns"

# wait_for <file> <pattern> <pid> <what>: until a line matches (20 s at most, or the process
# ends); prints the line.
wait_for() {
    local deadline=$((SECONDS + 20))
    until grep -q -- "$2" "$1" 2>/dev/null; do
        { [ $SECONDS -lt $deadline ] && kill -0 "$3" 2>/dev/null; } || {
            echo "load: no $4 (from $1):" >&2; cat "$1" >&2; exit 1; }
        sleep 0.02
    done
    grep -m1 -- "$2" "$1"
}

# status_kib <pid> <field>: a "kB" field of /proc/<pid>/status, e.g. VmHWM.
status_kib() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }
threads() { awk '$1 == "Threads:" {print $2}' "/proc/$1/status"; }

# new_client <name> <dir> <port>: one short session with the real client; prints its
# milliseconds, or fails.
new_client() {
    local bin="$ROOT/dist/$1/client" out="$work/$1.client" t0 t1
    t0=$(date +%s%N)
    case $1 in
        ej7-ftp-tcp)
            printf 'list\nexit\n' | (cd "$2" && timeout 10 "$bin" --port "$3" --name nueva) >"$out" 2>&1
            grep -q 'Sesion finalizada' "$out" ;;
        tcp21-get|tcp22-lock)
            (cd "$2" && timeout 10 "$bin" --port "$3" TIME BYE) >"$out" 2>&1
            grep -q '^Bye$' "$out" ;;
        ej8-chatroom-tcp)
            printf 'hola\nsalir\n' | (cd "$2" && timeout 10 "$bin" --port "$3" --name nueva) >"$out" 2>&1
            grep -q 'Te has unido al chat' "$out" ;;
    esac || { echo "load: $1: the new client was not served:" >&2; cat "$out" >&2; exit 1; }
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000000))
}

rows=()
for row in "${present[@]}"; do
    IFS='|' read -r name greeting args <<<"$row"
    echo "$name: $conns idle connections..." >&2
    dir="$work/$name"; mkdir -p "$dir"
    echo "hola" >"$dir/data.txt"
    # shellcheck disable=SC2086  # $args is a list of words on purpose
    (cd "$dir" && exec "$ROOT/dist/$name/server" --port 0 $args >"$work/$name.out" 2>"$work/$name.err") &
    spid=$!; pids+=("$spid")
    port=$(wait_for "$work/$name.err" '^listening on' "$spid" "readiness line" | sed -n 's/.*:\([0-9]*\) (tcp)$/\1/p')
    rss0=$(status_kib "$spid" VmRSS); thr0=$(threads "$spid")

    "$IDLE" --port "$port" --count "$conns" --greeting "$greeting" --hold "$hold" >"$work/$name.idle" 2>&1 &
    ipid=$!; pids+=("$ipid")
    opened=$(wait_for "$work/$name.idle" '^opened' "$ipid" "idle-conns report")
    case $opened in "opened $conns of $conns "*) ;; *) echo "load: $name: $opened" >&2; exit 1 ;; esac
    ms=$(new_client "$name" "$dir" "$port")
    rss1=$(status_kib "$spid" VmRSS); hwm=$(status_kib "$spid" VmHWM); thr1=$(threads "$spid")
    kill "$ipid" 2>/dev/null || true; wait "$ipid" 2>/dev/null || true
    kill "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true
    if grep -q 'panicked\|refused' "$work/$name.err"; then
        echo "load: $name: the server reported a problem:" >&2; cat "$work/$name.err" >&2; exit 1
    fi
    per=$(( (rss1 - rss0) / conns ))
    rows+=("| $name | $conns | ${ms} ms | $thr0 → $thr1 | $rss0 KiB | $rss1 KiB | **$hwm KiB** | $per KiB |")
done

echo
echo "### $conns idle TCP connections per server (release, loopback, $(nproc) cores, $(uname -sr))"
echo
echo "| server | idle connections held | new client served in | server threads | RSS before | RSS with them | peak RSS (VmHWM) | RSS per connection |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
