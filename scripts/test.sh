#!/usr/bin/env bash
# The project's test command: runs every package's tests, one package per cargo call.
#
#   scripts/test.sh              all packages (sockcore, testkit, then every exercise)
#   scripts/test.sh PKG...       only these packages
#
# One package per call because every exercise has bins named `client` and `server`: a
# multi-package build would uplift them all to one target/debug/server (rust-lang/cargo#6313).
# Ends with one line "N passed, M failed" summed over all packages; exits 1 if any test
# failed or any package did not build.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

# The 500-connection load tests need ~600 open files; raise the soft limit where the hard
# limit allows (testkit::open_files_allow fails such a test on Linux otherwise).
ulimit -n 4096 2>/dev/null || true

packages=("$@")
if [ ${#packages[@]} -eq 0 ]; then
    for toml in crates/*/Cargo.toml exercises/*/*/Cargo.toml; do
        [ -f "$toml" ] || continue
        packages+=("$(sed -n 's/^name = "\(.*\)"$/\1/p' "$toml" | head -n 1)")
    done
fi

passed=0; failed=0; broken=()
log=$(mktemp); trap 'rm -f "$log"' EXIT
for pkg in "${packages[@]}"; do
    echo "== $pkg"
    cargo test --quiet -p "$pkg" >"$log" 2>&1
    status=$?
    p=$(sed -n 's/^test result: .* \([0-9]*\) passed; \([0-9]*\) failed.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    f=$(sed -n 's/^test result: .* \([0-9]*\) passed; \([0-9]*\) failed.*/\2/p' "$log" | awk '{s+=$1} END {print s+0}')
    passed=$((passed + p)); failed=$((failed + f))
    if [ $status -ne 0 ]; then
        cat "$log"
        broken+=("$pkg")
        # A package that did not build ran no test: count it as one failure so it shows.
        [ "$f" -gt 0 ] || failed=$((failed + 1))
    fi
    echo "   $p passed, $f failed"
done

[ ${#broken[@]} -eq 0 ] || echo "failing packages: ${broken[*]}"
echo "$passed passed, $failed failed"
[ ${#broken[@]} -eq 0 ]
