#!/usr/bin/env bash
# TCP 2.2: Ana locks data.txt, gets it, edits it and puts it back, while Luis is refused the
# lock and the PUT; then Luis locks it and gets Ana's version.
source "$(dirname "$0")/../lib.sh"
build tcp22-lock
srv=$(workdir servidor); ana=$(workdir ana); luis=$(workdir luis); pipe=$(workdir pipe)
printf 'version 1\n' >"$srv/data.txt"
start_server "$srv" --dir .

# Ana's client stays connected across Luis's attempt: it reads her commands from a fifo.
mkfifo "$pipe/ana"
(cd "$ana" && exec timeout "$WAIT_SECS" "$CLIENT" --port "$PORT" <"$pipe/ana" >"$pipe/ana.out" 2>&1) &
ana_pid=$!
exec 3>"$pipe/ana"
shown=0
# ana <command> <text to wait for>: types a command for Ana and waits for its answer.
ana() {
    printf '%s\n' "$1" >&3
    local deadline=$((SECONDS + WAIT_SECS))
    until grep -qF -- "$2" "$pipe/ana.out"; do
        [ $SECONDS -lt $deadline ] || { echo "Ana's client never printed: $2" >&2; cat "$pipe/ana.out" >&2; exit 1; }
        sleep 0.05
    done
}
# show_ana: the lines Ana's client printed since the last time (not the prompt waiting for
# her next command, which is still without its line end).
show_ana() {
    local total
    total=$(wc -l <"$pipe/ana.out")
    sed -n "$((shown + 1)),${total}p" "$pipe/ana.out"
    shown=$total
}

section "terminal 2: Ana locks data.txt and gets it"
echo "\$ client"
ana "LOCK data.txt" "SUCCESS"
ana "GET data.txt" "Saved data.txt"
show_ana

section "terminal 3: Luis, while Ana holds the lock"
printf 'version de Luis\n' >"$luis/data.txt"
client "$luis" $'LOCK data.txt\nPUT data.txt\nBYE\n'

section "terminal 2: Ana edits her copy and puts it back (which releases the lock)"
printf 'editado por Ana\n' >>"$ana/data.txt"
ana "PUT data.txt" "File has been modified"
ana "BYE" "Bye"
exec 3>&-
wait "$ana_pid"
show_ana

section "terminal 3: Luis again, now that the file is free"
client "$luis" $'LOCK data.txt\nGET data.txt\nBYE\n'
echo "\$ cat data.txt"
cat "$luis/data.txt"

section "terminal 1: server"
show_server
