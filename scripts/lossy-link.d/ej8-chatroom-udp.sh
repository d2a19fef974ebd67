# Sourced by scripts/lossy-link.sh: an ej8-chatroom-udp room of three across the lossy link
# delivers every message to every member exactly once, in each sender's order. Each member
# types 20 lines as fast as its program reads them; then every terminal must show all 60
# lines "<nick>: <text>" once each, in order per sender, before anyone leaves.
chatroom_check() {
    local crate=ej8-chatroom-udp
    [ -f "exercises/practica2/$crate/Cargo.toml" ] || { echo "skip $crate: crate not in this workspace"; return; }
    bins "$crate"
    local dir="$work/$crate.room" m i fd=3 t0 per=20
    mkdir -p "$dir"
    if ! start_server_ns "$crate" "$dir"; then
        stop_servers; result "$crate" 1 "the server did not start"; return
    fi
    local before; before=$(dropped); t0=$SECONDS
    local -A FD PID
    local joined_late=""
    for m in ana bea cris; do
        mkfifo "$dir/$m.in"
        (exec ip netns exec "$NS_C" "$work/$crate/client" --host "$ADDR_S" --port "$PORT" \
            <"$dir/$m.in" >"$dir/$m.out" 2>&1) &
        PID[$m]=$!; pids+=($!)
        eval "exec $fd>\"$dir/$m.in\""
        FD[$m]=$fd; fd=$((fd + 1))
        printf '%s\n' "$m" >&"${FD[$m]}"
        # One at a time, so that the order of the joins (ana, bea, cris) is known.
        local deadline=$((SECONDS + 60))
        until grep -qF "Te has unido al chat" "$dir/$m.out"; do
            [ $SECONDS -lt $deadline ] || { joined_late+=" $m never joined;"; break; }
            sleep 0.05
        done
    done
    # seen_all <member>: waits (bounded) until its terminal shows every member's lines.
    seen_all() {
        local deadline=$((SECONDS + CHECK_TIMEOUT)) want=$((3 * per))
        until [ "$(grep -o '\(ana\|bea\|cris\): linea [0-9]* de [a-z]*' "$dir/$1.out" | wc -l)" -ge $want ]; do
            [ $SECONDS -lt $deadline ] || return 1
            sleep 0.1
        done
    }
    local ok=1 detail="$joined_late"
    [ -z "$joined_late" ] || ok=0
    # Everybody is in the room before anybody speaks (cris joined last), so everybody sees
    # every line.
    for m in ana bea; do
        local deadline=$((SECONDS + 60))
        until grep -q 'cris se ha unido al chat' "$dir/$m.out"; do
            [ $SECONDS -lt $deadline ] || { ok=0; detail+=" $m never saw cris join;"; break; }
            sleep 0.05
        done
    done
    for i in $(seq 1 $per); do
        for m in ana bea cris; do printf 'linea %02d de %s\n' "$i" "$m" >&"${FD[$m]}"; done
    done
    for m in ana bea cris; do seen_all "$m" || { ok=0; detail+=" $m did not see all lines in time;"; }; done
    for m in ana bea cris; do
        local s
        for s in ana bea cris; do
            # Exactly once each, in the sender's order.
            local got want
            got=$(grep -o "$s: linea [0-9]* de $s" "$dir/$m.out" | tr '\n' '|')
            want=$(for i in $(seq 1 $per); do printf '%s: linea %02d de %s|' "$s" "$i" "$s"; done)
            [ "$got" = "$want" ] || { ok=0; detail+=" $m saw $s's lines wrong;"; }
        done
    done
    for m in ana bea cris; do
        printf 'salir\n' >&"${FD[$m]}"; eval "exec ${FD[$m]}>&-"
        wait "${PID[$m]}" 2>/dev/null || true
    done
    local secs=$((SECONDS - t0)) after; after=$(dropped)
    stop_servers
    local lost="?"; [ "$before" = "?" ] || lost=$((after - before))
    if [ $ok -eq 1 ]; then
        result "$crate" 0 "3 members x $per messages, all $((9 * per)) deliveries once and in order, in ${secs}s, $lost packets dropped on the link"
    else
        result "$crate" 1 "deliveries missing, repeated or out of order:$detail (see $dir/*.out)"
    fi
}
chatroom_check
