#!/usr/bin/env bash
# Regenerate every lesson output and every measured number the book shows, on this machine, into
# the files the chapters include. Nothing in the chapters is typed in: run this, rebuild the book
# (`mdbook build book`), and it shows your machine's numbers.
#
#   ./scripts/regenerate-book.sh            everything (42 min on 2 quiet cores, 2026-12-02, with
#                                           the Rust build warm; each step prints its minute)
#   ./scripts/regenerate-book.sh --quick    lessons, commands and test outputs only (1 min 8 s,
#                                           2026-12-02, with the release build warm);
#                                           the benchmark tables and measured runs keep their
#                                           last run
#
# What it writes (all under book/src/):
#   machine.txt                  the machine, the compiler, the date and the load at the start
#   ch00-bench.txt               `glassbox bench`: the one prefill/decode speed chapters 0–10 quote
#   chNN-lesson-output.txt       what `cargo run --release --example …` prints, for every lesson
#                                but 18 (01–12, 06b, 13, 13b, 14, 15, 17)
#   img/ch05-gflops.svg, img/ch07-layers.svg, img/ch09-next-token.svg, img/ch11-chatml-tokens.svg,
#   img/ch12-ttft.svg, img/ch13-mask.svg, img/ch14-similarity.svg
#                                the lessons' pictures
#   ch01-tokenize.txt, ch01-cost.txt          two `glassbox tokenize` runs
#   ch03-attention-head.txt, img/ch03-attention-layer0.svg, img/ch03-attention-mid.svg,
#   img/ch03-attention-head.svg  `glassbox attention`: layer 0, and the mid-layer head where " is"
#                                looks most at " France" (found here, by running every layer)
#   ch07-lens.txt, ch07-lens-summary.txt, img/ch07-lens.svg
#                                `glassbox lens` on the running prompt, " Paris" against " London"
#   chNN-check.txt, ch18-check-output.txt     the max-difference lines the golden tests print
#                                (ch17-check.txt: tests/model_gemma.rs against transformers;
#                                ch14-check.txt: tests/bert_minilm.rs against sentence-transformers)
# and, not with --quick (the measured runs, in this order, with their time on 2 quiet cores on
# 2026-12-02, builds warm; the lessons and checks before them took 4 min):
#   ch01-bench-train.md          cargo bench --bench train                            ≈ 4 min
#   ch01-train-101mb.txt         glassbox train-bpe on 101 MB                         ≈ 2 s
#   ch03-bench-attention.md      cargo bench --bench attention                        ≈ 1 min
#   ch05-bench-matmul-t1.md, ch05-bench-matmul-t2.md
#                                cargo bench --bench matmul, 1 and 2 threads          ≈ 6 min
#   ch06b-table.md, ch06b-table.json, img/ch06b-ppl-vs-bpw.svg
#                                scripts/quant_table.sh (26 files quantized once into the data
#                                dir, ~1.9 GB, the first run only; perplexity, KL and
#                                decode speed)                        ≈ 5 min (+ quantizing once)
#   ch10b-race-output.txt        scripts/decode_table.sh (glassbox against llama.cpp) ≈ 4 min
#   ch17-race-output.txt         scripts/race_gemma.sh (Gemma 3 against llama.cpp)   ≈ 1 min
#   ch13-bench-output.txt        cargo bench --bench constrain, and llguidance's mask time
#                                (scripts/bench_llguidance.py, if llguidance is installed)  ≈ 1 min
#   ch18-lesson-output.txt, img/ch18-loss.svg
#                                lesson 18's full run, 1500 training steps (a finished run in
#                                target/lesson18 is only reported: the script removes it first;
#                                the lesson draws its SVG there, the script copies it)  ≈ 19 min
#
# Run it on a quiet machine: every time is measured, and other programs on the same cores slow
# them down (machine.txt records how busy the cores were at the start, and the chapters show it).
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0
case "${1:-}" in
  --quick) QUICK=1 ;;
  "") ;;
  *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac

