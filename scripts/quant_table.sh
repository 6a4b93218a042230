#!/usr/bin/env bash
# The measured table of book chapter 6b: SmolLM2-135M at F32 … Q2_K, glassbox's quantizer and
# llama.cpp's side by side, perplexity / KL / top-1 on held-out Brown text, decode tok/s.
#
#   scripts/quant_table.sh [DIR] [--windows N] [--ctx N] [--out OUT]
#
# 1. glassbox quantize: the default model (Q4_1) → F32 (the base), then every type from F32
# 2. llama.cpp's llama_model_quantize (llama-cpp-python, built once by
#    ../shared/bench/vs-llamacpp.sh) on the same source, if its venv is there
# 3. lessons/06b_quant_table.rs measures them all in one process and writes ch06b-table.md,
#    ch06b-table.json and ch06b-ppl-vs-bpw.svg into OUT (default target/lessons/ch06b);
#    scripts/regenerate-book.sh runs this script and copies them into book/src
# Files go to DIR (default $GLASSBOX_DATA/quant-table, ~1.9 GB), never into the repository.
# Takes ~10 minutes on 2 quiet cores; decode tok/s taken on a busy machine are marked so.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-${GLASSBOX_DATA:-$HOME/.cache/glassbox}/quant-table}
[ $# -gt 0 ] && shift
mkdir -p "$dir"
cargo build --release --quiet
gb=target/release/glassbox
src=$($gb pull | sed -n 's/^ *default model: \(.*\) (.*/\1/p')
[ -f "$dir/smollm2-glassbox-F32.gguf" ] || $gb quantize "$src" --type f32 --out "$dir/smollm2-glassbox-F32.gguf"
for t in BF16 F16 Q8_0 Q6_K Q5_K_M Q5_1 Q5_0 Q4_K_M Q4_1 Q4_0 Q3_K_M Q2_K; do
  out="$dir/smollm2-glassbox-$t.gguf"
  [ -f "$out" ] || $gb quantize "$dir/smollm2-glassbox-F32.gguf" --type "$t" --out "$out"
done
py=${GLASSBOX_LLAMACPP_PYTHON:-${GLASSBOX_PEERS:-$HOME/.cache/glassbox-peers}/venv-llamacpp/bin/python}
if "$py" -c 'import llama_cpp' 2>/dev/null; then
  "$py" scripts/make_llamacpp_quants.py "$dir/smollm2-glassbox-F32.gguf" "$dir" \
    F32 BF16 F16 Q8_0 Q6_K Q5_K_M Q5_1 Q5_0 Q4_K_M Q4_1 Q4_0 Q3_K_M Q2_K
else
  echo "no llama-cpp-python at $py: the table will have glassbox's files only" >&2
fi
cargo run --release --quiet --example 06b_quant_table -- "$dir" "$@"
