#!/usr/bin/env python3
"""Reference outputs of Gemma 3 270M (the community Q4_K_M GGUF) from Hugging Face `transformers`.

Writes tests/fixtures/gemma/: prompts.json (per prompt: text, ids, top logits, a seeded sample of
other logits, logsumexp/mean/std of all 262,144, greedy continuation with the top-1/top-2 gap at
each step, per-layer hidden-state norms) and stages_L{0,5}.npy (every intermediate of one local
and one global layer at the last position of the longest prompt, with stages.json naming rows).

Run (from the repository root; the venvs have the pinned versions):

    /work/venv/bin/python scripts/fixtures_gemma.py ~/.cache/glassbox/gemma-3-270m-q4_k_m.gguf

Pinned versions (printed into meta.json): torch==2.15.0 (CPU) transformers==5.24.0 gguf==0.19.0
numpy==2.4.6; prompt ids from llama-cpp-python==0.3.36 (`LLAMACPP_PYTHON`, default
~/.cache/glassbox-peers/venv-llamacpp/bin/python), whose tokenizer glassbox must match.

How the reference is made (independent of glassbox and of transformers' own GGUF loader):
* The config is built from the GGUF metadata (gemma3.* keys) plus what Gemma 3 defines and the
  file does not store: the SWA pattern (every 6th layer global) and the local RoPE base 10000.
* Every tensor is dequantized to float32 by the `gguf` package and renamed to the Hugging Face
  name. llama.cpp's converter stores every norm weight as 1 + w (Gemma3RMSNorm multiplies by
  1 + w), so 1 is subtracted here; Gemma's Q/K rows are stored unpermuted (NEOX RoPE).
* Gemma3ForCausalLM runs in float32 with eager attention. A float64 copy runs one prompt to
  state how far float32 itself is from exact.
"""
import importlib.metadata as md
import json
import os
import subprocess
import sys

import numpy as np
import torch
import gguf
from transformers import Gemma3ForCausalLM, Gemma3TextConfig
import transformers.models.gemma3.modeling_gemma3 as gemma3_mod

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "gemma")
TOP_K = 32
SAMPLE = 512
GREEDY_STEPS = 32
STAGE_LAYERS = [0, 5]  # layer 0 is local (sliding window), layer 5 the first global one

PRINTING = (
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
    "book in one hand, had become ordinary for a growing part of the population. "
)
RIVERS = (
    "Rivers shape the land they cross. A young river in the mountains cuts a steep valley shaped "
    "like a V, carrying boulders and gravel that grind its bed deeper with every flood. Lower down, "
    "where the slope eases, the river drops the heaviest stones and begins to swing from side to "
    "side, eroding the outside of each bend and building sand bars on the inside. Over centuries "
    "these meanders wander across a wide, flat floodplain, and some are cut off to become quiet "
    "oxbow lakes. Near the sea the water slows almost to a stop, and the fine silt it has carried "
    "for hundreds of kilometres settles into a delta of shifting channels and marshes. "
)

CLOCKS = (
    "For most of history, people told the time by the sun. A stick in the ground, and later a "
    "carefully cut sundial, showed the hour by the direction of its shadow, but only on clear days "
    "and never at night. Water clocks, which let water drip from one vessel into another at a "
    "steady rate, worked in the dark and were used in Egypt, Babylon, Greece and China; the most "
    "elaborate of them struck gongs and moved little figures. Candles marked with rings and sand "
    "glasses measured shorter spans. The first mechanical clocks appeared in European monasteries "
    "and town towers around 1300. A heavy weight hung from a rope wound around a drum, and an "
    "escapement, a toothed wheel caught and released by a rocking bar, let the drum turn one tooth "
    "at a time. These clocks often lost a quarter of an hour a day and had no minute hand. In 1656 "
    "Christiaan Huygens built a clock regulated by a pendulum, whose swing takes almost the same "
    "time however wide it is, and the error fell to less than a minute a day. Sailors needed even "
    "better: to find their longitude at sea they had to know the time at their home port, and a "
    "pendulum is useless on a rolling deck. John Harrison spent most of his life building spring "
    "driven marine chronometers, and his fourth, tested on a voyage to Jamaica in 1761, lost only "
    "a few seconds in more than two months. Railways later forced whole countries onto a single "
    "standard time, and quartz crystals and atomic clocks have since made the second itself more "
    "precise than any human sense can notice. "
)

