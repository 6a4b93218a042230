#!/usr/bin/env bash
# Server throughput: requests/s, time to first token p50/p99 and tokens/s at 1, 4 and 16
# concurrent streaming clients, for `glassbox serve` and, as a peer, llama.cpp's OpenAI server
# (llama-cpp-python[server] in the peers venv) on the same GGUF file and thread count.
#
#   ./scripts/bench-serve.sh [MODEL.gguf] [THREADS=2] [MAX_TOKENS=32]
#
# Prints one markdown row per server and client count (for benches/README.md). A bench, not a
# test: it asserts nothing. Each client sends 4 requests (16 clients: 2 each). llama-cpp-python
# runs with --chat_format chatml (SmolLM2's template) and --interrupt_requests False (by default a
# new request cuts the one in flight short, which would make its answers empty).
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-$HOME/.cache/glassbox/SmolLM2-135M-Instruct.Q4_1.gguf}
threads=${2:-2}; max_tokens=${3:-32}
peers=${GLASSBOX_PEERS:-$HOME/.cache/glassbox-peers}
cargo build --release --quiet

wait_health() {  # URL
  for _ in $(seq 1 600); do
    python3 -c "import urllib.request as u; u.urlopen('$1/health', timeout=2)" 2>/dev/null && return 0
    python3 -c "import urllib.request as u; u.urlopen('$1/v1/models', timeout=2)" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "server at $1 did not come up" >&2; return 1
}

load() {  # NAME URL
  for c in 1 4 16; do
    per=4; [ "$c" = 16 ] && per=2
    python3 benches/serve_load.py "$2" "$c" "$per" "$max_tokens" | python3 -c "
import json, sys
r = json.load(sys.stdin)
print(f\"| $1 | {r['clients']} | {r['requests']} ({r['failed']} failed, {r['empty']} empty) | {r['req_s']:.2f} | {r['ttft_p50_ms']:.0f} | {r['ttft_p99_ms']:.0f} | {r['tok_s']:.1f} |\")"
  done
}

echo "| server | clients | requests | requests/s | TTFT p50 ms | TTFT p99 ms | tok/s |"
echo "|---|---|---|---|---|---|---|"
port=18431
target/release/glassbox -t "$threads" serve --model "$model" --port $port --queue 32 --ctx-size 2048 >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
wait_health "http://127.0.0.1:$port"
load glassbox "http://127.0.0.1:$port"
kill $pid; wait $pid 2>/dev/null || true

py=$peers/venv-llamacpp/bin/python
if "$py" -c 'import llama_cpp.server' 2>/dev/null; then
  port=18432
  "$py" -m llama_cpp.server --model "$model" --n_threads "$threads" --n_ctx 2048 --port $port \
    --chat_format chatml --interrupt_requests False >/dev/null 2>&1 &
  pid=$!
  wait_health "http://127.0.0.1:$port"
  load "llama.cpp (llama-cpp-python 0.3.36 server)" "http://127.0.0.1:$port"
  kill $pid; wait $pid 2>/dev/null || true
else
  echo "(llama.cpp's server not run: llama_cpp.server does not import in $peers/venv-llamacpp)"
fi
