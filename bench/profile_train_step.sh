#!/usr/bin/env bash
# Instructions per training step (ModelTrainer<Float>.trainStep) under
# callgrind: repeatable where wall-clock time on a shared machine is not.
#
#   bench/profile_train_step.sh [FIGURE] [THREADS]
#
# FIGURE is a `spectop bench --only` prefix naming one figure (default
# train_step_w256_c1: width 256, C = 1; see `spectop bench --only train_step`
# for the others); THREADS the OpenBLAS thread count (default 1). Only the
# calls of trainStep are counted (--toggle-collect), not the fixture's set-up.
# Prints instructions per step and the functions that execute them (self
# cost), and leaves the profile in $CALLGRIND_OUT (callgrind.out.train_step)
# for callgrind_annotate. Takes a minute or two.
set -euo pipefail
cd "$(dirname "$0")/.."
figure=${1:-train_step_w256_c1}
threads=${2:-1}
bin=${SPECTOP:-.build/release/spectop}
out=${CALLGRIND_OUT:-callgrind.out.train_step}
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
[ -x "$bin" ] || { echo "$bin is not an executable (swift build -c release)" >&2; exit 1; }

# Valgrind 3.19 gives up on the DWARF 5 debug information Swift writes, so
# profile a copy without it; the symbol table (function names) stays.
copy=$(mktemp /tmp/spectop-profile.XXXXXX)
trap 'rm -f "$copy"' EXIT
cp "$bin" "$copy"
strip --strip-debug "$copy"
chmod +x "$copy"

OPENBLAS_NUM_THREADS=$threads valgrind --tool=callgrind --callgrind-out-file="$out" \
  --toggle-collect='*ModelTrainer*trainStep*' \
  "$copy" bench --only "$figure" --threads "$threads" --repeats 3 >&2

total=$(awk '/^summary:/ { print $2 }' "$out")
# Every step loads its batch once: the call count of loadInputs from trainStep.
steps=$(callgrind_annotate --tree=caller --threshold=100 "$out" \
  | awk '/< .*trainStep.*\(([0-9]+)x\)/ && !seen { match($0, /\(([0-9]+)x\)/); print substr($0, RSTART + 1, RLENGTH - 3); seen = 1 }')
echo "$figure, $threads thread(s): $total instructions in $steps steps, $((total / steps)) per step"
callgrind_annotate --auto=no --threshold=99 "$out" | sed -n '/file:function/,$p' | sed -n '3,16p'
