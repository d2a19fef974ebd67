#!/usr/bin/env bash
# Ej. 1 over TCP: a message typed at the prompt, one given as an argument; then the client
# started when no server is running (the handout's question).
source "$(dirname "$0")/../lib.sh"
build ej1-hello-tcp
srv=$(workdir servidor); cli=$(workdir cliente)
start_server "$srv"

section "terminal 2: client, message typed at \"Envia mensaje: \""
client "$cli" $'Hola mundo!\n'

section "terminal 2: client, message as an argument"
client "$cli" "" "¿Qué ocurre si el cliente se inicia antes que el servidor?"
wait_server_line "¿Qué ocurre si el cliente se inicia antes que el servidor?"

section "terminal 1: server"
show_server

stop_server
section "terminal 2: the server has been stopped (Ctrl-C); the client starts alone"
client "$cli" $'Hola mundo!\n'
