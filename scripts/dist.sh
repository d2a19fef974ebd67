#!/usr/bin/env bash
# Gathers release binaries as dist/<crate>/{client,server}, for students who run the two
# programs on two machines (copy one folder to each).
#
#   scripts/dist.sh            every exercise
#   scripts/dist.sh CRATE...   only these
#
# One package per cargo call: same-named bins of different packages share the uplifted
# target/release/{client,server} (rust-lang/cargo#6313), so each is copied right after its
# own build. Never run target/*/server directly for that reason.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/lib.sh"
cd "$ROOT"
crates=("$@")
[ ${#crates[@]} -gt 0 ] || mapfile -t crates < <(workspace_crates)
exe=""
case "$(uname -s)" in MINGW*|MSYS*|CYGWIN*) exe=.exe ;; esac
for crate in "${crates[@]}"; do
    cargo build --quiet --release -p "$crate" --bins
    mkdir -p "dist/$crate"
    cp "target/release/client$exe" "target/release/server$exe" "dist/$crate/"
    echo "dist/$crate/{client,server}$exe"
done
