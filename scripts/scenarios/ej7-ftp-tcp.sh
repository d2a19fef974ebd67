#!/usr/bin/env bash
# Ej. 7 / Programa 3: a session as in the report (name, listing on connect, list, a download,
# a missing file, an upload, the same upload again refused then accepted, exit).
source "$(dirname "$0")/../lib.sh"

build ej7-ftp-tcp
srv=$(workdir servidor); cli=$(workdir cliente)
printf 'Práctica 2 de Sistemas Distribuidos\n' > "$srv/enunciado.txt"
printf '\x89PNG\r\n\x1a\n' > "$srv/logo.png"
mkdir "$srv/carpeta"
printf 'mis apuntes\n' > "$cli/apuntes.txt"
start_server "$srv" --dir .

section "terminal 2: a session"
client "$cli" $'ale\nlist\nget enunciado.txt\nget horario.pdf\nsubir apuntes.txt\nput apuntes.txt\nn\nput apuntes.txt\ns\nlistar\nexit\n'
wait_server_line "-----ale se ha desconectado-----"
wait_server_err "el archivo solicitado no existe"

section "terminal 1: server"
show_server_split
