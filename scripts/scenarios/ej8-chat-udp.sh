#!/usr/bin/env bash
# Ej. 8 over UDP: the TCP version's dialogue, then the same through a proxy that loses 20%
# of the datagrams (the transcript does not change), then a client that vanishes.
source "$(dirname "$0")/../lib.sh"
build ej8-chat-udp
(cd "$ROOT" && cargo build --quiet -p testkit --bin lossy-proxy)
PROXY_BIN="$ROOT/target/debug/lossy-proxy"
dir=$(workdir chat)

# chat_server <stdin file>: starts the server with its keyboard read from <stdin file>;
# stdout and stderr go to one file, in the order a terminal would show them.
chat_server() {
    SERVER_OUT="$dir/server.out"
    (cd "$dir" && exec "$SERVER" --port 0 <"$1" >"$SERVER_OUT" 2>&1) &
    CHAT_SERVER_PID=$!
    SERVER_PIDS+=($!)
    local deadline=$((SECONDS + WAIT_SECS))
    until grep -q '^listening on .* (udp)$' "$SERVER_OUT"; do
        [ $SECONDS -lt $deadline ] || { echo "server not ready:" >&2; cat "$SERVER_OUT" >&2; exit 1; }
        sleep 0.05
    done
    PORT=$(sed -n 's/^listening on .*:\([0-9]*\) (udp)$/\1/p' "$SERVER_OUT")
    [ -z "${PORTS_FILE:-}" ] || echo "$PORT" >>"$PORTS_FILE"
}
# server_done: waits for the server to exit; notes its status when it is not 0.
server_done() {
    local status=0
    wait "$CHAT_SERVER_PID" || status=$?
    [ $status -eq 0 ] || echo "[exit status $status]" >>"$SERVER_OUT"
}
show_chat_server() { echo "\$ server"; cat "$SERVER_OUT"; }

BEA=$'bea\nhola ana, ¿qué tal?\nmuy bien; me voy, hasta luego\ndesconectar\n'
ANA=$'ana\nhola bea\nbien, probando el chat de la práctica 2\n¡adiós!\n'

printf '%s' "$BEA" >"$dir/bea.txt"
chat_server "$dir/bea.txt"
section "terminal 2: client"
client "$dir" "$ANA"
server_done
section "terminal 1: server"
show_chat_server

section "the same chat through a proxy that drops 20% of the datagrams, both ways"
chat_server "$dir/bea.txt"
"$PROXY_BIN" --to "127.0.0.1:$PORT" --drop 0.2 --duplicate 0.05 --reorder 0.05 --seed 8 2>"$dir/proxy.err" &
SERVER_PIDS+=($!)
until grep -q '^listening on' "$dir/proxy.err"; do sleep 0.05; done
proxy_port=$(sed -n 's/^listening on .*:\([0-9]*\) (udp)$/\1/p' "$dir/proxy.err")
echo "\$ lossy-proxy --to 127.0.0.1:$PORT --drop 0.2 --duplicate 0.05 --reorder 0.05"
echo "\$ client --port <the proxy's port>"
(cd "$dir" && printf '%s' "$ANA" | timeout "$WAIT_SECS" "$CLIENT" --port "$proxy_port" 2>&1) || echo "[exit status $?]"
server_done
show_chat_server

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
show_chat_server
