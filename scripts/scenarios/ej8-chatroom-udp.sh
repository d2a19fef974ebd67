#!/usr/bin/env bash
# Programa 2.1 over UDP: the report's own session (ale, pedro, alberto; pedro leaves with salir),
# then alberto's program is killed and the room notices its silence.
source "$(dirname "$0")/../lib.sh"
build ej8-chatroom-udp
dir=$(workdir sala)
start_server "$dir"

# Each member is a client whose keyboard is a FIFO (fd 3, 4, 5 here) and whose terminal is
# a file; every step waits for its effect before the next, so the output is deterministic.
declare -A FD PID
member() {
    local name=$1 fd=$2
    mkfifo "$dir/$name.in"
    (exec "$CLIENT" --port "$PORT" <"$dir/$name.in" >"$dir/$name.out" 2>&1) &
    PID[$name]=$!
    SERVER_PIDS+=($!)
    eval "exec $fd>\"$dir/$name.in\""
    FD[$name]=$fd
}
# type <member> <line>: the member types a line.
type_line() { printf '%s\n' "$2" >&"${FD[$1]}"; }
# seen <member> <text>: waits until the member's terminal shows a line equal to <text>.
seen() {
    local deadline=$((SECONDS + WAIT_SECS))
    until grep -qxF -- "$2" "$dir/$1.out"; do
        if [ $SECONDS -ge $deadline ]; then
            echo "$1 never saw: $2" >&2; cat "$dir/$1.out" >&2; exit 1
        fi
        sleep 0.05
    done
}
# leave <member>: types salir, closes its keyboard, waits for the program to end.
leave() {
    type_line "$1" salir
    eval "exec ${FD[$1]}>&-"
    wait "${PID[$1]}" || echo "[exit status $?]" >>"$dir/$1.out"
}

member ale 3;     type_line ale ale;         seen ale "Te has unido al chat"
member pedro 4;   type_line pedro pedro;     seen pedro "Te has unido al chat"; seen ale "pedro se ha unido al chat"
member alberto 5; type_line alberto alberto; seen alberto "Te has unido al chat"
for m in ale pedro; do seen $m "alberto se ha unido al chat"; done

say() {
    type_line "$1" "$2"
    for m in "${@:3}"; do seen "$m" "$1: $2"; done
}
say ale "hola que tal?" ale pedro alberto
say alberto "hola, yo bien y ustedes?" ale pedro alberto
say pedro "igualmente, estoy realizando la practica 2 de sistemas distribuidos" ale pedro alberto
leave pedro
for m in ale alberto; do seen $m "pedro ha salido del chat"; done
# alberto's program dies: no salir, no datagram; its heartbeats stop.
kill -9 "${PID[alberto]}"; wait "${PID[alberto]}" 2>/dev/null || true
eval "exec ${FD[alberto]}>&-"
echo "[killed with kill -9]" >>"$dir/alberto.out"
seen ale "alberto ha salido del chat"
leave ale
wait_server_line "~ ale ha salido del chat ~"

n=2
for m in ale pedro alberto; do
    section "terminal $n: client ($m)"
    echo "\$ client"
    cat "$dir/$m.out"
    n=$((n + 1))
done

section "terminal 1: server"
show_server
