#!/usr/bin/env python3
"""Make the tiny random Llama used by glassbox's loading and forward-pass tests.

Writes tests/fixtures/tiny/:
  hf/config.json, hf/model.safetensors (f32), hf/tokenizer.json, hf/tokenizer_config.json
      a Hugging Face LlamaForCausalLM directory (GQA: 4 heads, 2 KV heads, untied head)
  tiny.gguf
      the same weights laid out the way llama.cpp's convert_hf_to_gguf.py does it: blk.* names,
      Q/K rows permuted to the interleaved RoPE order, dims reversed (ne[0] = columns), and a
      mix of stored types (F32, F16, BF16, Q8_0, Q4_0, Q4_1) quantized by gguf.quants
  reference.json
      transformers' outputs for a few id sequences: logits at every position, hidden states,
      for the f32 HF model ("hf") and for the model rebuilt from the GGUF's dequantized
      weights ("gguf"); the GGUF's dequantized HF-order weights of two tensors; tokenizer ids.
  smollm2_dequant.json (only with --real PATH.gguf)
      first values of a few tensors of the real SmolLM2 GGUF, dequantized by gguf.quants.

Pinned versions (the venv this was run with; printed into reference.json):
  torch 2.15.0, transformers 5.24.0, tokenizers 0.23.3, gguf 0.19.0, numpy 2.4.6, safetensors 0.8.0

Run:  /work/venv/bin/python scripts/make_tiny_llama.py [--real /work/data/SmolLM2-135M-Instruct.Q4_1.gguf]
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import transformers
import tokenizers
import gguf
import safetensors
from gguf import GGMLQuantizationType as Q
from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers

SEED = 20261127
ROPE_THETA = 10000.0
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "tiny")

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
TRAIN_TEXT = [
    "The quick brown fox jumps over the lazy dog. The dog sleeps in the sun.",
    "def add(a, b):\n    return a + b\n\nprint(add(12, 345))",
    "Hello world! Hello there, the world is wide and the sea is deep.",
    "In 1961 the jury said the election was conducted in the best manner.",
]

# Which stored type each GGUF tensor gets (llama.cpp names); everything else F32.
TYPES = {
    "token_embd.weight": Q.Q8_0,
    "blk.0.attn_q.weight": Q.Q4_1, "blk.0.attn_k.weight": Q.Q4_1, "blk.0.attn_v.weight": Q.Q4_1,
    "blk.0.attn_output.weight": Q.Q4_1, "blk.0.ffn_gate.weight": Q.Q4_1, "blk.0.ffn_up.weight": Q.Q4_1,
    "blk.0.ffn_down.weight": Q.Q4_1,
    "blk.1.attn_q.weight": Q.Q4_0, "blk.1.attn_k.weight": Q.Q4_0, "blk.1.attn_v.weight": Q.Q8_0,
    "blk.1.attn_output.weight": Q.Q8_0, "blk.1.ffn_gate.weight": Q.F16, "blk.1.ffn_up.weight": Q.BF16,
    "blk.1.ffn_down.weight": Q.F32, "output.weight": Q.F32,
}


def make_tokenizer():
    tok = Tokenizer(models.BPE())
    # SmolLM2's pre-tokenizer: digits split one by one, then GPT-2 byte-level with its regex
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(TRAIN_TEXT * 4, trainer)
    return tok


def hf_to_gguf_name(n):
    fixed = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
             "lm_head.weight": "output.weight"}
    if n in fixed:
        return fixed[n]
    _, _, l, rest = n.split(".", 3)
    part = {"input_layernorm.weight": "attn_norm", "self_attn.q_proj.weight": "attn_q",
            "self_attn.k_proj.weight": "attn_k", "self_attn.v_proj.weight": "attn_v",
            "self_attn.o_proj.weight": "attn_output", "post_attention_layernorm.weight": "ffn_norm",
            "mlp.gate_proj.weight": "ffn_gate", "mlp.up_proj.weight": "ffn_up",
            "mlp.down_proj.weight": "ffn_down"}[rest]
    return f"blk.{l}.{part}.weight"


def permute(w, n_head):
    """llama.cpp convert_hf_to_gguf.py LlamaModel.permute: HF half-split rows -> interleaved."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def unpermute(w, n_head):
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def store(qtype, data):
    """(array to write, raw_dtype) for gguf.GGUFWriter.add_tensor, and the dequantized f32."""
    if qtype == Q.F32:
        return data.astype(np.float32), None, data.astype(np.float32)
    if qtype == Q.F16:
        h = data.astype(np.float16)
        return h, None, h.astype(np.float32)
    q = gguf.quants.quantize(data, qtype)
    return q, qtype, gguf.quants.dequantize(q, qtype).astype(np.float32).reshape(data.shape)