PROMPTS = [
    ("capital", "The capital of France is"),
    ("code", "def fibonacci(n):\n    if n < 2:\n        return n\n    return"),
    ("numbers", "Question: what is 12345 + 67890?\nAnswer: 12345 + 67890 ="),
    ("non_latin", "भारत की राजधानी नई दिल्ली है। 中国的首都是北京，日本的首都是"),
    ("chat", "<start_of_turn>user\nWhat is the capital of France?<end_of_turn>\n<start_of_turn>model\n"),
    ("emoji", "My favourite animals are 🦀, 🐍 and"),
    ("whitespace", "Columns:\n\tname\t\tvalue\n\talpha\t\t1\n\tbeta\t\t"),
    ("html", "<table><tr><td>Paris</td><td>France</td></tr><tr><td>Rome</td><td>"),
    ("story", "Once upon a time, in a small village by the sea, there lived an old fisherman who"),
    ("list", "Three primary colours are red, yellow and"),
    # longer than the 512-token window: local and global layers see different contexts; the
    # longest also passes window − 1 + 512 positions, where a local layer's ring cache wraps
    # inside glassbox's default session (512-token prefill chunks)
    ("long_600", PRINTING + CLOCKS + "In the end, the most important consequence of the press may have been"),
    ("long_1100", PRINTING + RIVERS + CLOCKS + PRINTING + "Rivers, clocks and printing presses all"),
]


def llamacpp_ids(path, texts):
    """Prompt ids from llama.cpp's tokenizer (add_bos as the file says, special tokens parsed)."""
    py = os.environ.get(
        "LLAMACPP_PYTHON", os.path.expanduser("~/.cache/glassbox-peers/venv-llamacpp/bin/python")
    )
    code = (
        "import json,sys,llama_cpp\n"
        "m=llama_cpp.Llama(model_path=sys.argv[1],vocab_only=True,verbose=False)\n"
        "t=json.load(sys.stdin)\n"
        "print(json.dumps([m.tokenize(x.encode(),add_bos=True,special=True) for x in t]))\n"
        "print(llama_cpp.__version__)\n"
    )
    r = subprocess.run([py, "-c", code, path], input=json.dumps(texts), capture_output=True,
                       text=True, check=True)
    lines = r.stdout.strip().splitlines()
    return json.loads(lines[0]), lines[1]


def config_from_gguf(r):
    f = lambda k: r.fields[k].contents()
    n_layers = int(f("gemma3.block_count"))
    pattern = 6  # not stored in the file; Gemma 3's definition (llama.cpp sets the same)
    layer_types = ["full_attention" if (i + 1) % pattern == 0 else "sliding_attention"
                   for i in range(n_layers)]
    head_dim = int(f("gemma3.attention.key_length"))
    return Gemma3TextConfig(
        vocab_size=len(r.fields["tokenizer.ggml.tokens"].data),
        hidden_size=int(f("gemma3.embedding_length")),
        intermediate_size=int(f("gemma3.feed_forward_length")),
        num_hidden_layers=n_layers,
        num_attention_heads=int(f("gemma3.attention.head_count")),
        num_key_value_heads=int(f("gemma3.attention.head_count_kv")),
        head_dim=head_dim,
        query_pre_attn_scalar=head_dim,
        rms_norm_eps=float(f("gemma3.attention.layer_norm_rms_epsilon")),
        max_position_embeddings=int(f("gemma3.context_length")),
        sliding_window=int(f("gemma3.attention.sliding_window")),
        layer_types=layer_types,
        rope_parameters={
            "full_attention": {"rope_type": "default", "rope_theta": float(f("gemma3.rope.freq_base"))},
            "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
        },
        hidden_activation="gelu_pytorch_tanh",
        final_logit_softcapping=None,
        attn_logit_softcapping=None,
        tie_word_embeddings=True,
        bos_token_id=int(f("tokenizer.ggml.bos_token_id")),
        eos_token_id=int(f("tokenizer.ggml.eos_token_id")),
        pad_token_id=int(f("tokenizer.ggml.padding_token_id")),
        attn_implementation="eager",
    )


LAYER_NAMES = {
    "attn_norm": "input_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "attn_q_norm": "self_attn.q_norm",
    "attn_k_norm": "self_attn.k_norm",
    "post_attention_norm": "post_attention_layernorm",
    "ffn_norm": "pre_feedforward_layernorm",
    "post_ffw_norm": "post_feedforward_layernorm",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}


