#!/usr/bin/env python3
"""PyTorch's CPU training speed for the same model, batch and threads as `glassbox train`'s
defaults (the peer of benches/README.md's stage 8 table; run by scripts/bench-train.sh).

Same step as glassbox: forward, mean cross-entropy, backward, clip to 1.0, AdamW. Prints the
median tokens/s of the timed steps and the share of forward / backward / optimizer.
torch 2.15.0, transformers 5.24.0.

Usage: train_speed_torch.py --threads 2 [--steps 12] [--vocab 4096]
"""
import argparse
import statistics
import time

import torch
import transformers

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--steps", type=int, default=12)
ap.add_argument("--vocab", type=int, default=4096)
ap.add_argument("--batch", type=int, default=16)
ap.add_argument("--ctx", type=int, default=128)
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
cfg = transformers.LlamaConfig(vocab_size=a.vocab, hidden_size=256, intermediate_size=704,
                               num_attention_heads=4, num_key_value_heads=2, num_hidden_layers=4,
                               max_position_embeddings=a.ctx, tie_word_embeddings=True,
                               attn_implementation="sdpa")
model = transformers.LlamaForCausalLM(cfg).float().train()
opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.1)
ids = torch.randint(0, a.vocab, (a.batch, a.ctx + 1))
x, y = ids[:, :-1], ids[:, 1:]
times = []
for s in range(a.steps):
    t0 = time.perf_counter()
    logits = model(input_ids=x).logits
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, a.vocab), y.reshape(-1))
    t1 = time.perf_counter()
    opt.zero_grad()
    loss.backward()
    t2 = time.perf_counter()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    t3 = time.perf_counter()
    if s >= 2:  # the first steps allocate
        times.append((t1 - t0, t2 - t1, t3 - t2))
total = [sum(t) for t in times]
med = statistics.median(total)
f, b, o = (statistics.median(t[i] for t in times) for i in range(3))
print(f"pytorch {a.batch * a.ctx / med:.0f} tokens/s (median of {len(times)} steps, {a.threads} threads); "
      f"forward {100 * f / (f + b + o):.0f}%, backward {100 * b / (f + b + o):.0f}%, optimizer {100 * o / (f + b + o):.0f}%")
