#!/usr/bin/env bash
# Ej. 2 over UDP: our upload against atftp (RFC 7440 windowed TFTP), and under loss (release)
#
#   scripts/bench.sh ej2-udp [--size-mib N] [--runs N] [--stall-secs N]
#                            defaults: 256 MiB, 3 runs (median), a transfer stalls after 20 s
#
# Prints markdown tables on stdout (progress on stderr). Every figure is measured in this
# run, on loopback, with the files on tmpfs (/dev/shm) so the disk is not what is measured:
#   1. our client and server at the default chunk (1,400 bytes), --chunk 8192 and
#      --chunk 60000: MB/s (median of the runs) and peak RSS of each side (GNU time);
#   2. atftp --put to atftpd, same file, blksize = our chunk, windowsize 64 (Debian's
#      atftp/atftpd, installed if missing); a transfer that makes no progress is killed after
#      --stall-secs and reported as stalled, with how much had arrived;
#   3. our upload through testkit's lossy proxy (crates/testkit/src/bin/lossy-proxy.rs) with
#      0%, 1% and 5% of the datagrams dropped each way, as a percentage of the 0% figure
#      through the same proxy (the proxy itself, one thread each way, is the clean ceiling).
# Bounded: every transfer runs under `timeout`; the whole script takes a few minutes.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
size_mib=256; runs=3; stall=20
while [ $# -gt 0 ]; do
    case $1 in
        --size-mib) size_mib=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --stall-secs) stall=$2; shift 2 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

need() { # need <command> <debian package>: installs the package if the command is missing
    command -v "$1" >/dev/null 2>&1 && return
    echo "installing $2 (for $1)..." >&2
    { apt-get install -y -qq "$2" || { apt-get update -qq && apt-get install -y -qq "$2"; }; } >/dev/null 2>&1 \
        || { echo "cannot install $2: install it and rerun" >&2; exit 1; }
}
[ -x /usr/bin/time ] || need /usr/bin/time time
need bc bc
need atftp atftp
[ -x /usr/sbin/atftpd ] || command -v atftpd >/dev/null || need atftpd atftpd
ATFTPD=$(command -v atftpd || echo /usr/sbin/atftpd)