OUT=book/src
IMG=$OUT/img
PROMPT="The capital of France is"
step() { printf '\n==> [%d:%02d] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*" >&2; }

# Write stdin to FILE through a temporary name in the same directory, so an interrupted run
# never leaves a half-written file for the book to include.
put() { local tmp="$1.part"; cat > "$tmp"; mv "$tmp" "$1"; }

step "building the glassbox binary and the lessons (release)"
cargo build --release --quiet --bin glassbox --examples
BIN=target/release/glassbox
EX=target/release/examples

step "fetching the default model, tokenizer files and corpus (first run only)"
"$BIN" pull --all >&2

step "the machine"
# How busy were the cores before the measurements began? The load average cannot say: the
# release build just above raised it for minutes. Instead, the share of the cores that other
# programs used over 5 seconds of this script doing nothing (from /proc/stat's busy and idle
# times); waiting up to 2 minutes for it to fall below 10 %.
busy_percent() {
  local a b
  a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
  sleep 5
  b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
  echo "$a $b" | awk '{ busy = $3 - $1; idle = $4 - $2; printf "%.0f", 100 * busy / (busy + idle + 1e-9) }'
}
for _ in $(seq 24); do
  busy=$(busy_percent)
  [ "$busy" -lt 10 ] && break
done
{
  cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
  simd=$(grep -m1 -o -w -e avx512f -e avx2 /proc/cpuinfo | sort -u | tr '\n' ' ' || true)
  fma=$(grep -m1 -o -w fma /proc/cpuinfo | head -1 || true)
  mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
  printf '%s, %s cores (%s%s), %s of memory, %s, %s; run on %s; other programs used %s %% of the cores as it began%s.\n' \
    "${cpu:-an unknown CPU}" "$(nproc)" "${simd:-no AVX2 }" "${fma:+FMA}" "$mem" \
    "$(uname -sr)" "$(rustc --version | cut -d' ' -f1-2)" "$(date -u +%Y-%m-%d)" "$busy" \
    "$([ "$busy" -ge 10 ] && echo ' (so the times are upper bounds)')"
} | put "$OUT/machine.txt"
cat "$OUT/machine.txt" >&2

step "glassbox bench: the prefill and decode speed every chapter quotes"
{
  echo "\$ glassbox bench -p 128 -n 64 -r 5"
  "$BIN" bench -p 128 -n 64 -r 5 2>/dev/null | sed "s|$HOME|~|g"
} | put "$OUT/ch00-bench.txt"
cat "$OUT/ch00-bench.txt" >&2

step "the lessons (all but 18, the training run)"
lesson() { # CHAPTER EXAMPLE [ARGS…]: run the lesson, its stdout into chCHAPTER-lesson-output.txt
  local ch=$1 example=$2; shift 2
  echo "  chapter $ch: $example" >&2
  "$EX/$example" "$@" | sed "s|$HOME|~|g" | put "$OUT/ch$ch-lesson-output.txt"
}
lesson 01 01_tokenizer
lesson 02 02_embeddings_rope
lesson 03 03_attention
lesson 04 04_block
lesson 05 05_matmul "$IMG/ch05-gflops.svg"
lesson 06 06_load_llama
lesson 06b 06b_quantization
lesson 07 07_forward "$IMG/ch07-layers.svg"
lesson 08 08_kv_cache
lesson 09 09_sampling "$IMG/ch09-next-token.svg"
lesson 10 10_generate
lesson 11 11_chat "$IMG/ch11-chatml-tokens.svg"
lesson 12 12_serve "$IMG/ch12-ttft.svg"
lesson 13 13_structured --svg "$IMG/ch13-mask.svg"
lesson 13b 14_tools
lesson 14 15_embeddings "$IMG/ch14-similarity.svg"
# lesson 16 indexes chapters 0–11 of book/src as they are now (their outputs just regenerated)
lesson 15 16_rag
lesson 17 17_second_family

step "glassbox tokenize (chapter 1)"
{
  echo "\$ glassbox tokenize --json \"$PROMPT\""
  "$BIN" tokenize --json "$PROMPT"
} | put "$OUT/ch01-tokenize.txt"
{
  echo "\$ glassbox tokenize --tokenizer o200k_base --price-in 2.50 --file brown.txt | tail -2"
  "$BIN" tokenize --tokenizer o200k_base --price-in 2.50 --file "${GLASSBOX_DATA:-$HOME/.cache/glassbox}/brown.txt" | tail -2
} | put "$OUT/ch01-cost.txt"

step "glassbox attention (chapter 3): layer 0, and the head where \" is\" looks at \" France\""
"$BIN" attention --prompt "$PROMPT" --layer 0 --out "$IMG/ch03-attention-layer0.svg" > /dev/null
layers=$("$BIN" inspect --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["config"]["num_hidden_layers"])')
# every layer's weights as JSON, one line each; python finds the head and writes the sentence
# the chapter includes (first output line: "LAYER HEAD")
found=$(for ((l = 0; l < layers; l++)); do
  "$BIN" attention --prompt "$PROMPT" --layer "$l" --json
done | python3 -c '
import json, sys
# the key " France", the last query " is"; the mid layers are the middle third of the model
runs = [json.loads(line) for line in sys.stdin]
n = len(runs)
mid = runs[n // 3 : 2 * n // 3 + 1]
best = None
for run in mid:
    key = run["tokens"].index(" France")
    for h, rows in zip(run["heads"], run["weights"]):
        if best is None or rows[-1][key] > best[0]:
            best = (rows[-1][key], run["layer"], h, rows[-1], run["tokens"])
w, layer, head, row, tokens = best
lo, hi = mid[0]["layer"], mid[-1]["layer"]
print(layer, head)
print(f"In the middle third of the model (layers {lo} to {hi}), the head where")
print(f"\" is\" looks most at \" France\" is layer {layer}, head {head}: \" France\" gets {w:.2f} of its attention")
print("(" + ", ".join(f"{t!r} {p:.2f}" for t, p in zip(tokens, row)) + ").")
')
read -r best_layer best_head <<< "$(head -1 <<< "$found")"
tail -n +2 <<< "$found" | put "$OUT/ch03-attention-head.txt"
"$BIN" attention --prompt "$PROMPT" --layer "$best_layer" --out "$IMG/ch03-attention-mid.svg" > /dev/null
"$BIN" attention --prompt "$PROMPT" --layer "$best_layer" --head "$best_head" \
  --out "$IMG/ch03-attention-head.svg" > /dev/null
cat "$OUT/ch03-attention-head.txt" >&2

step "glassbox lens (chapter 7): when does \" Paris\" overtake \" London\"?"
{
  echo "\$ glassbox lens --prompt \"$PROMPT\" --target \" Paris\" --target \" London\""
  "$BIN" lens --prompt "$PROMPT" --target " Paris" --target " London" --out "$IMG/ch07-lens.svg"
} | grep -v '^wrote ' | put "$OUT/ch07-lens.txt"
"$BIN" lens --prompt "$PROMPT" --target " Paris" --target " London" --json | python3 -c '
import json, sys
layers = json.load(sys.stdin)["layers"]
ranks = [(l["layer"], l["targets"][0]["rank"], l["targets"][1]["rank"]) for l in layers]
# the first layer from which " Paris" ranks above " London" in every later layer
over = next(i for i in range(len(ranks)) if all(p < q for _, p, q in ranks[i:]))
first_top = next((l["layer"] for l in layers if l["targets"][0]["rank"] == 1), None)
layer, p, q = ranks[over]
before = ranks[over - 1] if over > 0 else None
s = f"\" Paris\" overtakes \" London\" after layer {layer} (rank {p} against {q}) and stays ahead to the end"
if before:
    s += f"; after layer {before[0]} it was still rank {before[1]} against {before[2]}"
s += f". It first becomes the top token after layer {first_top}." if first_top is not None else "."
print(s)
' | put "$OUT/ch07-lens-summary.txt"
cat "$OUT/ch07-lens-summary.txt" >&2

step "the golden tests' max-difference lines (chapters 2, 3, 4, 6, 7, 14, 17, 18)"
cargo test --test model --test train --test encoder -- --nocapture --test-threads 1 \
  stage2_golden model_smollm2 backprop_torch bert_minilm 2>&1 | sed "s|$HOME|~|g" > target/golden-checks.txt
# (-o: with --nocapture a test's first line shares its line with libtest's "test NAME ... ")
grep -oE 'rope [a-z0-9]+ [qk]: max diff .*' target/golden-checks.txt | put "$OUT/ch02-check.txt"
grep -oE 'attention AttentionShape .*: max diff .*' target/golden-checks.txt | put "$OUT/ch03-check.txt"
grep -oE '(rmsnorm|mlp) d=.*: max diff .*' target/golden-checks.txt | put "$OUT/ch04-check.txt"
grep -oE '[a-z_]+ +safetensors f32: max \|Δlogit\| = .*' target/golden-checks.txt | put "$OUT/ch06-check.txt"
grep -oE '[a-z_]+ +[0-9]+ tokens: max \|Δlogit\| = .*' target/golden-checks.txt | put "$OUT/ch07-check.txt"
# chapter 14: MiniLM against sentence-transformers, sentence vectors and the token states before pooling
grep -oE '[0-9]+ sentences: min cosine .*|token states: max \|Δ\| = .*' target/golden-checks.txt \
  | put "$OUT/ch14-check.txt"
# chapter 18: the loss, one gradient as an example, the worst gradient, the last AdamW step, the
# worst weight after ten steps
grep -oE '(loss glassbox|grad model\.layers\.1\.self_attn\.k_proj\.weight|grad: worst|step 9: loss|weights after 10 steps: worst) .*' \
  target/golden-checks.txt | put "$OUT/ch18-check-output.txt"
# chapter 17: Gemma 3 against transformers, a run of its own (its lines would match chapter 7's
# pattern)
cargo test --test model -- --nocapture --test-threads 1 model_gemma 2>&1 | sed "s|$HOME|~|g" \
  > target/gemma-checks.txt
grep -oE '[a-z_0-9]+ +[0-9]+ tokens[,:].*max \|Δlogit\| = .*|capital: windowed vs full.*' \
  target/gemma-checks.txt | put "$OUT/ch17-check.txt"

if [ "$QUICK" = 1 ]; then
  step "--quick: the benchmark tables keep their last run"
  exit 0
fi

# Criterion's estimate of one benchmark, in seconds: target/criterion/GROUP/ID/new/estimates.json.
estimate() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mean"]["point_estimate"] / 1e9)' "target/criterion/$1/new/estimates.json"; }

step "cargo bench --bench train (chapter 1): glassbox against Hugging Face tokenizers"
cargo bench --quiet --features oracles --bench train > target/bench-train.txt 2>&1
{
  echo "| vocabulary | glassbox | HF tokenizers | ratio |"
  echo "|---|---:|---:|---:|"
  for v in 8192 32768; do
    g=$(estimate "train_bpe_brown/glassbox/$v"); t=$(estimate "train_bpe_brown/tokenizers/$v")
    python3 -c 'import sys; g, t = map(float, sys.argv[2:]); print(f"| {int(sys.argv[1]):,} | {g:.2f} s | {t:.2f} s | {t / g:.1f}× |")' "$v" "$g" "$t"
  done
} | put "$OUT/ch01-bench-train.md"

step "train-bpe on 101 MB (chapter 1): time and peak memory"
big=target/brown-x17.txt
for _ in $(seq 17); do cat "${GLASSBOX_DATA:-$HOME/.cache/glassbox}/brown.txt"; done > "$big"
/usr/bin/time -v "$BIN" train-bpe --vocab-size 32768 --out target/brown-x17-tokenizer.json "$big" \
  2> target/train-101mb.txt > /dev/null
{
  echo "\$ /usr/bin/time -v glassbox train-bpe --vocab-size 32768 --out tok.json brown-x17.txt   # $(du -m "$big" | cut -f1) MB"
  grep -E 'Elapsed \(wall clock\)|Maximum resident set size' target/train-101mb.txt | sed 's/^[[:space:]]*//'
} | put "$OUT/ch01-train-101mb.txt"
rm -f "$big"

step "cargo bench --bench attention (chapter 3)"
cargo bench --quiet --features oracles --bench attention > target/bench-attention.txt 2>&1
{
  echo "| context | decode step | prefill |"
  echo "|---:|---:|---:|"
  for ctx in 128 1024 4096; do
    d=$(estimate "attention/decode/$ctx"); p=$(estimate "attention/prefill/$ctx")
    python3 -c 'import sys; c, d, p = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]); f = lambda s: f"{s * 1e6:.0f} µs" if s < 1e-3 else (f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"); print(f"| {c:,} | {f(d)} | {f(p)} |")' "$ctx" "$d" "$p"
  done
} | put "$OUT/ch03-bench-attention.md"

for t in 1 2; do
  step "cargo bench --bench matmul, $t thread(s) (chapter 5): glassbox against matrixmultiply"
  GLASSBOX_BENCH_THREADS=$t cargo bench --quiet --features oracles --bench matmul > "target/bench-matmul-t$t.txt" 2>&1
  # the interleaved tables the benchmark prints after criterion: its markdown lines
  grep -E '^(\||## )' "target/bench-matmul-t$t.txt" | sed 's/^## /**/; s/$//' | awk '/^\*\*/ { print $0 "**"; next } { print }' \
    | put "$OUT/ch05-bench-matmul-t$t.md"
done

step "scripts/quant_table.sh (chapter 6b): every type, glassbox's quantizer and llama.cpp's"
scripts/quant_table.sh "${GLASSBOX_DATA:-$HOME/.cache/glassbox}/quant-table" --out target/lessons/ch06b >&2
put "$OUT/ch06b-table.md" < target/lessons/ch06b/ch06b-table.md
put "$OUT/ch06b-table.json" < target/lessons/ch06b/ch06b-table.json
put "$IMG/ch06b-ppl-vs-bpw.svg" < target/lessons/ch06b/ch06b-ppl-vs-bpw.svg

step "scripts/decode_table.sh (chapter 10b): decode against llama.cpp, per type and thread count"
GLASSBOX_BIN="$BIN" scripts/decode_table.sh "$OUT/ch10b-race-output.txt" >&2

step "scripts/race_gemma.sh (chapter 17): Gemma 3 270M Q4_K_M against llama.cpp"
GLASSBOX_BIN="$BIN" scripts/race_gemma.sh "$OUT/ch17-race-output.txt" >&2

step "cargo bench --bench constrain (chapter 13): the mask's cost per token"
# criterion's "time: [… %] (p = …)" line is the change against its last saved run, not a time
cargo bench --quiet --features oracles --bench constrain 2> /dev/null \
  | grep -E '^(mask per token|\||trie vs|mask/| *time:)' | grep -v '(p = ' | sed 's/^ *//' \
  > target/bench-constrain.txt
py=${GLASSBOX_VENV:-/work/venv}/bin/python
if "$py" -c 'import llguidance' 2> /dev/null; then
  "$py" scripts/bench_llguidance.py >> target/bench-constrain.txt
else
  echo "(llguidance is not installed in $py: its line is left out)" >&2
fi
put "$OUT/ch13-bench-output.txt" < target/bench-constrain.txt

step "lesson 18 (chapter 18): a tiny Llama trained on Brown, the lesson's full 1500 steps"
rm -rf target/lesson18/brown-llama
"$EX/18_train" | sed "s|$HOME|~|g; s|$PWD/||g" | put "$OUT/ch18-lesson-output.txt"
put "$IMG/ch18-loss.svg" < target/lesson18/ch18-loss.svg

step "done: rebuild the book with 'mdbook build book'"
