#!/usr/bin/env python3
"""Reference outputs of SmolLM2-135M-Instruct (GGUF Q4_1) from Hugging Face `transformers`.

Writes tests/fixtures/smollm2/: prompts.json (ids, top-20 logits, greedy continuation, norms,
float32-vs-float64 differences) plus small little-endian float32 .npy files (full last-position
logits for three prompts, last-position hidden states for every prompt).

Run (from the repository root, with the venv that has the pinned versions):

    /work/venv/bin/python scripts/fixtures_model.py /path/to/SmolLM2-135M-Instruct.Q4_1.gguf

Pinned versions (the ones the committed fixtures were made with; printed into meta.json):
    torch==2.15.0 (CPU use; PyPI wheel)  transformers==5.24.0  accelerate==1.15.0
    gguf==0.19.0  tokenizers==0.23.3  numpy==2.4.6  safetensors==0.8.0

How the reference is made:
* transformers loads the GGUF with `gguf_file=` and dequantizes every weight to float32; the
  forward pass then runs in float32. glassbox keeps the weights quantized and runs the dot
  products block by block in float32, so both compute the same function in a different order.
* The prompt ids come from the ORIGINAL SmolLM2 tokenizer, rebuilt here as a tokenizer.json from
  the GGUF's vocabulary and merges with SmolLM2's pre-tokenizer
  Sequence[Digits(individual_digits=True), ByteLevel]. transformers' GGUF tokenizer drops the
  digit split (see issue 2), so its ids are recorded too (`hf_gguf_ids`) when they differ.
  (With transformers 5.24.0 the two agreed on every prompt below, so no `hf_gguf_ids` is stored.)
  The model is fed the original ids directly (input_ids), never transformers' tokenization.
* Greedy continuation: 32 steps of argmax over the raw logits (no eos stop, no penalties),
  with the log-probability of each chosen token and the gap to the runner-up logit.
* A float64 copy of the model runs the same prompts, to state how far float32 is from float64.
"""
import json
import os
import sys
import importlib.metadata as md

import numpy as np
import torch
import gguf
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM, AutoTokenizer

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "smollm2")
TOP_K = 20
GREEDY_STEPS = 32

LONG_TEXT = (
    "The history of the printing press begins long before Gutenberg. Carved wooden blocks were "
    "used to print cloth and paper in East Asia for centuries, and movable type made of baked clay "
    "appeared in China in the eleventh century. Metal type followed in Korea, where a collection of "
    "Buddhist teachings was printed in 1377. In Europe, the goldsmith Johannes Gutenberg combined "
    "several ideas around 1450: a hand mould that cast letters of identical height, an alloy of "
    "lead, tin and antimony that melted at a low temperature, an oil-based ink that clung to metal, "
    "and a screw press adapted from the presses used for wine and olive oil. None of these parts was "
    "entirely new, but together they made it possible to print hundreds of identical pages a day. "
    "Within fifty years, printing shops had opened in more than two hundred cities, and millions of "
    "books had been produced. Prices fell, literacy rose, and scholars could compare the same text "
    "in distant libraries, because every copy now had the same words on the same page. Printers "
    "became publishers, editors and booksellers; some of them standardised spelling and punctuation "
    "simply because it made their work easier. Governments and churches soon discovered that the "
    "press could spread dissent as quickly as it spread learning, and they responded with licences, "
    "censorship and lists of forbidden books. Yet the technology kept spreading. By 1600 the press "
    "had reached Mexico, India and Japan, and the habit of reading silently, alone, with a cheap "
    "book in one hand, had become ordinary for a growing part of the population. Historians still "
    "argue about how much of the scientific revolution depended on print, but few doubt that the "
    "ability to copy an idea exactly, and cheaply, changed how ideas travelled. In the end, the "
    "most important consequence of the press may have been"
)

PROMPTS = [
    # name, text, keep the full logits?
    ("capital", "The capital of France is", True),
    ("code", "def fibonacci(n):\n    if n < 2:\n        return n\n    return", False),
    ("numbers", "Question: what is 12345 + 67890?\nAnswer: 12345 + 67890 =", False),
    ("non_latin", "भारत की राजधानी नई दिल्ली है। 中国的首都是北京，日本的首都是", False),
    ("chat",
     "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
     "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n", True),
    ("long", LONG_TEXT, True),
]


def versions():
    v = {"python": sys.version.split()[0]}
    for pkg in ("torch", "transformers", "accelerate", "gguf", "tokenizers", "numpy", "safetensors"):
        v[pkg] = md.version(pkg)
    return v


def write_npy(path, array):
    """Little-endian float32, C order (np.save writes a v1.0 header)."""
    a = np.ascontiguousarray(np.asarray(array, dtype="<f4"))
    np.save(path, a, allow_pickle=False)


def original_tokenizer(gguf_path):
    """SmolLM2's tokenizer.json, rebuilt from the GGUF vocabulary and merges."""
    r = gguf.GGUFReader(gguf_path)
    f = r.fields
    tokens = f["tokenizer.ggml.tokens"].contents()
    types = f["tokenizer.ggml.token_type"].contents()
    merges = f["tokenizer.ggml.merges"].contents()
    control = 3  # llama.cpp token type CONTROL = special token
    added = [
        {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}
        for i, (t, ty) in enumerate(zip(tokens, types)) if ty == control
    ]
    spec = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        ]},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": False,
                  "vocab": {t: i for i, t in enumerate(tokens)},
                  "merges": [m.split(" ", 1) for m in merges]},
    }
    return Tokenizer.from_str(json.dumps(spec)), len(added)


