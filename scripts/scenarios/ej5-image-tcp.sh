#!/usr/bin/env bash
# Ej. 5: download an image by name; a name the server does not have; a file that is not a
# .jpg; the same image again when the client already has it (answer n).
source "$(dirname "$0")/../lib.sh"

build ej5-image-tcp
srv=$(workdir servidor); cli=$(workdir cliente)
# A small "image": a JPEG start-of-image marker, 20,000 bytes of a pattern, an end marker.
python3 -c 'import sys; sys.stdout.buffer.write(b"\xff\xd8" + bytes(i * 7 % 251 for i in range(20000)) + b"\xff\xd9")' > "$srv/gato.jpg"
printf 'no es una imagen\n' > "$srv/notas.txt"
start_server "$srv" --dir .

section "terminal 2: client, the name typed at the prompt"
client "$cli" $'gato.jpg\n'
echo "\$ cmp gato.jpg <server's directory>/gato.jpg && echo idénticos"
cmp "$cli/gato.jpg" "$srv/gato.jpg" && echo idénticos

section "terminal 2: an image the server does not have"
client "$cli" "" perro.jpg
wait_server_err "perro.jpg does not exist"

section "terminal 2: a file that is not a .jpg"
client "$cli" "" notas.txt
wait_server_err "notas.txt is not a .jpg file"

section "terminal 2: gato.jpg again, but the client already has it: answer n"
client "$cli" $'n\n' gato.jpg

section "terminal 1: server"
show_server_split