def logits_and_hidden(model, ids):
    with torch.no_grad():
        out = model(torch.tensor([ids]), output_hidden_states=True)
    return out.logits[0].float().numpy(), [h[0].float().numpy() for h in out.hidden_states]


def r(x, nd=6):
    return [round(float(v), nd) for v in np.asarray(x).reshape(-1)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--real", help="path of the real SmolLM2 GGUF, to dump dequantized values")
    args = ap.parse_args()
    versions = {"torch": torch.__version__, "transformers": transformers.__version__,
                "tokenizers": tokenizers.__version__, "gguf": "0.19.0", "numpy": np.__version__,
                "safetensors": safetensors.__version__, "seed": SEED}
    print(versions)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    hf_dir = os.path.join(OUT, "hf")
    os.makedirs(hf_dir, exist_ok=True)

    # 1. tokenizer (byte-level BPE, 3 specials + 256 bytes + merges = 320)
    tok = make_tokenizer()
    vocab = tok.get_vocab_size()
    tok.save(os.path.join(hf_dir, "tokenizer.json"))
    with open(os.path.join(hf_dir, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<|im_start|>",
                   "eos_token": "<|im_end|>", "unk_token": "<|endoftext|>", "pad_token": "<|im_end|>",
                   "model_max_length": 256, "add_prefix_space": False, "chat_template": CHAT_TEMPLATE,
                   "added_tokens_decoder": {str(i): {"content": s, "special": True, "lstrip": False,
                                                     "rstrip": False, "normalized": False, "single_word": False}
                                            for i, s in enumerate(SPECIALS)}}, f, indent=1)

    # 2. model: random weights with a scale that gives non-trivial logits
    cfg = transformers.LlamaConfig(
        vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5, rope_theta=ROPE_THETA,
        max_position_embeddings=256, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
        torch_dtype="float32")
    model = transformers.LlamaForCausalLM(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            else:
                p.copy_(0.15 * torch.randn_like(p))
    model.save_pretrained(hf_dir, safe_serialization=True)
    sd = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}

    # 3. the same weights as a llama.cpp-style GGUF
    w = gguf.GGUFWriter(os.path.join(OUT, "tiny.gguf"), "llama")
    w.add_name("glassbox tiny random llama")
    w.add_block_count(cfg.num_hidden_layers)
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_rope_freq_base(ROPE_THETA)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_vocab_size(vocab)
    w.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    w.add_file_type(3)
    tj = json.loads(tok.to_str())
    id_to_tok = {i: t for t, i in tj["model"]["vocab"].items()}
    for a in tj["added_tokens"]:
        id_to_tok[a["id"]] = a["content"]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list([id_to_tok[i] for i in range(vocab)])
    w.add_token_types([3 if i < len(SPECIALS) else 1 for i in range(vocab)])
    merges = tj["model"]["merges"]
    w.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in merges])
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_chat_template(CHAT_TEMPLATE)
    deq_hf = {}  # HF name -> dequantized weight in HF row order
    for name in sd:
        data = sd[name]
        g = hf_to_gguf_name(name)
        if g.endswith("attn_q.weight"):
            data = permute(data, cfg.num_attention_heads)
        elif g.endswith("attn_k.weight"):
            data = permute(data, cfg.num_key_value_heads)
        qtype = TYPES.get(g, Q.F32)
        arr, raw, deq = store(qtype, data)
        w.add_tensor(g, arr, raw_dtype=raw)
        if g.endswith("attn_q.weight"):
            deq = unpermute(deq, cfg.num_attention_heads)
        elif g.endswith("attn_k.weight"):
            deq = unpermute(deq, cfg.num_key_value_heads)
        deq_hf[name] = deq
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    # 4. a model with the GGUF's dequantized weights: the reference for the GGUF path
    gmodel = transformers.LlamaForCausalLM(cfg).eval()
    gmodel.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in deq_hf.items()})

    texts = ["Hello world!", "def add(a, b):\n    return a + b", "The jury said 12345 times"]
    seqs = [[1], tok.encode(texts[0]).ids, [1] + tok.encode(texts[2] + ". " + texts[0]).ids]
    ref = {"versions": versions, "config": {"vocab_size": vocab, "hidden_size": 64, "intermediate_size": 128,
                                            "num_hidden_layers": 2, "num_attention_heads": 4,
                                            "num_key_value_heads": 2, "rms_norm_eps": 1e-5,
                                            "rope_theta": 10000.0, "tie_word_embeddings": False},
           "tokenizer": [{"text": t, "ids": tok.encode(t).ids} for t in texts],
           "cases": []}
    for ids in seqs:
        case = {"ids": ids}
        for key, m in (("hf", model), ("gguf", gmodel)):
            logits, hidden = logits_and_hidden(m, ids)
            case[key] = {"logits": r(logits), "hidden_embedding": r(hidden[0]),
                         "hidden_layer0": r(hidden[1]), "hidden_final_norm": r(hidden[-1]),
                         "greedy_next": int(np.argmax(logits[-1]))}
        ref["cases"].append(case)
    ref["dequantized"] = {n: {"shape": list(deq_hf[n].shape), "values": r(deq_hf[n])}
                          for n in ["model.layers.0.self_attn.q_proj.weight", "model.layers.1.self_attn.k_proj.weight"]}
    ref["max_abs_quant_error"] = {n: float(np.abs(deq_hf[n] - sd[n]).max()) for n in sd}

    # 5. cross-check: transformers' own GGUF loader (dequantizes, un-permutes) on our file
    try:
        tm = transformers.AutoModelForCausalLM.from_pretrained(OUT, gguf_file="tiny.gguf").eval()
        lt, _ = logits_and_hidden(tm, seqs[2])
        lg, _ = logits_and_hidden(gmodel, seqs[2])
        ref["transformers_gguf_loader_max_diff"] = float(np.abs(lt - lg).max())
        print("transformers' GGUF loader vs dequantized weights: max |dlogit| =", ref["transformers_gguf_loader_max_diff"])
    except Exception as e:  # the loader may not know every type we mix in (BF16, Q4_0)
        ref["transformers_gguf_loader_max_diff"] = None
        print("transformers' GGUF loader could not read tiny.gguf:", repr(e)[:200])

    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(ref, f, separators=(",", ":"))

    # 6. the real model: first values of a few tensors dequantized by gguf.quants (GGUF row order)
    if args.real:
        rd = gguf.GGUFReader(args.real)
        dump = {"file": os.path.basename(args.real), "versions": versions, "tensors": {}}
        for t in rd.tensors:
            if t.name in ("token_embd.weight", "blk.0.attn_q.weight", "blk.0.ffn_down.weight", "output_norm.weight"):
                deq = gguf.quants.dequantize(t.data, t.tensor_type).reshape(-1, int(t.shape[0]))
                rows = [0, 1, deq.shape[0] - 1] if deq.shape[0] > 1 else [0]
                dump["tensors"][t.name] = {"type": t.tensor_type.name, "dims": [int(d) for d in t.shape],
                                           "rows": {str(i): r(deq[i][:64], 7) for i in rows}}
        with open(os.path.join(OUT, "smollm2_dequant.json"), "w") as f:
            json.dump(dump, f, indent=1)
    for fn in sorted(os.listdir(OUT)) + ["hf/" + x for x in sorted(os.listdir(hf_dir))]:
        p = os.path.join(OUT, fn)
        if os.path.isfile(p):
            print(f"{os.path.getsize(p):>9}  {fn}")


if __name__ == "__main__":
    sys.exit(main())
