#!/usr/bin/env bash
# Ej. 6: every command of the handout (ls, write, mv, cd, rm), a few refused ones (cd .. at
# the top, a missing file, the same directory for mv), and exit, which ends the server too.
source "$(dirname "$0")/../lib.sh"
build ej6-shell-udp
srv=$(workdir servidor); cli=$(workdir cliente)
mkdir "$srv/apuntes"
printf 'borrador\n' > "$srv/borrador.txt"
start_server "$srv" --dir .

section "terminal 2: client"
client "$cli" "ls
write hola.txt 'Hola mundo desde el cliente'
ls
mv hola.txt .
mv hola.txt apuntes
cd apuntes
ls
cd ..
cd ..
rm borrador.txt
rm borrador.txt
ls
exit
"
wait_server_line "el servidor termina"

section "terminal 1: server (it has ended too)"
show_server
