#!/usr/bin/env bash
# Práctica Autoguiada, TCP (2.1-2.5.4): the echo, then each consigna with its own server.
source "$(dirname "$0")/../lib.sh"
build tcp-echo
dir=$(workdir tcp)
mkdir "$dir/imagenes"

# The server's stdout and stderr go to one file here, so its log reads as in its terminal.
# start [args...]: starts the server in $dir, waits for its readiness line, sets PORT.
start() {
    SERVER_OUT=$(mktemp); SERVER_ERR=$SERVER_OUT
    CLEANUP+=("$SERVER_OUT")
    (cd "$dir" && exec "$SERVER" --port 0 "$@" </dev/null >"$SERVER_OUT" 2>&1) &
    SERVER_PIDS+=($!)
    SERVER_ARGS="$*"
    local deadline=$((SECONDS + WAIT_SECS))
    until grep -q '^listening on .* (tcp)$' "$SERVER_OUT"; do
        if [ $SECONDS -ge $deadline ] || ! kill -0 "${SERVER_PIDS[-1]}" 2>/dev/null; then
            echo "server did not become ready:" >&2; cat "$SERVER_OUT" >&2; exit 1
        fi
        sleep 0.05
    done
    PORT=$(sed -n 's/^listening on .*:\([0-9]*\) (tcp)$/\1/p' "$SERVER_OUT" | head -n 1)
    [ -z "${PORTS_FILE:-}" ] || echo "$PORT" >>"$PORTS_FILE"
}
log() {
    section "terminal 1: the server's log"
    echo "\$ server${SERVER_ARGS:+ $SERVER_ARGS}"
    cat "$SERVER_OUT"
}

section "2.3: the echo"
start
client "$dir" ""
client "$dir" "" "Hola de nuevo"
section "2.5.2: write() given 4 bytes at a time, looping as sendall() does"
client "$dir" "" --send-size 4
section "2.5.2: one write() of 4 bytes and no loop, as a single send()"
client "$dir" "" --send-size 4 --send-once
log
stop_server

section "2.5.1: backlog 1, a 1 s pause per client, two clients started together"
start --backlog 1 --pause-ms 1000
out1=$(mktemp); out2=$(mktemp); CLEANUP+=("$out1" "$out2")
client "$dir" "" "cliente 1" >"$out1" & c1=$!
client "$dir" "" "cliente 2" >"$out2" & c2=$!
wait "$c1" "$c2"
cat "$out1" "$out2"
log
stop_server

section "2.5.3: the server reads 4 bytes at a time until the client has sent everything"
start --recv-size 4 --print-received
client "$dir" ""
log
stop_server

section "2.5.4: a text and an image on one connection"
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 200)' >"$dir/foto.jpg"
start --image-dir imagenes
client "$dir" "" --image foto.jpg "Mira esta foto"
log
stop_server
echo "\$ cmp foto.jpg imagenes/foto.jpg && echo identical"
(cd "$dir" && cmp foto.jpg imagenes/foto.jpg && echo identical)
