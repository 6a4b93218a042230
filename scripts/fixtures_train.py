#!/usr/bin/env python3
"""PyTorch autograd as the reference for glassbox's hand-written backward pass (stage 8).

Writes tests/fixtures/train/:
  init.safetensors     the initial weights of a tiny tied-head Llama (HF names, f32)
  grads.safetensors    d(mean cross-entropy)/d(every weight) for one batch, before clipping
  after10.safetensors  the weights after 10 AdamW steps on that batch (warmup + cosine,
                       gradient clipping, weight decay on matrices only), as glassbox does them
  reference.json       the config, the batch, the hyper-parameters, the loss of each step

With --checkpoint DIR (a directory written by `glassbox train`), also writes
  DIR/transformers_logits.json   transformers' logits for a few id sequences, which
                                 tests/backprop_torch.rs compares with glassbox's forward.

Pinned versions (printed into reference.json): torch 2.15.0, transformers 5.24.0,
safetensors 0.8.0, numpy 2.4.6.

Run:  /work/venv/bin/python scripts/fixtures_train.py [--checkpoint tests/fixtures/train/tiny-ckpt]

tests/fixtures/train/tiny-ckpt holds the model files (config.json, generation_config.json,
model.safetensors, tokenizer.json) of a run of
  glassbox train --data README.md book/src/ch01-tokenizer.md \
    --tokenizer tests/fixtures/tiny/hf/tokenizer.json --out /tmp/tiny-ckpt --layers 2 \
    --d-model 32 --heads 4 --kv-heads 2 --ffn 48 --ctx 16 --batch 4 --steps 30 --warmup 3 \
    --lr 1e-2 --save-every 30 --keep 1 --sample-tokens 0
copied there before this script ran on it.
"""
import argparse
import json
import math
import os

import numpy as np
import safetensors
import torch
import transformers
from safetensors.torch import save_file, load_file

SEED = 20261201
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "train")

CONFIG = dict(vocab_size=96, hidden_size=32, intermediate_size=48, num_attention_heads=4,
              num_key_value_heads=2, num_hidden_layers=2, max_position_embeddings=16,
              rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=True)
BATCH, SEQ = 3, 16
# the optimisation (glassbox's TrainConfig with the same numbers)
STEPS, WARMUP, LR, MIN_LR = 10, 3, 1e-2, 1e-3
BETAS, EPS, WEIGHT_DECAY, CLIP = (0.9, 0.95), 1e-8, 0.1, 1.0


def lr_at(s):
    """glassbox's train::optim::lr_at: linear warmup, then cosine to MIN_LR."""
    if s < WARMUP:
        return LR * (s + 1) / WARMUP
    progress = min((s - WARMUP) / max(STEPS - WARMUP, 1), 1.0)
    return MIN_LR + 0.5 * (1 + math.cos(math.pi * progress)) * (LR - MIN_LR)


def make_model():
    cfg = transformers.LlamaConfig(**CONFIG, attn_implementation="eager")
    torch.manual_seed(SEED)
    model = transformers.LlamaForCausalLM(cfg).float()
    with torch.no_grad():
        # larger than Llama's 0.02 so every gradient is well above rounding, and norm weights
        # away from 1 so their gradients are exercised
        for name, p in model.named_parameters():
            if p.ndim == 2:
                p.copy_(torch.randn_like(p) * 0.2)
            else:
                p.copy_(1.0 + 0.3 * torch.randn_like(p))
    return model


def loss_of(model, inputs, targets):
    logits = model(input_ids=inputs).logits  # [B, T, V]
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def state(model):
    """Every weight under its HF name (the tied lm_head is the embedding: not saved twice)."""
    return {n: p.detach().clone().contiguous() for n, p in model.named_parameters() if n != "lm_head.weight"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", help="a glassbox train output directory to run in transformers")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)  # deterministic reductions

    model = make_model()
    g = torch.Generator().manual_seed(SEED + 1)
    ids = torch.randint(0, CONFIG["vocab_size"], (BATCH, SEQ + 1), generator=g)
    inputs, targets = ids[:, :-1].contiguous(), ids[:, 1:].contiguous()
    save_file(state(model), os.path.join(OUT, "init.safetensors"))

    # 1. one forward and backward: the loss and every gradient
    loss = loss_of(model, inputs, targets)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if n != "lm_head.weight"}
    save_file(grads, os.path.join(OUT, "grads.safetensors"))
    model.zero_grad()

    # 2. ten AdamW steps: norms (vectors) without weight decay, as glassbox
    decay = [p for n, p in model.named_parameters() if p.ndim == 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim == 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=LR, betas=BETAS, eps=EPS, foreach=False)
    losses, norms = [], []
    for s in range(STEPS):
        for group in opt.param_groups:
            group["lr"] = lr_at(s)
        opt.zero_grad()
        loss_s = loss_of(model, inputs, targets)
        loss_s.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)))
        opt.step()
        losses.append(float(loss_s.detach()))
    save_file(state(model), os.path.join(OUT, "after10.safetensors"))

    ref = {
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "safetensors": safetensors.__version__, "numpy": np.__version__},
        "config": CONFIG, "batch": BATCH, "seq": SEQ,
        "inputs": inputs.reshape(-1).tolist(), "targets": targets.reshape(-1).tolist(),
        "optim": {"steps": STEPS, "warmup": WARMUP, "lr": LR, "min_lr": MIN_LR, "beta1": BETAS[0],
                  "beta2": BETAS[1], "eps": EPS, "weight_decay": WEIGHT_DECAY, "clip": CLIP},
        "loss": float(loss), "step_losses": losses, "grad_norms": norms,
    }
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
    print(f"loss {float(loss):.6f}; after 10 steps {losses[-1]:.6f}; grad norms {norms[0]:.3f} .. {norms[-1]:.3f}")

    if args.checkpoint:
        run_checkpoint(args.checkpoint)


def run_checkpoint(d):
    """transformers' logits at every position for a few sequences of the trained model."""
    model = transformers.AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    cfg = model.config
    g = torch.Generator().manual_seed(SEED + 2)
    seqs = [torch.randint(0, cfg.vocab_size, (n,), generator=g).tolist() for n in (1, 5, cfg.max_position_embeddings)]
    out = []
    with torch.no_grad():
        for s in seqs:
            logits = model(input_ids=torch.tensor([s])).logits[0]
            out.append({"ids": s, "logits": logits.reshape(-1).tolist()})
    # the tokenizer loads in transformers too
    tok = transformers.PreTrainedTokenizerFast(tokenizer_file=os.path.join(d, "tokenizer.json"))
    text = "The jury said it was a good election."
    res = {"versions": {"torch": torch.__version__, "transformers": transformers.__version__},
           "sequences": out, "text": text, "text_ids": tok.encode(text)}
    with open(os.path.join(d, "transformers_logits.json"), "w") as f:
        json.dump(res, f)
    print(f"{d}: logits of {len(seqs)} sequences written")


if __name__ == "__main__":
    main()
