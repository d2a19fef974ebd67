#!/usr/bin/env bash
# See an exercise work: starts its server on a free port in a temporary directory, runs the
# client through the handout's dialogue, prints both sides, and cleans up.
#
#   scripts/demo.sh                 list the exercises that have a demo
#   scripts/demo.sh ej2-upload-tcp  run one
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -eq 0 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
    source "$ROOT/scripts/lib.sh"
    echo "usage: scripts/demo.sh CRATE"
    echo "exercises with a demo:"
    for f in "$ROOT"/scripts/scenarios/*.sh; do
        crate=$(basename "$f" .sh)
        printf '  %-18s %s\n' "$crate" "$(catalog_field "$crate" summary 2>/dev/null || true)"
    done
    exit 0
fi
scenario="$ROOT/scripts/scenarios/$1.sh"
[ -f "$scenario" ] || { echo "no demo for $1 (run scripts/demo.sh to list them)" >&2; exit 2; }
exec bash "$scenario"