def state_dict_from_gguf(r):
    sd = {}
    for t in r.tensors:
        w = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        w = w.reshape([int(x) for x in reversed(t.shape)]) if w.ndim > 1 else w.reshape(-1)
        if t.name == "token_embd.weight":
            name = "model.embed_tokens.weight"
        elif t.name == "output_norm.weight":
            name = "model.norm.weight"
        else:
            _, n, part, _ = t.name.split(".")
            name = "model.layers.%s.%s.weight" % (n, LAYER_NAMES[part])
        if name.endswith("norm.weight"):
            w = w - 1.0  # the GGUF holds 1 + w; Gemma3RMSNorm multiplies by 1 + w
        sd[name] = torch.from_numpy(np.ascontiguousarray(w))
    sd["lm_head.weight"] = sd["model.embed_tokens.weight"]
    return sd


def build(config, sd, dtype):
    torch.manual_seed(0)
    m = Gemma3ForCausalLM(config)
    missing, unexpected = m.load_state_dict(sd, strict=False)
    assert not unexpected, unexpected
    assert all("embed_scale" in k or k == "lm_head.weight" for k in missing), missing
    m = m.to(dtype).eval()
    assert abs(float(m.model.embed_tokens.embed_scale) - config.hidden_size ** 0.5) < 1e-3
    return m


@torch.no_grad()
def logits_and_hidden(m, ids):
    out = m(torch.tensor([ids]), output_hidden_states=True, use_cache=False, logits_to_keep=1)
    return out.logits[0, -1].float().numpy(), [h[0, -1].float().numpy() for h in out.hidden_states]


@torch.no_grad()
def greedy(m, ids, steps):
    """Argmax continuation with transformers' own KV-cache (its sliding-window cache for the
    local layers), the top-1/top-2 gap recorded at each step."""
    out, gaps = [], []
    o = m(torch.tensor([ids]), use_cache=True, logits_to_keep=1)
    for _ in range(steps):
        top2 = torch.topk(o.logits[0, -1], 2)
        nxt = int(top2.indices[0])
        out.append(nxt)
        gaps.append(float(top2.values[0] - top2.values[1]))
        o = m(torch.tensor([[nxt]]), past_key_values=o.past_key_values, use_cache=True)
    return out, gaps


@torch.no_grad()
def stages(m, ids, layer):
    """Every intermediate of `layer` at the last position, in forward order."""
    rec = {}
    last = lambda t: t.reshape(t.shape[0], t.shape[1], -1)[0, -1].float().numpy().copy()
    L = m.model.layers[layer]
    hooks = []

    def out_hook(name):
        def h(_mod, _inp, out):
            o = out[0] if isinstance(out, tuple) else out
            if name in ("q_norm", "k_norm"):  # [1, heads, seq, hd] → last position, all heads
                rec[name] = o[0, :, -1, :].reshape(-1).float().numpy().copy()
            else:
                rec[name] = last(o)
        return h

    def in_hook(name):
        def h(_mod, args, kwargs=None):
            x = args[0] if args else kwargs["hidden_states"]
            rec[name] = last(x)
        return h

    hooks.append(L.register_forward_pre_hook(lambda mod, a, k: in_hook("layer_in")(mod, a, k),
                                             with_kwargs=True))
    for name, mod in [("attn_norm", L.input_layernorm), ("q", L.self_attn.q_proj),
                      ("k", L.self_attn.k_proj), ("v", L.self_attn.v_proj),
                      ("q_norm", L.self_attn.q_norm), ("k_norm", L.self_attn.k_norm),
                      ("o_proj", L.self_attn.o_proj),
                      ("post_attention_norm", L.post_attention_layernorm),
                      ("ffn_norm", L.pre_feedforward_layernorm), ("gate", L.mlp.gate_proj),
                      ("up", L.mlp.up_proj), ("down", L.mlp.down_proj),
                      ("post_ffw_norm", L.post_feedforward_layernorm), ("out", L)]:
        hooks.append(mod.register_forward_hook(out_hook(name)))
    hooks.append(L.self_attn.o_proj.register_forward_pre_hook(
        lambda mod, a: rec.__setitem__("attention", last(a[0]))))
    hooks.append(L.mlp.down_proj.register_forward_pre_hook(
        lambda mod, a: rec.__setitem__("act_up", last(a[0]))))
    orig = gemma3_mod.apply_rotary_pos_emb
    calls = []

    def rope_spy(q, k, cos, sin, unsqueeze_dim=1):
        qe, ke = orig(q, k, cos, sin, unsqueeze_dim)
        calls.append((qe[0, :, -1, :].reshape(-1).float().numpy().copy(),
                      ke[0, :, -1, :].reshape(-1).float().numpy().copy()))
        return qe, ke

    gemma3_mod.apply_rotary_pos_emb = rope_spy
    try:
        m(torch.tensor([ids]), use_cache=False, logits_to_keep=1)
    finally:
        gemma3_mod.apply_rotary_pos_emb = orig
        for h in hooks:
            h.remove()
    rec["q_rope"], rec["k_rope"] = calls[layer]
    rec["residual_mid"] = rec["layer_in"] + rec["post_attention_norm"]
    order = ["layer_in", "attn_norm", "q", "k", "v", "q_norm", "k_norm", "q_rope", "k_rope",
             "attention", "o_proj", "post_attention_norm", "residual_mid", "ffn_norm", "gate",
             "up", "act_up", "down", "post_ffw_norm", "out"]
    return [(n, rec[n]) for n in order]