def top_k(logits, k):
    vals, idx = torch.topk(logits, k)
    return [[int(i), float(v)] for i, v in zip(idx, vals)]


@torch.no_grad()
def greedy(model, ids, steps):
    """argmax decoding over the raw logits, with a KV-cache, never stopping early."""
    out = model(input_ids=torch.tensor([ids]), use_cache=True)
    past, logits = out.past_key_values, out.logits[0, -1]
    chosen, logprobs, margins = [], [], []
    for _ in range(steps):
        lp = torch.log_softmax(logits.double(), dim=-1)
        two = torch.topk(logits, 2)
        nxt = int(two.indices[0])
        chosen.append(nxt)
        logprobs.append(float(lp[nxt]))
        margins.append(float(two.values[0] - two.values[1]))
        out = model(input_ids=torch.tensor([[nxt]]), past_key_values=past, use_cache=True)
        past, logits = out.past_key_values, out.logits[0, -1]
    return chosen, logprobs, margins


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: fixtures_model.py PATH/TO/SmolLM2-135M-Instruct.Q4_1.gguf")
    gguf_path = os.path.abspath(sys.argv[1])
    d, name = os.path.split(gguf_path)
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(max(1, os.cpu_count() or 1))

    tok, n_special = original_tokenizer(gguf_path)
    hf_tok = AutoTokenizer.from_pretrained(d, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=name, torch_dtype=torch.float32).eval()
    model64 = AutoModelForCausalLM.from_pretrained(d, gguf_file=name, torch_dtype=torch.float32).eval().double()
    cfg = model.config
    assert cfg.tie_word_embeddings, "SmolLM2 ties the output head to the embedding"
    n_layers = cfg.num_hidden_layers

    # What does transformers do with bos for this GGUF? (SmolLM2: add_bos_token false.)
    plain = hf_tok("Hi", add_special_tokens=False)["input_ids"]
    with_special = hf_tok("Hi")["input_ids"]
    adds_bos = with_special != plain

    records = []
    worst64 = 0.0
    for pname, text, keep_full in PROMPTS:
        ids = tok.encode(text, add_special_tokens=False).ids
        hf_ids = hf_tok(text, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            out = model(input_ids=torch.tensor([ids]), output_hidden_states=True)
            out64 = model64(input_ids=torch.tensor([ids]))
        logits = out.logits[0, -1].float()
        hs = out.hidden_states
        assert len(hs) == n_layers + 1, f"expected {n_layers + 1} hidden states, got {len(hs)}"
        # HF's last hidden_states entry is already normed: the head applied to it gives the logits.
        head = model.lm_head(hs[-1][0, -1])
        assert torch.allclose(head, logits, atol=1e-4), "hidden_states[-1] is not the normed state"
        d64 = float((out64.logits[0, -1] - logits.double()).abs().max())
        worst64 = max(worst64, d64)
        # [3, d_model]: after the embedding, after layer 0, after the final norm (last position).
        hidden = torch.stack([hs[0][0, -1], hs[1][0, -1], hs[-1][0, -1]])
        write_npy(os.path.join(OUT, f"{pname}_hidden.npy"), hidden.numpy())
        if keep_full:
            write_npy(os.path.join(OUT, f"{pname}_logits.npy"), logits.numpy())
        g_ids, g_lp, g_margin = greedy(model, ids, GREEDY_STEPS)
        rec = {
            "name": pname,
            "text": text,
            "ids": ids,
            "n_tokens": len(ids),
            "top": top_k(logits, TOP_K),
            "top_tokens": [tok.decode([i], skip_special_tokens=False) for i, _ in top_k(logits, TOP_K)],
            "logits_npy": f"{pname}_logits.npy" if keep_full else None,
            "hidden_npy": f"{pname}_hidden.npy",
            "hidden_rows": ["embedding", "layer_0", "final_norm"],
            # L2 norm of the last position's hidden state: [0] embedding, [i] after layer i-1,
            # [n_layers] after the final norm (HF's last entry is already normed).
            "hidden_norms_last": [float(h[0, -1].norm()) for h in hs],
            "logit_max_abs_diff_f64": d64,
            "greedy": {"ids": g_ids, "logprobs": g_lp, "margins": g_margin,
                       "text": tok.decode(g_ids, skip_special_tokens=False)},
        }
        if hf_ids != ids:
            rec["hf_gguf_ids"] = hf_ids
        records.append(rec)
        print(f"{pname:10} {len(ids):4} tokens  top1 {rec['top'][0]}  f32-vs-f64 {d64:.2e}  "
              f"greedy {rec['greedy']['text']!r}  min margin {min(g_margin):.3f}"
              + ("  (transformers' GGUF tokenizer differs)" if hf_ids != ids else ""))

    meta = {
        "model": name,
        "versions": versions(),
        "dtype": "float32 activations, weights dequantized to float32 by transformers",
        "original_tokenizer": "rebuilt from the GGUF: Sequence[Digits(individual_digits=True), ByteLevel]",
        "n_special_tokens": n_special,
        "transformers_adds_bos": adds_bos,
        "top_k": TOP_K,
        "greedy_steps": GREEDY_STEPS,
        "logit_max_abs_diff_f32_vs_f64": worst64,
    }
    with open(os.path.join(OUT, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    with open(os.path.join(OUT, "prompts.json"), "w") as f:
        json.dump({"prompts": records}, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
