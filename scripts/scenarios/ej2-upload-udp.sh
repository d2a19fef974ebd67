#!/usr/bin/env bash
# Ej. 2 over UDP: a new file, an existing file refused, then overwritten.
source "$(dirname "$0")/../lib.sh"
build ej2-upload-udp
srv=$(workdir servidor); cli=$(workdir cliente)
start_server "$srv" --dir .

section "terminal 2: client, a new file"
printf 'Hello World!' > "$cli/Hello.txt"
client "$cli" "" Hello.txt

section "terminal 2: the same name again, answer n (both files stay)"
printf 'Hello again!' > "$cli/Hello.txt"
client "$cli" $'n\n' Hello.txt

section "terminal 2: once more, answer s (the server's copy is replaced)"
client "$cli" $'s\n' Hello.txt

section "terminal 1: server"
show_server
