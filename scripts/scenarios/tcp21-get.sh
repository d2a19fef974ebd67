#!/usr/bin/env bash
# TCP 2.1: GET, TIME, an unknown command, a missing file, a name outside the directory, BYE;
# then a binary file of 3 MB, compared with the server's copy.
source "$(dirname "$0")/../lib.sh"
build tcp21-get
srv=$(workdir servidor); cli=$(workdir cliente)
printf 'Hola, esto es data.txt\n' >"$srv/data.txt"
head -c 3000000 /dev/urandom >"$srv/photo.jpg"
start_server "$srv" --dir .

section "terminal 2: client, commands typed at its prompt"
client "$cli" $'HELLO\nGET nothere.txt\nGET data.txt\nTIME\nGET ../secret.txt\nBYE\n'

section "terminal 2: a binary file; the end of input says BYE"
client "$cli" $'GET photo.jpg\n'
echo "\$ cmp photo.jpg ../servidor/photo.jpg && echo identical"
cmp "$cli/photo.jpg" "$srv/photo.jpg" && echo identical

section "terminal 1: server"
show_server
