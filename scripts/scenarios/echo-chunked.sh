#!/usr/bin/env bash
# Echo Client/Server: the handout's dialogue, the 42-byte message echoed in 16-byte pieces.
source "$(dirname "$0")/../lib.sh"
build echo-chunked
dir=$(workdir echo)
start_server "$dir"

# wait_server_count <text> <n>: waits until <n> lines of the server's stdout contain <text>.
wait_server_count() {
    local deadline=$((SECONDS + WAIT_SECS))
    until [ "$(grep -cF -- "$1" "$SERVER_OUT")" -ge "$2" ]; do
        if [ $SECONDS -ge $deadline ]; then
            echo "server never printed $2 x: $1" >&2; cat "$SERVER_OUT" >&2; exit 1
        fi
        sleep 0.05
    done
}

section "terminal 2: client"
client "$dir" ""
# The server's last line comes after the client has exited: wait for it.
wait_server_count "waiting for a connection" 2

section "terminal 1: server"
show_server
