#!/usr/bin/env bash
# Tests each instruction-set copy of the eNTK operator's contraction kernels
# (Sources/CContractions) that this CPU can run: the Swift tests exercise only
# the copy the CPU picks at load time. Uses the C compiler of the Swift toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
cc=${CC:-$(dirname "$(command -v swift)")/clang}
[ -x "$cc" ] || cc=$(command -v clang || command -v cc)
if [ "$(uname -m)" != x86_64 ]; then
    echo "contraction kernels: one portable copy on $(uname -m); the Swift tests cover it"
    exit 0
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# What this CPU supports, asked of the compiler's own CPU detection.
printf '#include <stdio.h>\nint main(void){printf("%%d %%d\\n",__builtin_cpu_supports("x86-64-v3"),__builtin_cpu_supports("x86-64-v4"));}\n' > "$out/cpu.c"
"$cc" -O2 "$out/cpu.c" -o "$out/cpu"
read -r v3 v4 < <("$out/cpu")
status=0
for arch in x86-64 x86-64-v3 x86-64-v4; do
    case $arch in
        x86-64-v3) [ "$v3" != 0 ] || { echo "contraction kernels, $arch: not supported by this CPU, skipped"; continue; } ;;
        x86-64-v4) [ "$v4" != 0 ] || { echo "contraction kernels, $arch: not supported by this CPU, skipped"; continue; } ;;
    esac
    "$cc" -O2 -march="$arch" -DSPECTOP_MULTIVERSION= -ISources/CContractions/include \
        Sources/CContractions/contractions.c Tests/ContractionKernels/check.c -lm -o "$out/check-$arch"
    printf 'contraction kernels, %s: ' "$arch"
    "$out/check-$arch" || status=1
done
exit $status
