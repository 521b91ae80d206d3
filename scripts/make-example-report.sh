#!/usr/bin/env bash
# The example report docs/example-report.html, made by `spectop report` from a record shipped in the
# repository (docs/example-run.jsonl), so the example shows what the command writes today.
#
#   scripts/make-example-report.sh            regenerate docs/example-report.html from docs/example-run.jsonl
#   scripts/make-example-report.sh --record   first record docs/example-run.jsonl again from docs/example-run.toml
#                                             (about a minute), then regenerate the report
#   scripts/make-example-report.sh --check    exit 1 unless docs/example-report.html is what the binary writes now
#
# SPECTOP_BIN names the binary (default: the newer of .build/release/spectop and .build/debug/spectop).
set -euo pipefail
cd "$(dirname "$0")/.."

record=docs/example-run.jsonl
report=docs/example-report.html
die() { echo "make-example-report: $*" >&2; exit 1; }

bin=${SPECTOP_BIN:-}
if [ -z "$bin" ]; then
  for candidate in .build/release/spectop .build/debug/spectop; do
    [ -x "$candidate" ] || continue
    if [ -z "$bin" ] || [ "$candidate" -nt "$bin" ]; then bin=$candidate; fi
  done
fi
[ -n "$bin" ] && [ -x "$bin" ] || die "no spectop binary: build one (swift build -c release --product spectop) or set SPECTOP_BIN"

case "${1:-}" in
  --record)
    "$bin" run --config docs/example-run.toml --headless --threads 1 --out "$record" --force
    "$bin" report "$record" -o "$report" --force
    ;;
  --check)
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    "$bin" report "$record" -o "$scratch/report.html" 2>/dev/null || die "spectop report $record failed"
    cmp -s "$scratch/report.html" "$report" \
      || die "$report is not what spectop report writes now: run scripts/make-example-report.sh and commit it"
    ;;
  "")
    "$bin" report "$record" -o "$report" --force
    ;;
  *) die "unknown option $1 (use --record or --check)" ;;
esac