def main():
    path = sys.argv[1]
    r = gguf.GGUFReader(path)
    config = config_from_gguf(r)
    sd = state_dict_from_gguf(r)
    m32 = build(config, sd, torch.float32)
    texts = [t for _, t in PROMPTS]
    all_ids, llamacpp_version = llamacpp_ids(path, texts)
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(15)
    prompts = []
    for (name, text), ids in zip(PROMPTS, all_ids):
        logits, hidden = logits_and_hidden(m32, ids)
        order = np.argsort(-logits, kind="stable")
        top = [[int(i), float(logits[i])] for i in order[:TOP_K]]
        sample_ids = sorted(int(i) for i in rng.choice(len(logits), SAMPLE, replace=False))
        g, gaps = greedy(m32, ids, GREEDY_STEPS)
        l64 = logits.astype(np.float64)
        lse = float(np.log(np.exp(l64 - l64.max()).sum()) + l64.max())
        prompts.append({
            "name": name, "text": text, "ids": ids, "top": top,
            "sample": [[i, float(logits[i])] for i in sample_ids],
            "logsumexp": lse, "mean": float(l64.mean()), "std": float(l64.std()),
            "hidden_norms_last": [float(np.linalg.norm(h)) for h in hidden],
            "greedy": {"ids": g, "gaps": gaps},
        })
        print("%-10s %4d tokens  top-1 %d (%.3f)  greedy %s" % (name, len(ids), top[0][0], top[0][1], g[:8]))
    longest = max(prompts, key=lambda p: len(p["ids"]))
    stage_names = {}
    for layer in STAGE_LAYERS:
        st = stages(m32, longest["ids"], layer)
        np.save(os.path.join(OUT, "stages_L%d.npy" % layer),
                np.concatenate([v for _, v in st]).astype("<f4"))
        stage_names["L%d" % layer] = [[n, int(v.size)] for n, v in st]
    with open(os.path.join(OUT, "stages.json"), "w") as f:
        json.dump({"prompt": longest["name"], "layers": STAGE_LAYERS, "stages": stage_names}, f, indent=1)

    # how far float32 is from float64 (one prompt), to put the tolerance in perspective
    m64 = build(config, sd, torch.float64)
    cap = next(p for p in prompts if p["name"] == "capital")
    l64, _ = logits_and_hidden(m64, cap["ids"])
    l32, _ = logits_and_hidden(m32, cap["ids"])
    f32_vs_f64 = float(np.abs(l64 - l32).max())

    with open(os.path.join(OUT, "prompts.json"), "w") as f:
        json.dump({"prompts": prompts}, f, ensure_ascii=False)
    versions = {k: md.version(k) for k in ["torch", "transformers", "gguf", "numpy"]}
    versions["python"] = sys.version.split()[0]
    versions["llama-cpp-python"] = llamacpp_version
    meta = {
        "model": os.path.basename(path),
        "versions": versions,
        "dtype": "float32 activations, eager attention, weights dequantized to float32 by gguf",
        "config": config.to_dict() | {"layer_types": config.layer_types},
        "top_k": TOP_K, "sample": SAMPLE, "greedy_steps": GREEDY_STEPS,
        "logit_max_abs_diff_f32_vs_f64": f32_vs_f64,
    }
    with open(os.path.join(OUT, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1, default=str)
    print("f32 vs f64 max |Δlogit| =", f32_vs_f64)


if __name__ == "__main__":
    main()
