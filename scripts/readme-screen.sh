#!/usr/bin/env bash
# The screen README.md shows, made by the binary itself so it cannot go stale.
#
# Records a 200-step run of the `tiny` preset (seed 1), opens `spectop replay` on it in tmux at
# 100x30 (TERM=xterm-256color, LANG=C.UTF-8), presses space (pause) and End (the last step), waits
# until the footer says `step 200 of 200 recorded, paused`, and writes the pane to docs/screen.txt. Then it
# rewrites the block between `<!-- screen:begin -->` and `<!-- screen:end -->` in README.md from
# docs/screen.txt, so one run regenerates both.
#
#   scripts/readme-screen.sh            regenerate docs/screen.txt and README.md's screen
#   scripts/readme-screen.sh --readme   only rewrite README.md's screen from docs/screen.txt
#   scripts/readme-screen.sh --check    exit 1 unless README.md shows docs/screen.txt (runs nothing)
#
# SPECTOP_BIN names the binary (default .build/release/spectop: `make release` builds it).
# Needs tmux. Uses its own tmux socket (-L readme-screen) and ends its session on every exit.
set -euo pipefail
cd "$(dirname "$0")/.."

readme=README.md
screen=docs/screen.txt
steps=200
columns=100
rows=30
socket=readme-screen
session=readme-screen
begin='<!-- screen:begin -->'
end='<!-- screen:end -->'

die() { echo "readme-screen: $*" >&2; exit 1; }

# README.md with its screen block replaced by docs/screen.txt in a ```text fence, on stdout.
render_readme() {
  [ -f "$screen" ] || die "$screen does not exist: run scripts/readme-screen.sh to make it"
  [ "$(grep -cxF -- "$begin" "$readme")" = 1 ] && [ "$(grep -cxF -- "$end" "$readme")" = 1 ] \
    || die "$readme must hold exactly one line '$begin' and one line '$end'"
  local status=0
  awk -v begin="$begin" -v end="$end" -v screen="$screen" '
    $0 == begin {
      print; print "```text"
      while ((getline line < screen) > 0) print line
      print "```"; inside = 1; next
    }
    $0 == end { if (!inside) exit 3; inside = 0 }
    !inside { print }
  ' "$readme" || status=$?
  [ "$status" -ne 3 ] || die "'$end' comes before '$begin' in $readme"
  return "$status"
}

write_readme() {
  local tmp
  tmp=$(mktemp "$readme.XXXXXX")
  ( render_readme ) > "$tmp" || { rm -f "$tmp"; exit 1; }
  chmod --reference="$readme" "$tmp"
  mv "$tmp" "$readme"
  echo "readme-screen: $readme shows $screen"
}

case "${1:-}" in
  --check)
    expected=$(mktemp)
    ( render_readme ) > "$expected" || { rm -f "$expected"; exit 1; }
    if cmp -s "$expected" "$readme"; then
      rm -f "$expected"; echo "readme-screen: $readme shows $screen"; exit 0
    fi
    rm -f "$expected"
    die "$readme does not show $screen: run scripts/readme-screen.sh --readme (or without arguments for a new screen)" ;;
  --readme) write_readme; exit 0 ;;
  "") ;;
  *) die "unknown argument '$1' (use --check, --readme or nothing)" ;;
esac

bin=${SPECTOP_BIN:-.build/release/spectop}
command -v tmux >/dev/null 2>&1 || die "tmux not found: install it (sudo apt-get install tmux)"
[ -x "$bin" ] || die "no spectop binary at $bin: build it with 'make release', or set SPECTOP_BIN"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
printf -v quoted_bin '%q' "$bin"

export LANG=C.UTF-8
unset LC_ALL LC_CTYPE
tmux_() { tmux -u -L "$socket" "$@"; }

work=$(mktemp -d)
cleanup() {
  tmux_ kill-session -t "$session" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
tmux_ kill-session -t "$session" >/dev/null 2>&1 || true

# The record. Replay shows the path it was given in its footer, so it runs in the record's folder
# and the screen says `replay screen.jsonl`, whatever the temporary folder is called.
if ! "$bin" run --preset tiny --headless --steps "$steps" --seed 1 --out "$work/screen.jsonl" 2> "$work/run.log"; then
  cat "$work/run.log" >&2
  die "the recorded run failed"
fi

capture() { tmux_ capture-pane -p -t "$session" 2>/dev/null; }
# Waits up to 30 s for the pane to show a line matching the extended regex $1.
wait_for() {
  local deadline=$((SECONDS + 30))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if capture | grep -qE -- "$1"; then return 0; fi
    sleep 0.2
  done
  echo "readme-screen: the pane after 30 s:" >&2
  capture >&2 || echo "(no pane: the session ended)" >&2
  die "timed out waiting for '$1'"
}

# The shell stays after spectop exits, so a failure can be read in the pane.
tmux_ -f /dev/null new-session -d -s "$session" -x "$columns" -y "$rows" -c "$work" \
  "env TERM=xterm-256color LANG=C.UTF-8 $quoted_bin replay screen.jsonl; echo \"[spectop replay exited with status \$?]\"; sleep 60"
wait_for "replay screen\\.jsonl: step [0-9]+ of $steps recorded"
tmux_ send-keys -t "$session" Space
tmux_ send-keys -t "$session" End
wait_for "replay screen\\.jsonl: step $steps of $steps recorded, paused"

# The footer can be drawn before the last data reaches every panel (new data is drawn at most 4
# times a second): keep the first capture that two later ones, half a second apart, agree with.
previous=$(capture)
stable=0
deadline=$((SECONDS + 30))
while [ "$stable" -lt 2 ]; do
  [ "$SECONDS" -lt "$deadline" ] || die "the screen kept changing for 30 s after reaching step $steps"
  sleep 0.5
  current=$(capture)
  if [ "$current" = "$previous" ]; then stable=$((stable + 1)); else stable=0; previous=$current; fi
done
lines=$(printf '%s\n' "$previous" | wc -l)
[ "$lines" -eq "$rows" ] || die "captured $lines lines, expected $rows"

tmp=$(mktemp "$screen.XXXXXX")
printf '%s\n' "$previous" > "$tmp"
chmod 644 "$tmp"
mv "$tmp" "$screen"
echo "readme-screen: wrote $screen ($columns x $rows, step $steps/$steps)"
write_readme
