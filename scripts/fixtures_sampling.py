#!/usr/bin/env python3
"""Golden values for stage 4 (sampler penalties/filters and chat template ids).

Run:  GLASSBOX_DATA=/work/data python scripts/fixtures_sampling.py
Pinned versions (printed into each fixture's "meta"):
    torch==2.15.0  transformers==5.24.0  numpy==2.4.6  gguf==0.19.0

Writes tests/fixtures/sampling/
  processors.json  - random logits [16] and histories, and the output of each transformers
                     logits processor alone and of the generate() chain
                     (repetition penalty -> temperature -> top-k -> top-p -> min-p);
                     removed tokens (-inf) are written as null.
  chat_smollm2.json - multi-turn conversations rendered with apply_chat_template(tokenize=True)
                     by the tokenizer transformers builds from the SmolLM2 GGUF.
"""
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
import transformers
from transformers.generation.logits_process import (
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "sampling"
META = {
    "script": "scripts/fixtures_sampling.py",
    "torch": torch.__version__,
    "transformers": transformers.__version__,
    "numpy": np.__version__,
}


def as_list(t):
    return [None if not np.isfinite(v) else float(v) for v in t.reshape(-1).tolist()]


def processors():
    rng = np.random.default_rng(20261127)
    cases = []
    vocab = 16
    for case in range(12):
        logits = (rng.standard_normal(vocab) * 3.0).astype(np.float32)
        history = rng.integers(0, vocab, size=int(rng.integers(1, 10))).tolist()
        cfg = {
            "repeat_penalty": float([1.0, 1.1, 1.3, 2.0][case % 4]),
            "temperature": float([0.5, 0.8, 1.0, 1.5][(case // 4) % 4]),
            "top_k": int([0, 3, 8][case % 3]),
            "top_p": float([0.9, 0.5, 1.0, 0.75][case % 4 if case % 4 != 0 else 0]),
            "min_p": float([0.0, 0.05, 0.2][(case + 1) % 3]),
        }
        ids = torch.tensor([history], dtype=torch.long)
        x = torch.tensor(logits).unsqueeze(0)
        single = {
            "repetition": RepetitionPenaltyLogitsProcessor(cfg["repeat_penalty"])(ids, x.clone())
            if cfg["repeat_penalty"] != 1.0 else x.clone(),
            "temperature": TemperatureLogitsWarper(cfg["temperature"])(ids, x.clone()),
            "top_k": TopKLogitsWarper(cfg["top_k"])(ids, x.clone()) if cfg["top_k"] > 0 else x.clone(),
            "top_p": TopPLogitsWarper(cfg["top_p"])(ids, x.clone()) if cfg["top_p"] < 1.0 else x.clone(),
            "min_p": MinPLogitsWarper(cfg["min_p"])(ids, x.clone()) if cfg["min_p"] > 0 else x.clone(),
        }
        y = x.clone()
        if cfg["repeat_penalty"] != 1.0:
            y = RepetitionPenaltyLogitsProcessor(cfg["repeat_penalty"])(ids, y)
        y = TemperatureLogitsWarper(cfg["temperature"])(ids, y)
        if cfg["top_k"] > 0:
            y = TopKLogitsWarper(cfg["top_k"])(ids, y)
        if cfg["top_p"] < 1.0:
            y = TopPLogitsWarper(cfg["top_p"])(ids, y)
        if cfg["min_p"] > 0:
            y = MinPLogitsWarper(cfg["min_p"])(ids, y)
        probs = torch.softmax(y, dim=-1)
        # OpenAI frequency/presence penalties: no transformers processor exists; the documented
        # formula mu[j] - c[j]*a_f - (c[j] > 0)*a_p, computed here in float32 as a cross-check.
        counts = np.bincount(np.array(history), minlength=vocab).astype(np.float32)
        a_f, a_p = np.float32(0.25), np.float32(0.5)
        openai = logits - (counts * a_f + (counts > 0).astype(np.float32) * a_p)
        cases.append({
            "logits": [float(v) for v in logits],
            "history": history,
            "config": cfg,
            "single": {k: as_list(v) for k, v in single.items()},
            "chain": as_list(y),
            "chain_probs": [float(v) for v in probs.reshape(-1).tolist()],
            "frequency_penalty": float(a_f),
            "presence_penalty": float(a_p),
            "openai_penalized": [float(v) for v in openai],
        })
    return {"meta": META, "cases": cases}


def chat():
    from transformers import AutoTokenizer
    data = Path(os.environ.get("GLASSBOX_DATA", "/work/data"))
    gguf = "SmolLM2-135M-Instruct.Q4_1.gguf"
    tok = AutoTokenizer.from_pretrained(str(data), gguf_file=gguf)
    # No digits: transformers' GGUF tokenizer drops SmolLM2's one-digit-at-a-time split.
    conversations = [
        {"name": "multi_turn_with_system", "add_generation_prompt": True, "messages": [
            {"role": "system", "content": "You are a terse geography tutor."},
            {"role": "user", "content": "What is the capital of France?"},
            {"role": "assistant", "content": "Paris."},
            {"role": "user", "content": "And of Italy? Answer in one word, please."},
        ]},
        {"name": "default_system_prompt", "add_generation_prompt": True, "messages": [
            {"role": "user", "content": "Hello! Who are you?"},
            {"role": "assistant", "content": "I am SmolLM, a small language model."},
            {"role": "user", "content": "Tell me a short joke about cats."},
        ]},
        {"name": "no_generation_prompt", "add_generation_prompt": False, "messages": [
            {"role": "user", "content": "Say héllo in French, with an emoji 😉"},
            {"role": "assistant", "content": "Bonjour ! 😉"},
        ]},
    ]
    out = []
    for conv in conversations:
        text = tok.apply_chat_template(conv["messages"], tokenize=False,
                                       add_generation_prompt=conv["add_generation_prompt"])
        ids = tok.apply_chat_template(conv["messages"], tokenize=True,
                                      add_generation_prompt=conv["add_generation_prompt"])
        if isinstance(ids, dict) or hasattr(ids, "keys"):
            ids = ids["input_ids"]
        out.append({**conv, "text": text, "ids": [int(i) for i in ids]})
    return {"meta": {**META, "tokenizer": f"AutoTokenizer.from_pretrained(GLASSBOX_DATA, gguf_file='{gguf}')"},
            "conversations": out}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    (OUT / "processors.json").write_text(json.dumps(processors(), indent=1) + "\n")
    print("wrote", OUT / "processors.json")
    if "--no-chat" not in sys.argv:
        (OUT / "chat_smollm2.json").write_text(json.dumps(chat(), indent=1, ensure_ascii=False) + "\n")
        print("wrote", OUT / "chat_smollm2.json")


if __name__ == "__main__":
    main()
