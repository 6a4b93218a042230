#!/usr/bin/env python3
"""References for glassbox's quantizer, its K-quant loading and its perplexity, on real files.

Writes tests/fixtures/quant_model/:

  llamacpp_tensors.json   for the files llama.cpp made (scripts/make_llamacpp_quants.py):
                          every tensor's type and the SHA-256 (first 16 hex digits) of its data,
                          for Q8_0, Q6_K, Q5_K_M, Q4_K_M, Q3_K_M, Q2_K and Q2_K --pure; glassbox's
                          quantizer must write the same types and the same bytes
  logits_{Q8_0,Q6_K,Q4_K_M}.json
                          transformers' logits on llama.cpp's re-quantized files (transformers
                          dequantizes them with gguf-py, then runs in float32): the top 20 of
                          every prompt of tests/fixtures/smollm2/prompts.json, the full row for
                          "capital" in capital_{type}.npy
  perplexity.json         the held-out slice (the last 120,000 bytes of brown.txt, from the first
                          line start): its first WINDOWS·CTX token ids (SmolLM2's tokenizer),
                          transformers' per-token NLL over llama-perplexity's windows on the f32
                          model (the Q4_1 file dequantized), the perplexity, and KL / top-1
                          agreement of llama.cpp's Q4_K_M file against that f32 model
  gemma_rows.json         gguf-py's dequantization of the first two rows of four tensors of the
                          community gemma-3-270m-q4_k_m.gguf (one per stored type), hashed

Run (after make_llamacpp_quants.py), from the repository root:

    /work/venv/bin/python scripts/fixtures_quant_model.py DATA_DIR LLAMACPP_DIR

DATA_DIR holds SmolLM2-135M-Instruct.Q4_1.gguf, brown.txt and gemma-3-270m-q4_k_m.gguf
(`glassbox pull --all`). Pinned: torch==2.15.0, transformers==5.24.0, gguf==0.19.0,
numpy==2.4.6, tokenizers==0.23.3 (printed into every file's "versions").
"""
import hashlib
import importlib.metadata as md
import json
import os
import sys

import numpy as np
import torch
from gguf import GGUFReader
from gguf import quants as gq
from transformers import AutoModelForCausalLM

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixtures_model import original_tokenizer  # noqa: E402  (SmolLM2's tokenizer, rebuilt)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "quant_model")
HASHED = ["Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K", "Q2_K-pure"]
LOGITS = ["Q8_0", "Q6_K", "Q4_K_M"]
CTX, WINDOWS = 128, 4
HELD_OUT_BYTES = 120_000
TOP = 20


def versions():
    v = {"python": sys.version.split()[0]}
    for p in ("torch", "transformers", "gguf", "numpy", "tokenizers"):
        v[p] = md.version(p)
    return v


def dump(name, obj):
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def held_out_text(data):
    with open(os.path.join(data, "brown.txt"), "rb") as f:
        raw = f.read()
    tail = raw[-HELD_OUT_BYTES:]
    return tail[tail.index(b"\n") + 1:].decode("utf-8")


def load(path):
    d, name = os.path.split(path)
    return AutoModelForCausalLM.from_pretrained(d, gguf_file=name, torch_dtype=torch.float32).eval()


