#!/usr/bin/env bash
# Fill fuzz/corpus/<target>/ with the seed inputs: the small seeds committed in fuzz/seeds/,
# the test fixtures, and (when glassbox's data directory has them) slices of the real files:
# the SmolLM2 and Gemma 3 GGUF headers and the head of cl100k_base.tiktoken. libFuzzer adds
# what it finds to the same directories (git ignores fuzz/corpus/).
#
#   fuzz/seeds.sh            # then: cargo +nightly fuzz run gguf fuzz/corpus/gguf
set -euo pipefail
cd "$(dirname "$0")"
root=..
data="${GLASSBOX_DATA:-${XDG_CACHE_HOME:-$HOME/.cache}/glassbox}"
targets=(gguf gguf_fields safetensors config_json tokenizer_json tiktoken chat_template
  server_request json_schema quant_rows gguf_write)
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  if [ -d "seeds/$t" ]; then cp seeds/"$t"/* "corpus/$t/" 2>/dev/null || true; fi
done
cp "$root/tests/fixtures/tiny/tiny.gguf" corpus/gguf/tiny.bin
cp "$root/tests/fixtures/tiny/hf/config.json" corpus/config_json/tiny-hf.json
cp "$root/tests/fixtures/tiny/hf/tokenizer.json" corpus/tokenizer_json/tiny-hf.json
# the index of safetensors mode 1 and the tiny model's safetensors header in mode 0
{ printf '\0'; head -c 4096 "$root/tests/fixtures/tiny/hf/model.safetensors"; } > corpus/safetensors/tiny-head.bin
# real files, when present: headers only (the first MB holds a GGUF's metadata; the tensor
# data past it is then "past the end", which is what the loader must report)
for f in SmolLM2-135M-Instruct.Q4_1.gguf gemma-3-270m-q4_k_m.gguf; do
  if [ -f "$data/$f" ]; then head -c $((1 << 20)) "$data/$f" > "corpus/gguf/real-${f%.gguf}.bin"; fi
done
if [ -f "$data/cl100k_base.tiktoken" ]; then
  { printf '\0'; head -n 3000 "$data/cl100k_base.tiktoken"; } > corpus/tiktoken/real-cl100k-head.bin
fi
for t in "${targets[@]}"; do printf '%-15s %3d seeds\n' "$t" "$(ls "corpus/$t" | wc -l)"; done