work=$(mktemp -d /dev/shm/sockets-rs-bench-udp.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building release binaries..." >&2
# One package per cargo call (same-named bins share target/release/{client,server}, cargo#6313):
# copy ours away at once, and check that they are ours.
cargo build --quiet --release -p ej2-upload-udp --bins
cp target/release/client target/release/server "$work/"
cargo build --quiet --release -p testkit --bin lossy-proxy
cp target/release/lossy-proxy "$work/"
"$work/server" --help | grep -q 'Ej. 2 (Práctica 2), UDP' || { echo "target/release/server is not ej2-upload-udp's (a concurrent build?): rerun" >&2; exit 1; }

mkdir -p "$work/src" "$work/dst" "$work/tftp"
chmod 777 "$work/tftp"
echo "writing a ${size_mib} MiB random file on tmpfs..." >&2
head -c $((size_mib * 1024 * 1024)) /dev/urandom >"$work/data.bin"
bytes=$(stat -c %s "$work/data.bin")
# Fresh tmpfs pages are slow the first time a VM touches them; touch 3x the size once, so
# whichever program writes first is not penalised.
head -c $((3 * size_mib * 1024 * 1024)) /dev/zero >"$work/warm" && rm -f "$work/warm"

now() { date +%s.%N; }
rss_kib() { sed -n 's/.*Maximum resident set size (kbytes): \([0-9]*\).*/\1/p' "$1"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mbps() { echo "scale=1; $bytes / $1 / 1000000" | bc -l; }
mib() { echo "scale=1; $1 / 1048576" | bc -l; }

# wait_line <file> <pid> <pattern>: until <pattern> appears in <file> (20 s at most).
wait_line() {
    local deadline=$((SECONDS + 20))
    until grep -q "$3" "$1" 2>/dev/null; do
        { [ $SECONDS -lt $deadline ] && kill -0 "$2" 2>/dev/null; } || { echo "no \"$3\" from pid $2:" >&2; cat "$1" >&2; exit 1; }
        sleep 0.02
    done
}
port_of() { sed -n 's/^listening on .*:\([0-9]*\) (udp)$/\1/p' "$1"; }

# Starts our server under GNU time in $work/dst; sets SERVER_TIME_PID, SERVER_PID, SERVER_PORT.
start_server() {
    rm -rf "$work/dst" && mkdir -p "$work/dst"
    : >"$work/server.err"
    (cd "$work/dst" && exec /usr/bin/time -v -o "$work/server.time" "$work/server" --port 0 --dir . \
        >/dev/null 2>"$work/server.err") &
    SERVER_TIME_PID=$!; pids+=("$SERVER_TIME_PID")
    wait_line "$work/server.err" "$SERVER_TIME_PID" '^listening on'
    SERVER_PORT=$(port_of "$work/server.err")
    SERVER_PID=$(pgrep -P "$SERVER_TIME_PID")
}

# Stops it (SIGINT to the server itself; GNU time then writes its report).
stop_server() {
    kill -INT "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_TIME_PID" 2>/dev/null || true
}

# run_ours <chunk> [drop]: one upload; prints "seconds client_rss_kib server_rss_kib", or
# "stalled" when it did not finish within the stall limit.
run_ours() {
    local chunk=$1 drop=${2:-} port t0 t1 proxy_pid=""
    start_server
    port=$SERVER_PORT
    if [ -n "$drop" ]; then
        : >"$work/proxy.err"
        "$work/lossy-proxy" --to "127.0.0.1:$SERVER_PORT" --drop "$drop" --seed 7 2>"$work/proxy.err" &
        proxy_pid=$!; pids+=("$proxy_pid")
        wait_line "$work/proxy.err" "$proxy_pid" '^listening on'
        port=$(port_of "$work/proxy.err")
    fi
    cp "$work/data.bin" "$work/src/data.bin"
    local limit=$((stall * 3))
    t0=$(now)
    local rc=0
    (cd "$work/src" && timeout "$limit" /usr/bin/time -v -o "$work/client.time" \
        "$work/client" --port "$port" --chunk "$chunk" data.bin >/dev/null 2>"$work/client.err") || rc=$?
    t1=$(now)
    stop_server
    [ -z "$proxy_pid" ] || kill "$proxy_pid" 2>/dev/null || true
    if [ $rc -eq 124 ]; then echo "stalled"; return; fi
    [ $rc -eq 0 ] || { echo "ours: the client failed (exit $rc):" >&2; cat "$work/client.err" >&2; exit 1; }
    cmp -s "$work/data.bin" "$work/dst/data.bin" || { echo "ours: received file differs!" >&2; exit 1; }
    echo "$(echo "$t1 - $t0" | bc -l) $(rss_kib "$work/client.time") $(rss_kib "$work/server.time")"
}

# run_atftp <blksize>: one atftp --put; prints "seconds client_rss_kib", or "stalled <s> <bytes>"
# when nothing more arrived for --stall-secs, or "crawling <s> <bytes>" when it was still
# unfinished after 3x --stall-secs (then it is killed: at that pace it would take too long).
run_atftp() {
    local bs=$1 port="" tries t0 t1 size=0 last=0 still=0
    rm -f "$work/tftp/data.bin"
    # atftpd takes a fixed --port: try random free-looking ones until one binds.
    for tries in 1 2 3 4 5; do
        port=$((20000 + RANDOM % 30000))
        "$ATFTPD" --daemon --no-fork --port "$port" --bind-address 127.0.0.1 \
            --user "$(id -un)" --group "$(id -gn)" --logfile /dev/null "$work/tftp" &
        ATFTPD_PID=$!; pids+=("$ATFTPD_PID")
        local deadline=$((SECONDS + 5))
        until ss -Hulnp 2>/dev/null | grep -q "127.0.0.1:$port .*pid=$ATFTPD_PID,"; do
            kill -0 "$ATFTPD_PID" 2>/dev/null && [ $SECONDS -lt $deadline ] || break
            sleep 0.02
        done
        ss -Hulnp 2>/dev/null | grep -q "127.0.0.1:$port .*pid=$ATFTPD_PID," && break
        kill "$ATFTPD_PID" 2>/dev/null || true; port=""
    done
    [ -n "$port" ] || { echo "atftpd would not start" >&2; exit 1; }
    t0=$(now)
    /usr/bin/time -v -o "$work/atftp.time" atftp --option "blksize $bs" --option "windowsize 64" \
        --put -l "$work/data.bin" -r data.bin 127.0.0.1 "$port" >/dev/null 2>&1 &
    local cpid=$!
    # Watch the received size: no growth for --stall-secs means a stall.
    while kill -0 "$cpid" 2>/dev/null; do
        sleep 0.2
        size=$(stat -c %s "$work/tftp/data.bin" 2>/dev/null || echo 0)
        if [ "$size" -gt "$last" ]; then last=$size; still=0; else still=$((still + 1)); fi
        local verdict=""
        [ $still -ge $((stall * 5)) ] && verdict=stalled
        [ "$(echo "$(now) - $t0 > $stall * 3" | bc -l)" = 1 ] && verdict=crawling
        if [ -n "$verdict" ]; then
            kill "$cpid" 2>/dev/null || true; wait "$cpid" 2>/dev/null || true
            kill "$ATFTPD_PID" 2>/dev/null || true; wait "$ATFTPD_PID" 2>/dev/null || true
            echo "$verdict $(echo "$(now) - $t0" | bc -l) $last"
            return
        fi
    done
    wait "$cpid" || true
    t1=$(now)
    kill "$ATFTPD_PID" 2>/dev/null || true; wait "$ATFTPD_PID" 2>/dev/null || true
    if cmp -s "$work/data.bin" "$work/tftp/data.bin"; then
        echo "$(echo "$t1 - $t0" | bc -l) $(rss_kib "$work/atftp.time")"
    else
        size=$(stat -c %s "$work/tftp/data.bin" 2>/dev/null || echo 0)
        echo "stalled $(echo "$t1 - $t0" | bc -l) $size"
    fi
}

# Formats a list of "seconds ..." results (or "stalled ...") as "MB/s" of the median.
figure() { # figure <seconds list>
    local med; med=$(printf '%s\n' "$@" | median)
    printf '%.1f' "$(mbps "$med")"
}

chunks=(1400 8192 60000)
declare -A ours_mb ours_c ours_s tftp_mb tftp_rss
for c in "${chunks[@]}"; do
    ts=(); cs=(); ss_=()
    for i in $(seq "$runs"); do
        echo "ours, chunk $c, run $i/$runs..." >&2
        r=$(run_ours "$c")
        if [ "$r" = stalled ]; then ts=(); break; fi
        read -r t cr sr <<<"$r"; ts+=("$t"); cs+=("$cr"); ss_+=("$sr")
    done
    if [ ${#ts[@]} -eq 0 ]; then
        ours_mb[$c]="stalled (unfinished after $((stall * 3)) s)"; ours_c[$c]="-"; ours_s[$c]="-"
    else
        ours_mb[$c]=$(figure "${ts[@]}")
        ours_c[$c]="$(printf '%s\n' "${cs[@]}" | sort -n | tail -n 1) KiB"
        ours_s[$c]="$(printf '%s\n' "${ss_[@]}" | sort -n | tail -n 1) KiB"
    fi

    ts=(); rs=()
    for i in $(seq "$runs"); do
        echo "atftp, blksize $c, run $i/$runs..." >&2
        r=$(run_atftp "$c")
        if [[ $r == stalled* || $r == crawling* ]]; then
            read -r verdict secs got <<<"$r"
            if [ "$verdict" = stalled ]; then
                tftp_mb[$c]=$(printf 'stalled: %.1f of %s MiB arrived, then nothing for %s s' "$(mib "$got")" "$size_mib" "$stall")
            else
                tftp_mb[$c]=$(printf '%.1f (only %.1f of %s MiB in %.0f s; killed)' "$(echo "$got / $secs / 1000000" | bc -l)" "$(mib "$got")" "$size_mib" "$secs")
            fi
            tftp_rss[$c]="-"; ts=(); break
        fi
        read -r t rr <<<"$r"; ts+=("$t"); rs+=("$rr")
    done
    if [ ${#ts[@]} -gt 0 ]; then
        tftp_mb[$c]=$(figure "${ts[@]}")
        tftp_rss[$c]="$(printf '%s\n' "${rs[@]}" | sort -n | tail -n 1) KiB"
    fi
done

declare -A loss_mb
for d in 0 0.01 0.05; do
    ts=()
    for i in $(seq "$runs"); do
        echo "ours through the proxy, ${d} loss, run $i/$runs..." >&2
        r=$(run_ours 1400 "$d")
        if [ "$r" = stalled ]; then ts=(); break; fi
        read -r t _ _ <<<"$r"; ts+=("$t")
    done
    if [ ${#ts[@]} -eq 0 ]; then loss_mb[$d]=""; else loss_mb[$d]=$(figure "${ts[@]}"); fi
done

echo
echo "### Ej. 2 over UDP: ${size_mib} MiB, loopback, tmpfs, median of $runs ($(nproc) cores, $(uname -sr), net.core.rmem_max $(cat /proc/sys/net/core/rmem_max 2>/dev/null || echo ?))"
echo
echo "| chunk / blksize | ej2-upload-udp MB/s | peak RSS client | peak RSS server | atftp (windowsize 64) MB/s | peak RSS atftp |"
echo "|---|---|---|---|---|---|"
for c in "${chunks[@]}"; do
    label=$c; [ "$c" = 1400 ] && label="1400 (default)"
    echo "| $label | ${ours_mb[$c]} | ${ours_c[$c]} | ${ours_s[$c]} | ${tftp_mb[$c]} | ${tftp_rss[$c]} |"
done
echo
echo "### Through testkit's lossy proxy (default chunk, seed 7, loss each way)"
echo
echo "| loss | MB/s | % of 0% loss through the proxy |"
echo "|---|---|---|"
clean=${loss_mb[0]:-}
for d in 0 0.01 0.05; do
    v=${loss_mb[$d]:-}
    if [ -z "$v" ]; then echo "| $(echo "$d * 100" | bc -l | sed 's/\.0*$//')% | stalled | - |"; continue; fi
    pct="-"; [ -n "$clean" ] && pct="$(echo "scale=0; 100 * $v / $clean" | bc -l)%"
    echo "| $(echo "$d * 100" | bc -l | sed 's/\.0*$//;s/^\./0./')% | $v | $pct |"
done
echo
echo "Targets: beat atftp at every block size; no chunk stalls; through the proxy, >= 25% of the"
echo "clean figure at 1% loss and >= 10% at 5%."
