#!/usr/bin/env python3
"""Golden fixtures for glassbox stage 2 (tests/fixtures/stage2/*.json).

Run from the repository root:
    /work/venv/bin/python scripts/fixtures_stage2.py

Made with (pinned; printed into every fixture's "meta"):
    torch==2.15.0 (CPU)   transformers==5.24.0   numpy==2.4.6
Seeds are fixed (torch.manual_seed(SEED + case number)); running it again gives the same files.

Every tensor is stored flat, row-major, as f32 values written as JSON numbers (Python floats,
which hold f32 values exactly), next to its shape. Layouts follow glassbox's convention:
activations [seq, n_heads * head_dim], weights [out, in].

Fixtures:
  rmsnorm.json    transformers LlamaRMSNorm
  rope.json       LlamaRotaryEmbedding (default and rope_type "llama3") + apply_rotary_pos_emb
  attention.json  torch scaled_dot_product_attention, causal, GQA (K/V repeated), also a
                  chunk of queries at positions start_pos.. against all earlier keys
  mlp.json        transformers LlamaMLP (SwiGLU, silu)
"""
import json
import os
import sys

import numpy as np
import torch
import transformers
from transformers import LlamaConfig
from transformers.models.llama.modeling_llama import (
    LlamaMLP,
    LlamaRMSNorm,
    LlamaRotaryEmbedding,
    apply_rotary_pos_emb,
)

SEED = 1234
OUT = os.path.join("tests", "fixtures", "stage2")

PINNED = {"torch": "2.15.0", "transformers": "5.24.0", "numpy": "2.4.6"}


def meta(what):
    return {
        "made_by": "scripts/fixtures_stage2.py",
        "what": what,
        "seed": SEED,
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "numpy": np.__version__,
            "python": sys.version.split()[0],
        },
    }


def flat(t):
    return t.detach().to(torch.float32).contiguous().reshape(-1).tolist()


def write(name, obj):
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def rmsnorm():
    cases = []
    for n, (seq, d, eps, scale) in enumerate([(3, 64, 1e-5, 1.0), (2, 37, 1e-6, 50.0), (1, 4, 1e-5, 1.0)]):
        torch.manual_seed(SEED + n)
        norm = LlamaRMSNorm(d, eps=eps)
        with torch.no_grad():
            norm.weight.copy_(1.0 + 0.5 * torch.randn(d))
        x = scale * torch.randn(seq, d)
        if d == 4:
            x = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
        y = norm(x)
        cases.append({"seq": seq, "d": d, "eps": eps, "x": flat(x), "weight": flat(norm.weight), "y": flat(y)})
    write("rmsnorm.json", {"meta": meta("LlamaRMSNorm"), "cases": cases})


def rope():
    cases = []
    configs = [
        ("default", dict(rope_theta=10000.0, rope_type="default")),
        ("llama3", dict(rope_theta=500000.0, rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                        high_freq_factor=4.0, original_max_position_embeddings=8192)),
    ]
    n_heads, n_kv, head_dim = 2, 1, 16
    positions = [0, 1, 7, 100, 3000]
    for n, (name, params) in enumerate(configs):
        torch.manual_seed(SEED + 10 + n)
        cfg = LlamaConfig(hidden_size=n_heads * head_dim, num_attention_heads=n_heads,
                          num_key_value_heads=n_kv, head_dim=head_dim, max_position_embeddings=131072,
                          rope_parameters=params)
        emb = LlamaRotaryEmbedding(cfg)
        seq = len(positions)
        q = torch.randn(1, n_heads, seq, head_dim)  # [b, h, s, d]
        k = torch.randn(1, n_kv, seq, head_dim)
        pos_ids = torch.tensor([positions])
        cos, sin = emb(q, pos_ids)
        q_rot, k_rot = apply_rotary_pos_emb(q, k, cos, sin)
        # to glassbox layout: [seq, heads * head_dim]
        to_rows = lambda t: t[0].transpose(0, 1).reshape(seq, -1)
        case = {"name": name, "n_heads": n_heads, "n_kv_heads": n_kv, "head_dim": head_dim,
                "positions": positions, "inv_freq": flat(emb.inv_freq),
                "q": flat(to_rows(q)), "k": flat(to_rows(k)),
                "q_rot": flat(to_rows(q_rot)), "k_rot": flat(to_rows(k_rot))}
        case.update({key: params[key] for key in params})
        cases.append(case)
    write("rope.json", {"meta": meta("LlamaRotaryEmbedding + apply_rotary_pos_emb (half-split)"), "cases": cases})


def attention():
    cases = []
    # (n_heads, n_kv_heads, head_dim, start_pos, seq)
    shapes = [(4, 2, 8, 0, 6), (3, 1, 5, 0, 4), (4, 2, 8, 3, 3), (2, 2, 4, 5, 1)]
    for n, (nh, nkv, hd, start, seq) in enumerate(shapes):
        torch.manual_seed(SEED + 20 + n)
        total = start + seq
        q = torch.randn(1, nh, seq, hd)
        k = torch.randn(1, nkv, total, hd)
        v = torch.randn(1, nkv, total, hd)
        # query t sits at absolute position start + t and sees keys 0 ..= start + t
        mask = torch.arange(total)[None, :] <= (start + torch.arange(seq))[:, None]
        rep = nh // nkv
        k_rep = k.repeat_interleave(rep, dim=1)  # query head h reads KV head h // rep
        v_rep = v.repeat_interleave(rep, dim=1)
        o = torch.nn.functional.scaled_dot_product_attention(q, k_rep, v_rep, attn_mask=mask)
        if start == 0:  # the same through is_causal and enable_gqa: check the two agree
            o2 = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
            assert torch.allclose(o, o2, atol=1e-6), "sdpa mask/is_causal disagree"
        rows = lambda t: t[0].transpose(0, 1).reshape(t.shape[2], -1)  # [s, heads * hd]
        cases.append({"n_heads": nh, "n_kv_heads": nkv, "head_dim": hd, "start_pos": start, "seq": seq,
                      "q": flat(rows(q)), "k": flat(rows(k)), "v": flat(rows(v)), "out": flat(rows(o))})
    write("attention.json", {"meta": meta("scaled_dot_product_attention, causal, GQA"), "cases": cases})


def mlp():
    cases = []
    for n, (seq, d, ffn) in enumerate([(3, 16, 40), (1, 10, 7)]):
        torch.manual_seed(SEED + 30 + n)
        cfg = LlamaConfig(hidden_size=d, intermediate_size=ffn, num_attention_heads=1, num_key_value_heads=1,
                          hidden_act="silu", mlp_bias=False)
        m = LlamaMLP(cfg)
        x = torch.randn(seq, d)
        y = m(x)
        cases.append({"seq": seq, "d": d, "ffn": ffn, "x": flat(x),
                      "w_gate": flat(m.gate_proj.weight), "w_up": flat(m.up_proj.weight),
                      "w_down": flat(m.down_proj.weight), "y": flat(y)})
    write("mlp.json", {"meta": meta("LlamaMLP"), "cases": cases})


if __name__ == "__main__":
    for lib, want in PINNED.items():
        have = {"torch": torch.__version__, "transformers": transformers.__version__, "numpy": np.__version__}[lib]
        if not have.startswith(want):
            print(f"note: {lib} {have} differs from the pinned {want}; fixtures may change slightly")
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    with torch.no_grad():
        rmsnorm()
        rope()
        attention()
        mlp()
