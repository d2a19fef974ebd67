#!/usr/bin/env bash
# Ej. 8 over TCP: bea (server) and ana (client) take turns; bea says desconectar. Then a
# client that vanishes in the middle of the chat.
source "$(dirname "$0")/../lib.sh"
build ej8-chat-tcp
dir=$(workdir chat)

# chat_server <stdin file>: starts the server with its keyboard read from <stdin file>;
# stdout and stderr go to one file, in the order a terminal would show them.
chat_server() {
    SERVER_OUT="$dir/server.out"
    (cd "$dir" && exec "$SERVER" --port 0 <"$1" >"$SERVER_OUT" 2>&1) &
    SERVER_PIDS+=($!)
    local deadline=$((SECONDS + WAIT_SECS))
    until grep -q '^listening on .* (tcp)$' "$SERVER_OUT"; do
        [ $SECONDS -lt $deadline ] || { echo "server not ready:" >&2; cat "$SERVER_OUT" >&2; exit 1; }
        sleep 0.05
    done
    PORT=$(sed -n 's/^listening on .*:\([0-9]*\) (tcp)$/\1/p' "$SERVER_OUT")
    [ -z "${PORTS_FILE:-}" ] || echo "$PORT" >>"$PORTS_FILE"
}
# server_done: waits for the server to exit; notes its status when it is not 0.
server_done() {
    local status=0
    wait "${SERVER_PIDS[-1]}" || status=$?
    [ $status -eq 0 ] || echo "[exit status $status]" >>"$SERVER_OUT"
}

printf 'bea\nhola ana, ¿qué tal?\nmuy bien; me voy, hasta luego\ndesconectar\n' >"$dir/bea.txt"
chat_server "$dir/bea.txt"
section "terminal 2: client"
client "$dir" $'ana\nhola bea\nbien, probando el chat de la práctica 2\n¡adiós!\n'
server_done
section "terminal 1: server"
echo "\$ server"
cat "$SERVER_OUT"

section "again, and the client is killed (kill -9) while the server waits for it"
printf 'bea\n' >"$dir/bea2.txt"
chat_server "$dir/bea2.txt"
mkfifo "$dir/ana.in"
(cd "$dir" && exec "$CLIENT" --port "$PORT" --name ana <"$dir/ana.in" >/dev/null 2>&1) &
client_pid=$!
exec 3>"$dir/ana.in"
wait_server_line "-----ana se ha unido-----"
kill -9 $client_pid; wait $client_pid 2>/dev/null || true
exec 3>&-
server_done
echo "\$ server"
cat "$SERVER_OUT"
