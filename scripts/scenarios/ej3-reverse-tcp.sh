#!/usr/bin/env bash
# Ej. 3: the handout's Hello.txt, the same file again (the first result is kept), a text with
# accents and an emoji, and a file that is not text.
source "$(dirname "$0")/../lib.sh"

build ej3-reverse-tcp
srv=$(workdir servidor); cli=$(workdir cliente)
start_server "$srv"

section "terminal 2: the handout's example"
printf 'Hello World!' > "$cli/Hello.txt"
client "$cli" $'Hello.txt\n'
echo "\$ cat Hello_invertido.txt"
cat "$cli/Hello_invertido.txt"; echo

section "terminal 2: the same file again: Hello_invertido.txt is kept"
client "$cli" "" Hello.txt

section "terminal 2: characters of more than one byte are reversed whole"
printf '¿Añoño? ¡Sí! 😀' > "$cli/acentos.txt"
client "$cli" "" acentos.txt
echo "\$ cat acentos_invertido.txt"
cat "$cli/acentos_invertido.txt"; echo

section "terminal 2: a file that is not text"
printf '\xff\xd8\xff\xe0\x00\x10JFIF' > "$cli/foto.jpg"
client "$cli" "" foto.jpg
wait_server_err "foto.jpg is not valid UTF-8"

section "terminal 1: server"
show_server_split
