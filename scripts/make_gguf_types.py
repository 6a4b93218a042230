#!/usr/bin/env python3
"""SmolLM2-135M-Instruct as Q8_0, F16 and F32 GGUF files, for the decode race (issue 10).

The only SmolLM2 weights on this machine are the default Q4_1 GGUF. `glassbox convert` turns it
into a Hugging Face directory (f32 safetensors, the dequantized values, Hugging Face names and
row order); this script writes that directory back as GGUF with another storage type, the way
llama.cpp's `convert_hf_to_gguf.py --outtype` and `llama-quantize` lay a file out:

    F32   every tensor f32                                  general.file_type = 0 (ALL_F32)
    F16   2-D weights f16, norm vectors f32                 general.file_type = 1 (MOSTLY_F16)
    Q8_0  2-D weights Q8_0 (gguf.quants, ggml's reference
          quantizer), norm vectors f32                      general.file_type = 7 (MOSTLY_Q8_0)

Names go back to llama.cpp's (`blk.N.attn_q.weight`, ...), and the rows of Q and K back to
llama.cpp's order inside each head (HF row j·hd/2 + i is GGUF row 2i + j: the permutation
`convert_hf_to_gguf.py` applies, `reshape(heads, 2, hd/2, d).swapaxes(1, 2)`). The metadata
(architecture, tokenizer, chat template) is copied from the source GGUF, with `general.file_type`
set to the new type. Tensors are written in the source file's order.

Check, before any file is kept: every tensor of the F32 output is compared with the gguf
package's own dequantization of the source tensor (`gguf.quants.dequantize`, independent of
glassbox) and must be equal bit for bit; that proves the names, the shapes and the Q/K row
order made the round trip. For F16/Q8_0 the error against the f32 values is printed.

Files are written to a temporary name in the output directory, fsynced and renamed. They are
~540 MB (F32), ~270 MB (F16) and ~145 MB (Q8_0) and never go into git.

Usage (from the repository root):

    cargo build --release
    /work/venv/bin/python scripts/make_gguf_types.py [--types q8_0,f16,f32] [--src Q4_1.gguf] [--out DIR]

Defaults: the source is the default model in the data dir ($GLASSBOX_DATA, else
~/.cache/glassbox), outputs go next to it as SmolLM2-135M-Instruct.{Q8_0,F16,F32}.gguf, and the
HF directory is made with `target/release/glassbox convert` in a temporary directory.
Pinned: gguf==0.19.0, numpy==2.4.6, safetensors==0.8.0 (the reference venv).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import gguf
from gguf import GGMLQuantizationType as QT
from safetensors.numpy import load_file

DATA = os.environ.get("GLASSBOX_DATA") or os.path.expanduser("~/.cache/glassbox")
STEM = "SmolLM2-135M-Instruct"
TYPES = {  # name → (tensor type of 2-D weights, general.file_type)
    "f32": (QT.F32, gguf.LlamaFileType.ALL_F32),
    "f16": (QT.F16, gguf.LlamaFileType.MOSTLY_F16),
    "q8_0": (QT.Q8_0, gguf.LlamaFileType.MOSTLY_Q8_0),
}
HF_OF_GGUF = {  # GGUF layer tensor → Hugging Face name (the table in src/weights/model_files.rs)
    "attn_norm": "input_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_norm": "post_attention_layernorm",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}


def hf_name(gguf_name: str) -> str:
    fixed = {"token_embd.weight": "model.embed_tokens.weight",
             "output_norm.weight": "model.norm.weight",
             "output.weight": "lm_head.weight"}
    if gguf_name in fixed:
        return fixed[gguf_name]
    _, n, part, _ = gguf_name.split(".")
    return f"model.layers.{n}.{HF_OF_GGUF[part]}.weight"


def to_gguf_rows(w: np.ndarray, heads: int) -> np.ndarray:
    """Q/K rows from Hugging Face order (pairs (i, i + hd/2)) to llama.cpp's (pairs (2i, 2i+1))."""
    rows, d = w.shape
    hd = rows // heads
    return w.reshape(heads, 2, hd // 2, d).swapaxes(1, 2).reshape(rows, d)


def field_value(field):
    return field.contents()


def convert(src: str, hf_dir: str, kind: str, out_path: str) -> None:
    qtype, ftype = TYPES[kind]
    reader = gguf.GGUFReader(src)
    heads = int(field_value(reader.fields["llama.attention.head_count"]))
    kv_heads = int(field_value(reader.fields["llama.attention.head_count_kv"]))
    weights = load_file(os.path.join(hf_dir, "model.safetensors"))

    tmp = out_path + f".tmp{os.getpid()}"
    writer = gguf.GGUFWriter(tmp, field_value(reader.fields["general.architecture"]))
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name == "general.architecture":
            continue  # written by GGUFWriter itself
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        value = int(ftype) if field.name == "general.file_type" else field_value(field)
        writer.add_key_value(field.name, value, vtype, sub_type=sub)

    worst = 0.0
    for t in reader.tensors:
        name = t.name
        hf = hf_name(name)
        if hf == "lm_head.weight" and hf not in weights:
            hf = "model.embed_tokens.weight"  # tied
        w = np.ascontiguousarray(weights[hf], dtype=np.float32)
        if ".attn_q." in name:
            w = to_gguf_rows(w, heads)
        elif ".attn_k." in name:
            w = to_gguf_rows(w, kv_heads)
        # the independent check: gguf's own dequantization of the source tensor
        ref = gguf.quants.dequantize(t.data, t.tensor_type).reshape(w.shape).astype(np.float32)
        if not np.array_equal(ref, w):
            bad = np.argwhere(ref != w)[0]
            sys.exit(f"{name}: the HF directory's value at {tuple(bad)} is {w[tuple(bad)]}, "
                     f"the source GGUF's is {ref[tuple(bad)]}: wrong name, shape or row order")
        if w.ndim == 1 or qtype == QT.F32:
            writer.add_tensor(name, w)  # norm vectors stay f32, as llama.cpp keeps them
            continue
        if qtype == QT.F16:
            stored = w.astype(np.float16)
            back = stored.astype(np.float32)
            writer.add_tensor(name, stored)
        else:
            stored = gguf.quants.quantize(w, qtype)
            back = gguf.quants.dequantize(stored, qtype).reshape(w.shape)
            writer.add_tensor(name, stored, raw_dtype=qtype)
        worst = max(worst, float(np.max(np.abs(back - w))))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, out_path)
    size = os.path.getsize(out_path)
    print(f"{out_path}: {size / 1e6:.1f} MB, {len(reader.tensors)} tensors, "
          f"max |stored − f32| = {worst:.3g}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=os.path.join(DATA, f"{STEM}.Q4_1.gguf"))
    ap.add_argument("--hf-dir", help="a `glassbox convert --dtype f32` directory of SRC (default: made now)")
    ap.add_argument("--out", default=DATA, help="directory for the new files")
    ap.add_argument("--types", default="q8_0,f16,f32")
    ap.add_argument("--glassbox", default="target/release/glassbox")
    ap.add_argument("--force", action="store_true", help="rewrite files that already exist")
    args = ap.parse_args()
    kinds = [k.strip().lower() for k in args.types.split(",") if k.strip()]
    for k in kinds:
        if k not in TYPES:
            sys.exit(f"--types: unknown type `{k}` (choose from {', '.join(TYPES)})")
    if not os.path.isfile(args.src):
        sys.exit(f"{args.src}: no such file (run `glassbox pull` first)")
    todo = [(k, os.path.join(args.out, f"{STEM}.{TYPES[k][0].name}.gguf")) for k in kinds]
    todo = [(k, p) for k, p in todo if args.force or not os.path.exists(p)]
    if not todo:
        print("all files exist (use --force to rewrite)")
        return
    hf_dir, made = args.hf_dir, None
    if hf_dir is None:
        if not os.access(args.glassbox, os.X_OK):
            sys.exit(f"{args.glassbox}: not built (run `cargo build --release`, or pass --glassbox)")
        made = hf_dir = tempfile.mkdtemp(prefix="glassbox-hf-", dir=args.out)
        subprocess.run([args.glassbox, "convert", args.src, "--out", hf_dir, "--dtype", "f32"], check=True)
    try:
        for k, p in todo:
            convert(args.src, hf_dir, k, p)
    finally:
        if made:
            shutil.rmtree(made, ignore_errors=True)


if __name__ == "__main__":
    main()
