#!/usr/bin/env bash
# The decode race table of benches/README.md and book chapter 10b: glassbox against llama.cpp on
# SmolLM2-135M-Instruct stored as Q4_1 (the default file), Q8_0, F16 and F32, at 2 and 1 threads.
#
#   scripts/decode_table.sh [OUT=book/src/ch10b-race-output.txt] [TYPES="Q4_1 Q8_0 F16 F32"]
#
# 1. the Q8_0/F16/F32 files, once, from the default model (scripts/make_gguf_types.py, into the
#    data dir, never into the repository)
# 2. per type and thread count: ../shared/bench/vs-llamacpp.sh, which alternates rounds of
#    `glassbox bench` and llama.cpp's llama_decode loop (pp128 + tg128, then pp512 + tg16)
# 3. `glassbox bench --profile` on the Q4_1 file at 2 and 1 threads: load time, first token,
#    resident memory, the per-step decode profile and this machine's read bandwidth
# 4. the decode kernels against each other on one thread (cargo bench --bench decode), and the
#    8-bit activations' logit difference (tests/decode_release.rs)
# GLASSBOX_BIN=path skips the build and races that binary. ROUNDS (default 5) alternated rounds
# per race: with 3, one slow phase of the VM could move a ratio by a tenth.
# Everything printed is also written to OUT, which the book includes. It asserts nothing.
# Takes ~10 minutes on 2 quiet cores. The load average is recorded: a run on a busy machine is
# "under load" and only its ratios (alternated inside one run) mean something.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-book/src/ch10b-race-output.txt}
types=${2:-Q4_1 Q8_0 F16 F32}
race=${GLASSBOX_RACE:-../shared/bench/vs-llamacpp.sh}
[ -x "$race" ] || race=/work/shared/bench/vs-llamacpp.sh
data=${GLASSBOX_DATA:-$HOME/.cache/glassbox}
venv=${GLASSBOX_VENV:-/work/venv}
rounds=${ROUNDS:-5}
gb=${GLASSBOX_BIN:-target/release/glassbox}
[ -n "${GLASSBOX_BIN:-}" ] || cargo build --release --quiet
$gb pull >/dev/null
missing=""
for t in Q8_0 F16 F32; do
  [ -f "$data/SmolLM2-135M-Instruct.$t.gguf" ] || missing="$missing,${t,,}"
done
[ -z "$missing" ] || "$venv/bin/python" scripts/make_gguf_types.py --types "${missing#,}"

tmp=$(mktemp "$out.XXXX")
trap 'rm -f "$tmp"' EXIT
say() { echo "$@" | tee -a "$tmp"; }
say "# scripts/decode_table.sh, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(git rev-parse --short HEAD)"
for t in $types; do
  model="$data/SmolLM2-135M-Instruct.$t.gguf"
  for threads in 2 1; do
    say "## $t, $threads thread(s); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    GLASSBOX_BIN=$gb "$race" "$model" "$threads" 128 128 "$rounds" 2>&1 | tee -a "$tmp"
    GLASSBOX_BIN=$gb "$race" "$model" "$threads" 512 16 "$rounds" 2>&1 | grep -v "decode:" | tee -a "$tmp"
  done
done
for threads in 2 1; do
  say "## glassbox bench --profile, Q4_1, $threads thread(s); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  $gb bench -p 128 -n 128 -r 3 --profile -t "$threads" 2>/dev/null | tee -a "$tmp"
done
say "## the kernels alone, one thread, in turns (cargo bench --bench decode)"
cargo bench --quiet --bench decode 2>/dev/null | tee -a "$tmp"
say "## 8-bit activations against the f32 path and transformers (tests/decode_release.rs)"
cargo test --quiet --test decode_release q8 -- --nocapture 2>/dev/null | grep "q8" | tee -a "$tmp"
say "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
sync "$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "wrote $out"
