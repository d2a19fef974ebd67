#!/usr/bin/env bash
# Regenerates the transcripts in the walkthroughs, or checks them (--check).
#
#   scripts/transcripts.sh            rewrite every transcript block in docs/
#   scripts/transcripts.sh --check    exit 1 if a committed transcript differs from what the
#                                     programs print now (CI runs this)
#   scripts/transcripts.sh NAME...    only these blocks
#
# A block in a walkthrough looks like
#   <!-- transcript:ej2-upload-tcp:begin -->  ...  <!-- transcript:ej2-upload-tcp:end -->
# and is filled with the output of scripts/scenarios/ej2-upload-tcp.sh, normalised:
# the servers' ports become the catalog's default port, client ports become 50001, 50002, ...
# in order of appearance, temporary directories lose their random suffix, and
# scripts/scenarios/NAME.sed (if present) is applied for anything else (timestamps).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
source scripts/lib.sh

check=0
names=()
for arg in "$@"; do
    case $arg in
        --check) check=1 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) names+=("$arg") ;;
    esac
done

# Every transcript name used in docs/, with the doc that uses it.
mapfile -t blocks < <(grep -rHo '<!-- transcript:[a-z0-9-]*:begin -->' docs | sed 's/<!-- transcript:\(.*\):begin -->/\1/')
[ ${#blocks[@]} -gt 0 ] || { echo "no transcript blocks in docs/"; exit 0; }

failed=0
checked=0
for entry in "${blocks[@]}"; do
    doc=${entry%%:*}; name=${entry#*:}
    if [ ${#names[@]} -gt 0 ] && [[ ! " ${names[*]} " =~ " $name " ]]; then continue; fi
    scenario="scripts/scenarios/$name.sh"
    [ -f "$scenario" ] || { echo "$doc: no scenario $scenario"; failed=1; continue; }
    crate=$name
    default_port=$(catalog_field "$crate" port 2>/dev/null || echo 0)
    ports=$(mktemp); raw=$(mktemp); new=$(mktemp)
    CLEANUP+=("$ports" "$raw" "$new")
    PORTS_FILE=$ports bash "$scenario" >"$raw" 2>&1 || { echo "$name: scenario failed:"; cat "$raw"; failed=1; continue; }
    python3 - "$raw" "$ports" "$default_port" "scripts/scenarios/$name.sed" >"$new" <<'PY'
import re, sys, os
raw, ports_file, default_port, sed_file = sys.argv[1:5]
text = open(raw, encoding="utf-8").read()
server_ports = set(open(ports_file).read().split())
clients = {}
def port(m):
    host, p = m.group(1), m.group(2)
    if p in server_ports:
        return f"{host}:{default_port}"
    clients.setdefault((host, p), str(50001 + len(clients)))
    return f"{host}:{clients[(host, p)]}"
text = re.sub(r"(127\.0\.0\.1|\[::1\]|localhost):(\d+)", port, text)
def map_port(p):
    if p in server_ports:
        return default_port
    clients.setdefault(("127.0.0.1", p), str(50001 + len(clients)))
    return clients[("127.0.0.1", p)]
# Python's address tuples, as the echo handout prints them: ('127.0.0.1', 54321)
text = re.sub(r"\('127\.0\.0\.1', (\d+)\)", lambda m: f"('127.0.0.1', {map_port(m.group(1))})", text)
text = re.sub(r"(/tmp/sockets-rs-[a-z0-9-]+)\.[A-Za-z0-9]{6}", r"\1", text)
if os.path.exists(sed_file):
    for line in open(sed_file, encoding="utf-8"):
        line = line.rstrip("\n")
        if line and not line.startswith("#"):
            pat, rep = line.split("\t", 1)
            text = re.sub(pat, rep, text)
sys.stdout.write(text.strip("\n") + "\n")
PY
    updated=$(mktemp); CLEANUP+=("$updated")
    python3 - "$doc" "$name" "$new" >"$updated" <<'PY'
import sys
doc, name, new = sys.argv[1:4]
text = open(doc, encoding="utf-8").read()
begin, end = f"<!-- transcript:{name}:begin -->", f"<!-- transcript:{name}:end -->"
a, b = text.index(begin) + len(begin), text.index(end)
body = open(new, encoding="utf-8").read()
sys.stdout.write(text[:a] + "\n```text\n" + body + "```\n" + text[b:])
PY
    checked=$((checked + 1))
    if cmp -s "$doc" "$updated"; then
        echo "transcript $name in $doc: up to date"
    elif [ $check -eq 1 ]; then
        echo "transcript $name in $doc: DIFFERS from what the programs print now:"
        diff -u "$doc" "$updated" | sed 's/^/    /' || true
        failed=1
    else
        cp "$updated" "$doc"
        echo "transcript $name in $doc: rewritten"
    fi
done
if [ $failed -ne 0 ]; then
    [ $check -eq 1 ] && echo "run scripts/transcripts.sh to regenerate, review the diff, commit"
    exit 1
fi
echo "$checked transcripts checked"
