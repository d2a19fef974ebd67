#!/usr/bin/env bash
# Práctica Autoguiada, UDP (1.1-1.5.6): the echo, then each consigna with its own server.
source "$(dirname "$0")/../lib.sh"
build udp-echo
dir=$(workdir udp)

# The server's stdout and stderr go to one file here, so its log reads as in its terminal.
# start <stdin file> [args...]: starts the server, waits for its readiness line, sets PORT.
start() {
    local input=$1; shift
    SERVER_OUT=$(mktemp); SERVER_ERR=$SERVER_OUT
    CLEANUP+=("$SERVER_OUT")
    (cd "$dir" && exec "$SERVER" --port 0 "$@" <"$input" >"$SERVER_OUT" 2>&1) &
    SERVER_PIDS+=($!)
    SERVER_ARGS="$*"
    local deadline=$((SECONDS + WAIT_SECS))
    until grep -q '^listening on .* (udp)$' "$SERVER_OUT"; do
        if [ $SECONDS -ge $deadline ] || ! kill -0 "${SERVER_PIDS[-1]}" 2>/dev/null; then
            echo "server did not become ready:" >&2; cat "$SERVER_OUT" >&2; exit 1
        fi
        sleep 0.05
    done
    PORT=$(sed -n 's/^listening on .*:\([0-9]*\) (udp)$/\1/p' "$SERVER_OUT" | head -n 1)
    [ -z "${PORTS_FILE:-}" ] || echo "$PORT" >>"$PORTS_FILE"
}
# waiting <n>: waits until the server has printed "Esperando clientes..." <n> times, i.e. it
# has finished the datagram before and is waiting for the next one.
waiting() {
    local deadline=$((SECONDS + WAIT_SECS))
    until [ "$(grep -c '^Esperando clientes\.\.\.$' "$SERVER_OUT")" -ge "$1" ]; do
        if [ $SECONDS -ge $deadline ]; then
            echo "server never waited $1 times:" >&2; cat "$SERVER_OUT" >&2; exit 1
        fi
        sleep 0.05
    done
}
log() {
    section "terminal 1: the server's log"
    echo "\$ server${SERVER_ARGS:+ $SERVER_ARGS}"
    cat "$SERVER_OUT"
}

section "1.3: the echo"
start /dev/null
client "$dir" ""
client "$dir" "" "Hola Mundo"
section "1.5.3: a client buffer smaller than the reply"
client "$dir" "" --buffer 8
section "1.5.6: /exec, on a server started without --allow-exec"
client "$dir" "" --exec echo hola
waiting 5
log
stop_server

section "1.5.1: the same client, with the server stopped"
client "$dir" ""

section "1.5.2: a server that only accepts 192.0.2.1"
start /dev/null --allow 192.0.2.1
client "$dir" ""
waiting 4
log
stop_server

section "1.5.3: a server buffer smaller than the message"
start /dev/null --buffer 8
client "$dir" ""
waiting 2
log
stop_server

section "1.5.4: chat; the operator's answers come from a file here"
answers=$(mktemp); CLEANUP+=("$answers")
printf 'Hola, aqui el servidor\nBien, gracias\n' >"$answers"
start "$answers" --chat
client "$dir" $'Hola servidor\n¿Que tal?\n\n' --chat
waiting 3
log
stop_server

section "1.5.5: the message that stops the server"
start /dev/null
client "$dir" "" --shutdown
wait_server_line "Servidor terminado"
log

section "1.5.6: /exec on a server started with --allow-exec --exec-time-limit 1"
start /dev/null --allow-exec --exec-time-limit 1
client "$dir" "" --exec echo hola
client "$dir" "" --exec python3 -c 'exit(3)'
client "$dir" "" --exec python3 -c "__import__('os').kill(__import__('os').getpid(),9)"
client "$dir" "" --exec sleep 30
client "$dir" "" --exec no-such-program
client "$dir" "" --exec echo 'a;b' '$HOME' '|' 'wc'
waiting 7
log
stop_server
