#!/usr/bin/env bash
# Benchmarks: scripts that print figures (markdown tables), never tests.
#
#   scripts/bench.sh            list the benchmarks
#   scripts/bench.sh NAME       run scripts/bench/NAME.sh (release build); e.g. ej2, time
#
# Every figure in a table is measured in the same run; medians of repeated runs where the
# script says so. Traffic stays on loopback. Results are recorded in docs/benchmarks.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -eq 0 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
    echo "usage: scripts/bench.sh NAME [ARGS...]"
    echo "benchmarks:"
    for f in "$ROOT"/scripts/bench/*.sh; do
        [ -e "$f" ] || continue
        printf '  %-10s %s\n' "$(basename "$f" .sh)" "$(sed -n '2s/^# //p' "$f")"
    done
    exit 0
fi
name=$1; shift
script="$ROOT/scripts/bench/$name.sh"
[ -f "$script" ] || { echo "no benchmark named $name (see scripts/bench.sh)" >&2; exit 2; }
exec bash "$script" "$@"
