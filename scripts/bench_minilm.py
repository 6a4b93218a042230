#!/usr/bin/env python3
"""sentence-transformers' side of the embedding benchmark (benches/embed.rs runs it).

The same sentences as glassbox (tests/fixtures/minilm/sentences.json: those under 300
characters, 2 to 32 tokens, cycled to fill a batch; "mixed": the 256-token paragraph first),
the same model directory, the same number of threads (torch.set_num_threads), PyTorch on CPU in
float32. Timing covers `SentenceTransformer.encode(batch)`: tokenization, the forward pass,
pooling and normalisation, as glassbox's `Bert::embed` does.

Two modes:

    # a table: best of R runs per batch size
    /work/venv/bin/python scripts/bench_minilm.py MODEL_DIR --threads 2

    # serve: benches/embed.rs writes a batch size per line, this prints the best seconds of R
    # runs; the Rust side alternates its own runs with these (interleaved, same process tree)
    /work/venv/bin/python scripts/bench_minilm.py MODEL_DIR --threads 2 --serve

Pinned versions: torch==2.15.0 (CPU), sentence-transformers==6.2.0, transformers==5.24.0.
"""
import argparse
import json
import os
import sys
import time

import torch
from sentence_transformers import SentenceTransformer

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "minilm", "sentences.json")


def sentences(n, mixed=False):
    """The fixture sentences shorter than 300 characters (2 to 32 tokens), cycled to n; with
    `mixed`, the 256-token paragraph is put in first (padding makes the whole batch that long)."""
    with open(FIXTURE, encoding="utf-8") as f:
        texts = [x["text"] for x in json.load(f)["sentences"]]
    short = [t for t in texts if len(t) < 300]
    batch = [short[i % len(short)] for i in range(n)]
    if mixed:
        batch[0] = max(texts, key=len)
    return batch


def best_seconds(model, batch, reps):
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        model.encode(batch, batch_size=len(batch), convert_to_numpy=True)
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--serve", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    model = SentenceTransformer(a.model_dir, device="cpu")
    model.encode(sentences(8))  # warm-up (first-call allocations, lazy inits)
    if a.serve:
        print("ready", flush=True)
        for line in sys.stdin:  # "64" or "64 mixed"
            words = line.split()
            batch = sentences(int(words[0]), mixed=words[1:] == ["mixed"])
            print(f"{best_seconds(model, batch, a.reps):.6f}", flush=True)
        return
    print(f"sentence-transformers {md_version()} torch {torch.__version__}, {a.threads} threads")
    for b, mixed in ((1, False), (8, False), (64, False), (64, True)):
        s = best_seconds(model, sentences(b, mixed), a.reps)
        label = f"{b} mixed" if mixed else str(b)
        print(f"batch {label:>8}: {b / s:8.1f} sentences/s  ({s * 1e3:.1f} ms per batch)")


def md_version():
    import importlib.metadata as md

    return md.version("sentence-transformers")


if __name__ == "__main__":
    main()
