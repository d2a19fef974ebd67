# Sourced by scripts/lossy-link.sh: ej6-shell-udp commands across the lossy link run exactly
# once. Thirty `write`s and fifteen `rm`s: a `write` run twice would answer "exists", an `rm` run
# twice "no such file", and the server logs each command it executes ("Comando de ...").
ej6_check() {
    local crate=ej6-shell-udp
    [ -f "exercises/practica2/$crate/Cargo.toml" ] || { echo "skip $crate: crate not in this workspace"; return; }
    bins "$crate"
    local srv="$work/$crate.srv" cli="$work/$crate.cli" i cmds=""
    mkdir -p "$srv" "$cli"
    for i in $(seq 1 30); do cmds+="write f$i 'linea $i'"$'\n'; done
    for i in $(seq 1 15); do cmds+="rm f$i"$'\n'; done
    cmds+=$'ls\nexit\n'
    if ! start_server_ns "$crate" "$srv" --dir .; then
        stop_servers; result "$crate" 1 "the server did not start"; return
    fi
    local before status=0 t0; before=$(dropped); t0=$SECONDS
    (cd "$cli" && printf '%s' "$cmds" | ip netns exec "$NS_C" timeout "$CHECK_TIMEOUT" \
        "$work/$crate/client" --host "$ADDR_S" --port "$PORT" >"$work/$crate.client.out" 2>&1) || status=$?
    local secs=$((SECONDS - t0)) after; after=$(dropped)
    stop_servers
    local oks errors executed left
    oks=$(grep -c '^OK ' "$work/$crate.client.out" || true)
    errors=$(grep -c '^ERROR' "$work/$crate.client.out" || true)
    executed=$(grep -c ': \(write\|rm\) f' "$work/$crate.server.out" || true)
    left=$(cd "$srv" && ls | sort | tr '\n' ' ')
    local lost="?"; [ "$before" = "?" ] || lost=$((after - before))
    # 30 writes + 15 rms + exit answered OK; each write/rm executed once; f16..f30 remain.
    local want; want=$(for i in $(seq 16 30); do echo "f$i"; done | sort | tr '\n' ' ')
    if [ $status -eq 0 ] && [ "$oks" -eq 46 ] && [ "$errors" -eq 0 ] && [ "$executed" -eq 45 ] &&
       [ "$left" = "$want" ]; then
        result "$crate" 0 "46 commands, each run once (45 executions logged), in ${secs}s, $lost packets dropped on the link"
    else
        result "$crate" 1 "exit $status, $oks OK, $errors ERROR, $executed executions logged, left: $left; $(tail -n 3 "$work/$crate.client.out" | tr '\n' ' ')"
    fi
}
ej6_check
