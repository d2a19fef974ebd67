#!/usr/bin/env bash
# TCP 1.3: the handout's 100,000 TIME queries over one connection, then a short run that
# sends EXIT. Figures vary from run to run; tcp13-time.sed normalises them.
source "$(dirname "$0")/../lib.sh"
build tcp13-time
cli=$(workdir cliente)
start_server "$cli"

# wait_server_lines <n>: until the server's stdout has <n> lines (its "Waiting for
# clients..." comes after the client has left).
wait_server_lines() {
    local deadline=$((SECONDS + WAIT_SECS))
    until [ "$(wc -l <"$SERVER_OUT")" -ge "$1" ]; do
        [ $SECONDS -lt $deadline ] || { echo "server printed too little:" >&2; cat "$SERVER_OUT" >&2; exit 1; }
        sleep 0.05
    done
}

section "terminal 2: client, the handout's 100,000 queries"
client "$cli" ""
wait_server_lines 3

section "terminal 2: 10 more queries, then EXIT (the server ends)"
client "$cli" "" --queries 10 --exit

section "terminal 1: server"
show_server
