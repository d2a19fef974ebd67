#!/usr/bin/env bash
# Regenerates the exercise tables in README.md and docs/README.md from catalog.tsv and the
# workspace (which crates exist, which have tests and a walkthrough), or checks them.
#
#   scripts/readme.sh           rewrite the tables
#   scripts/readme.sh --check   exit 1 if a table is out of date (CI runs this)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
check=0
[ "${1:-}" = "--check" ] && check=1
python3 - "$check" <<'PY'
import csv, os, subprocess, sys
check = sys.argv[1] == "1"
# Only what git tracks counts, so work in progress in a working tree does not change the table.
tracked = set(subprocess.run(["git", "ls-files"], capture_output=True, text=True, check=True).stdout.split("\n"))
tracked_dirs = {os.path.dirname(f) for f in tracked}
for f in list(tracked_dirs):
    while f:
        f = os.path.dirname(f)
        tracked_dirs.add(f)
isfile = lambda p: os.path.normpath(p) in tracked
isdir = lambda p: os.path.normpath(p) in tracked_dirs
rows = list(csv.DictReader(open("catalog.tsv", encoding="utf-8"), delimiter="\t"))

def status(r):
    base = os.path.join(r["folder"], r["crate"])
    doc = walkthrough(r)
    have = [isfile(os.path.join(base, "src/bin", b + ".rs")) for b in ("client", "server")]
    tests = any(f.startswith(os.path.join(base, "tests") + "/") and f.endswith(".rs") for f in tracked)
    if all(have) and tests and isfile(doc):
        return "done"
    if any(have):
        return "in progress"
    return "planned"

def walkthrough(r):
    sub = r["folder"].split("/", 1)[1]
    return os.path.join("docs", sub, r["crate"] + ".md")

def table(prefix):
    out = ["| exercise | handout section | transport | port | Python-compatible | status | walkthrough |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        doc = walkthrough(r)
        link = f"[{r['crate']}.md]({os.path.relpath(doc, prefix)})" if isfile(doc) else "-"
        crate = f"[`{r['crate']}`]({os.path.relpath(os.path.join(r['folder'], r['crate']), prefix)})" \
            if isdir(os.path.join(r["folder"], r["crate"])) else f"`{r['crate']}`"
        out.append(f"| {crate} | {r['section']} | {r['transport'].upper()} | {r['port']} | "
                   f"{'yes' if r['python_compat'] == 'yes' else 'no'} | {status(r)} | {link} |")
    return "\n".join(out)

failed = False
for path, prefix in (("README.md", "."), ("docs/README.md", "docs")):
    text = open(path, encoding="utf-8").read()
    begin, end = "<!-- exercises:begin -->", "<!-- exercises:end -->"
    a, b = text.index(begin) + len(begin), text.index(end)
    new = text[:a] + "\n" + table(prefix) + "\n" + text[b:]
    if new == text:
        print(f"{path}: exercise table up to date")
    elif check:
        print(f"{path}: exercise table is out of date; run scripts/readme.sh and commit")
        failed = True
    else:
        open(path, "w", encoding="utf-8").write(new)
        print(f"{path}: exercise table rewritten")
sys.exit(1 if failed else 0)
PY
