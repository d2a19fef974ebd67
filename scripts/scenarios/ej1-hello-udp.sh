#!/usr/bin/env bash
# Ej. 1 over UDP: a message typed at the prompt, one given as arguments; then the handout's
# question: the client with no server (refused, then it gives up), and the client started
# first with the server starting while it retries.
source "$(dirname "$0")/../lib.sh"
build ej1-hello-udp
srv=$(workdir servidor); cli=$(workdir cliente)
start_server "$srv"

section "terminal 2: client, message typed at \"Envia mensaje: \""
client "$cli" $'Hola mundo!\n'

section "terminal 2: client, message as arguments"
client "$cli" "" Hola otra vez
wait_server_line "Hola otra vez"

section "terminal 1: server"
show_server

stop_server
section "terminal 2: the server has been stopped (Ctrl-C); the client starts alone"
client "$cli" $'Hola mundo!\n'

section "terminal 2: the client starts first ..."
out=$(mktemp); CLEANUP+=("$out")
(cd "$cli" && exec timeout "$WAIT_SECS" "$CLIENT" --port "$PORT" Llego antes que el servidor >"$out" 2>&1) &
client_pid=$!
deadline=$((SECONDS + WAIT_SECS))
until grep -q 'attempt 1 of' "$out"; do
    [ $SECONDS -lt $deadline ] || { echo "client printed nothing" >&2; exit 1; }
    sleep 0.05
done
# ... and, within the second its first attempt waits, the server starts on the same port.
SERVER_OUT=$(mktemp); SERVER_ERR=$(mktemp); CLEANUP+=("$SERVER_OUT" "$SERVER_ERR")
(cd "$srv" && exec "$SERVER" --port "$PORT" >"$SERVER_OUT" 2>"$SERVER_ERR") &
SERVER_PIDS+=($!)
SERVER_ARGS="--port $PORT"
wait "$client_pid" || echo "[exit status $?]"
echo "\$ client Llego antes que el servidor"
cat "$out"
wait_server_line "Llego antes que el servidor"
section "terminal 1: server, started a moment after the client"
show_server
