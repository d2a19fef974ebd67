#!/usr/bin/env bash
# Ej. 4: the handout's conversation (welcome, name, questions, exit), then a second client.
source "$(dirname "$0")/../lib.sh"
build ej4-helpdesk-udp
srv=$(workdir servidor); cli=$(workdir cliente)
start_server "$srv"

section "terminal 2: client"
client "$cli" $'ale\n¿Cuándo empiezan las clases este curso?\n¿Y los exámenes?\nexit\n'
wait_server_line "ale se ha desconectado"

section "terminal 3: another client"
client "$cli" $'pedro\n¿Hay clase el lunes?\nexit\n'
wait_server_line "pedro se ha desconectado"

section "terminal 1: server"
show_server
