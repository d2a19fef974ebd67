#!/usr/bin/env bash
# TCP 1.1: clients greet the server, one connection per message; EXIT ends the server.
source "$(dirname "$0")/../lib.sh"
build tcp11-greeting
cli=$(workdir cliente)
start_server "$cli"

section "terminal 2: client, the message typed at its prompt"
client "$cli" $'Hola servidor\n'

section "terminal 2: two more greetings, then EXIT (the server ends)"
client "$cli" "" Ana Luis EXIT

section "terminal 1: server"
show_server
