#!/usr/bin/env bash
# Training speed: glassbox train vs PyTorch on CPU, same model (glassbox train's defaults:
# 4 layers, d 256, 4/2 heads, FFN 704, vocab 4096), batch 16 × 128 tokens, same threads.
# Runs are alternated (glassbox, PyTorch, glassbox, PyTorch, ...) so machine drift hits both.
#   scripts/bench-train.sh TOKENIZER.json CORPUS.txt [THREADS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
TOK="$1"; DATA="$2"; THREADS="${3:-2}"; ROUNDS="${4:-2}"
PY="${GLASSBOX_PY:-/work/venv/bin/python}"
cargo build --release --quiet
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
for r in $(seq 1 "$ROUNDS"); do
  target/release/glassbox -t "$THREADS" train --data "$DATA" --tokenizer "$TOK" --out "$OUT/run$r" \
    --steps 12 --eval-every 0 --eval-batches 1 --save-every 0 --sample-tokens 0 --quiet >/dev/null
  # median tokens/s and split of steps 3..12 from the run's log
  "$PY" - "$OUT/run$r/log.jsonl" "$THREADS" <<'PYEOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"loss"' in l][2:]
tps = statistics.median(r["tokens_per_sec"] for r in rows)
f, b, o = (statistics.median(r[k] for r in rows) for k in ("forward_secs", "backward_secs", "optimizer_secs"))
print(f"glassbox {tps:.0f} tokens/s (median of {len(rows)} steps, {sys.argv[2]} threads); "
      f"forward {100*f/(f+b+o):.0f}%, backward {100*b/(f+b+o):.0f}%, optimizer {100*o/(f+b+o):.0f}%")
# the same steps part by part (glassbox train's "parts": GEMMs, attention, loss, the rest, optimizer)
if "parts" in rows[0]:
    parts = {k: statistics.median(r["parts"][k] for r in rows) for k in rows[0]["parts"]}
    total = sum(parts.values())
    print("  parts: " + ", ".join(f"{k} {100*v/total:.0f}%" for k, v in parts.items()))
PYEOF
  "$PY" scripts/train_speed_torch.py --threads "$THREADS"
done