@torch.no_grad()
def window_logprobs(model, ids):
    """llama-perplexity's windows: log-probs (float64) at positions CTX/2 .. CTX-2."""
    out = []
    for w in range(WINDOWS):
        win = ids[w * CTX:(w + 1) * CTX]
        logits = model(input_ids=torch.tensor([win[:-1]])).logits[0].double()
        out.append(torch.log_softmax(logits, dim=-1)[CTX // 2:CTX - 1])
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    data, lc = sys.argv[1], sys.argv[2]
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    q41 = os.path.join(data, "SmolLM2-135M-Instruct.Q4_1.gguf")
    lc_file = lambda n: os.path.join(lc, f"smollm2-llamacpp-{n}.gguf")  # noqa: E731

    # 1. llama.cpp's tensors: type and data hash
    tensors = {}
    for n in HASHED:
        r = GGUFReader(lc_file(n))
        tensors[n] = {t.name: f"{t.tensor_type.name}:{hashlib.sha256(t.data.tobytes()).hexdigest()[:16]}"
                      for t in r.tensors}
    dump("llamacpp_tensors.json", {"made_by": "scripts/make_llamacpp_quants.py (llama-cpp-python 0.3.36) "
                                   "+ scripts/fixtures_quant_model.py", "versions": versions(), "files": tensors})
    print("hashed", HASHED)

    # 2. transformers on llama.cpp's files
    with open(os.path.join(ROOT, "tests", "fixtures", "smollm2", "prompts.json")) as f:
        prompts = json.load(f)["prompts"]
    for n in LOGITS:
        model = load(lc_file(n))
        recs = []
        for p in prompts:
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([p["ids"]])).logits[0, -1].float()
            vals, idx = torch.topk(logits, TOP)
            recs.append({"name": p["name"], "ids": p["ids"],
                         "top": [[int(i), float(v)] for i, v in zip(idx, vals)]})
            if p["name"] == "capital":
                np.save(os.path.join(OUT, f"capital_{n}.npy"), logits.numpy().astype("<f4"))
        dump(f"logits_{n}.json", {"file": f"smollm2-llamacpp-{n}.gguf", "versions": versions(),
                                  "prompts": recs})
        print(n, [r["top"][0] for r in recs])
        del model

    # 3. perplexity of the f32 model, KL of llama.cpp's Q4_K_M
    tok, _ = original_tokenizer(q41)
    ids = tok.encode(held_out_text(data), add_special_tokens=False).ids[:CTX * WINDOWS]
    base = window_logprobs(load(q41), ids)
    nll = []
    for w in range(WINDOWS):
        targets = ids[w * CTX + CTX // 2 + 1:(w + 1) * CTX]
        nll += [float(-base[w][k, t]) for k, t in enumerate(targets)]
    q = window_logprobs(load(lc_file("Q4_K_M")), ids)
    kl, same = [], 0
    for w in range(WINDOWS):
        p_b = base[w]
        kl += (p_b.exp() * (p_b - q[w])).sum(-1).tolist()
        same += int((p_b.argmax(-1) == q[w].argmax(-1)).sum())
    ppl = float(np.exp(np.mean(nll)))
    dump("perplexity.json", {
        "text": f"brown.txt: the last {HELD_OUT_BYTES} bytes, from the first line start",
        "ctx": CTX, "windows": WINDOWS, "ids": ids, "nll": nll, "perplexity": ppl,
        "q4_k_m": {"file": "smollm2-llamacpp-Q4_K_M.gguf", "mean_kl": float(np.mean(kl)),
                   "max_kl": float(np.max(kl)), "top1_agreement": same / len(kl)},
        "versions": versions()})
    print(f"perplexity {ppl:.4f} over {len(nll)} tokens; Q4_K_M KL {np.mean(kl):.5f}, top-1 {same / len(kl):.3f}")

    # 4. the community Gemma file: gguf-py's dequantization of a few rows
    g = GGUFReader(os.path.join(data, "gemma-3-270m-q4_k_m.gguf"))
    rows = {}
    for want in ("Q4_K", "Q6_K", "Q5_0", "Q8_0"):
        t = next(t for t in g.tensors if t.tensor_type.name == want and len(t.shape) == 2)
        deq = gq.dequantize(t.data[:2], t.tensor_type).astype("<f4")  # [2, cols]
        rows[t.name] = {"type": want, "cols": int(deq.shape[1]), "first": deq[0, :8].tolist(),
                        "sha256": hashlib.sha256(deq.tobytes()).hexdigest()}
    dump("gemma_rows.json", {"file": "gemma-3-270m-q4_k_m.gguf", "rows": 2, "tensors": rows,
                             "versions": versions()})
    print("gemma", {k: v["type"] for k, v in rows.items()})


if __name__ == "__main__":
    main()
