# Shared by scripts/demo.sh, scripts/transcripts.sh and scripts/scenarios/*.sh.
# Source it; it does not run anything by itself.
#
# A scenario (scripts/scenarios/<crate>.sh) builds its exercise, starts the server on a free
# port in a temporary directory, drives the client through the handout's dialogue and prints
# both sides' transcripts. demo.sh shows that output as it is; transcripts.sh normalises it
# (ports, temporary paths, timestamps) and pastes it into the walkthrough.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The list of exercises (crate, folder, handout, section, transport, port, python_compat,
# summary). The repository keeps its own copy so forks work on their own.
CATALOG="$ROOT/catalog.tsv"
# How long to wait for a server's readiness line or a client's exit, in seconds.
WAIT_SECS=${WAIT_SECS:-20}

# catalog_field <crate> <column name>: one field of the crate's catalog row.
catalog_field() {
    awk -F'\t' -v crate="$1" -v col="$2" '
        NR == 1 { for (i = 1; i <= NF; i++) idx[$i] = i; next }
        $1 == crate { print $idx[col]; found = 1 }
        END { exit !found }' "$CATALOG"
}

# Crates listed in the catalog whose folder exists in the workspace.
workspace_crates() {
    awk -F'\t' 'NR > 1 { print $1 "\t" $2 }' "$CATALOG" | while IFS=$'\t' read -r crate folder; do
        [ -f "$ROOT/$folder/$crate/Cargo.toml" ] && echo "$crate"
    done
}

# build <crate>: builds the crate's two bins (one package per cargo call, so the uplifted
# target/debug/{client,server} are this crate's) and copies them to $BIN_DIR.
build() {
    local crate=$1
    BIN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sockets-rs-bin.XXXXXX")
    CLEANUP+=("$BIN_DIR")
    (cd "$ROOT" && cargo build --quiet -p "$crate" --bins)
    local exe=""
    case "$(uname -s)" in MINGW*|MSYS*|CYGWIN*) exe=.exe ;; esac
    cp "$ROOT/target/debug/client$exe" "$BIN_DIR/client$exe"
    cp "$ROOT/target/debug/server$exe" "$BIN_DIR/server$exe"
    CLIENT="$BIN_DIR/client$exe"
    SERVER="$BIN_DIR/server$exe"
}

CLEANUP=()
SERVER_PIDS=()
cleanup() {
    local pid
    for pid in "${SERVER_PIDS[@]+"${SERVER_PIDS[@]}"}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    local d
    for d in "${CLEANUP[@]+"${CLEANUP[@]}"}"; do rm -rf "$d"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# workdir <name>: a fresh temporary directory, removed at exit; prints its path.
workdir() {
    local d
    d=$(mktemp -d "${TMPDIR:-/tmp}/sockets-rs-$1.XXXXXX")
    CLEANUP+=("$d")
    echo "$d"
}

# start_server <dir> [args...]: starts $SERVER --port 0 in <dir>, waits for its readiness
# line, sets PORT and SERVER_OUT/SERVER_ERR (files with its stdout and stderr).
start_server() {
    local dir=$1; shift
    SERVER_OUT=$(mktemp); SERVER_ERR=$(mktemp)
    CLEANUP+=("$SERVER_OUT" "$SERVER_ERR")
    (cd "$dir" && exec "$SERVER" --port 0 "$@" >"$SERVER_OUT" 2>"$SERVER_ERR") &
    SERVER_PIDS+=($!)
    SERVER_ARGS="$*"
    local deadline=$((SECONDS + WAIT_SECS))
    until grep -q '^listening on .* (\(tcp\|udp\))$' "$SERVER_ERR"; do
        if [ $SECONDS -ge $deadline ] || ! kill -0 "${SERVER_PIDS[-1]}" 2>/dev/null; then
            echo "server did not become ready; stderr:" >&2; cat "$SERVER_ERR" >&2; exit 1
        fi
        sleep 0.05
    done
    PORT=$(sed -n 's/^listening on .*:\([0-9]*\) (\(tcp\|udp\))$/\1/p' "$SERVER_ERR" | head -n 1)
    # transcripts.sh replaces this port with the catalog's default.
    [ -z "${PORTS_FILE:-}" ] || echo "$PORT" >>"$PORTS_FILE"
}

# wait_server_line <text>: waits until the server's stdout has a line containing <text>
# (for lines a server prints after its client has already exited).
wait_server_line() {
    local deadline=$((SECONDS + WAIT_SECS))
    until grep -qF -- "$1" "$SERVER_OUT"; do
        if [ $SECONDS -ge $deadline ]; then
            echo "server never printed: $1" >&2; cat "$SERVER_OUT" >&2; exit 1
        fi
        sleep 0.05
    done
}

# wait_server_err <text>: as wait_server_line, for the server's stderr (its diagnostics).
wait_server_err() {
    local deadline=$((SECONDS + WAIT_SECS))
    until grep -qF -- "$1" "$SERVER_ERR"; do
        if [ $SECONDS -ge $deadline ]; then
            echo "server never said: $1" >&2; cat "$SERVER_ERR" >&2; exit 1
        fi
        sleep 0.05
    done
}

# stop_server: stops the last server started (SIGTERM, then waits).
stop_server() {
    local pid=${SERVER_PIDS[-1]}
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# client <dir> <stdin text> [args...]: runs the client in <dir> with --port $PORT, showing the
# command line as a student would type it, then its stdout and stderr as they came, and
# its exit status when it is not 0.
client() {
    local dir=$1 input=$2; shift 2
    echo "\$ client${*:+ $*}"
    local status=0
    (cd "$dir" && printf '%s' "$input" | timeout "$WAIT_SECS" "$CLIENT" --port "$PORT" "$@" 2>&1) || status=$?
    [ $status -eq 0 ] || echo "[exit status $status]"
}

# show_server: prints the server's command line, readiness line and stdout so far.
show_server() {
    echo "\$ server${SERVER_ARGS:+ $SERVER_ARGS}"
    cat "$SERVER_ERR" "$SERVER_OUT"
}

# show_server_split: the server's readiness line and stdout, then its diagnostics (stderr)
# under their own heading; a terminal would show the two interleaved.
show_server_split() {
    echo "\$ server${SERVER_ARGS:+ $SERVER_ARGS}"
    head -n 1 "$SERVER_ERR"
    cat "$SERVER_OUT"
    section "terminal 1: the server's diagnostics (stderr)"
    tail -n +2 "$SERVER_ERR"
}

# section <title>: a heading inside a transcript.
section() {
    printf '\n# %s\n' "$1"
}
