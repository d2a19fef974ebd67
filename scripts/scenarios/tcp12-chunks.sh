#!/usr/bin/env bash
# TCP 1.2: messages received 20 bytes at a time, one connection each; EXIT ends the server.
source "$(dirname "$0")/../lib.sh"
build tcp12-chunks
cli=$(workdir cliente)
start_server "$cli"

section "terminal 2: client, the handout's message typed at the prompt"
client "$cli" $'Hola servidor, esto es un mensaje muy pero que muy largo\n'

section "terminal 2: exactly 40 bytes (the handout's rule waits forever for a short read)"
client "$cli" $'Este mensaje de prueba tiene 40 bytes ok\n'

section "terminal 2: EXIT (the server ends)"
client "$cli" "" EXIT

section "terminal 1: server"
show_server
