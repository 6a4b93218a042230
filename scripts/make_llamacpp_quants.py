#!/usr/bin/env python3
"""SmolLM2-135M-Instruct re-quantized by llama.cpp itself, for glassbox's comparisons.

Runs `llama_model_quantize` (the library behind `llama-quantize`) from llama-cpp-python
0.3.36 on the default model (GGUF Q4_1; `allow_requantize`, so llama.cpp decodes it to f32
first, exactly as from an f32 file: checked, the outputs are byte-identical) into OUT_DIR:

    smollm2-llamacpp-{F32,F16,BF16,Q8_0,Q6_K,Q5_K_M,Q5_1,Q5_0,Q4_K_M,Q4_1,Q4_0,Q3_K_M,Q2_K}.gguf
    smollm2-llamacpp-Q2_K-pure.gguf     (--pure: one type everywhere)

These files are never committed. scripts/fixtures_quant_model.py hashes their tensors and runs
transformers on some of them; lessons/14_quant_table.rs measures them.

Run with the llama.cpp venv (see ../shared/bench/vs-llamacpp.sh for how it is built):

    ~/.cache/glassbox-peers/venv-llamacpp/bin/python scripts/make_llamacpp_quants.py \
        ~/.cache/glassbox/SmolLM2-135M-Instruct.Q4_1.gguf OUT_DIR [NAME ...]
"""
import os
import sys

import llama_cpp

# llama_ftype ids (llama.h)
FTYPES = {"F32": 0, "F16": 1, "BF16": 32, "Q8_0": 7, "Q6_K": 18, "Q5_K_M": 17, "Q5_1": 9,
          "Q5_0": 8, "Q4_K_M": 15, "Q4_1": 3, "Q4_0": 2, "Q3_K_M": 12, "Q2_K": 10, "Q2_K-pure": 10}


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    src, out_dir = sys.argv[1], sys.argv[2]
    names = sys.argv[3:] or list(FTYPES)
    os.makedirs(out_dir, exist_ok=True)
    for name in names:
        out = os.path.join(out_dir, f"smollm2-llamacpp-{name}.gguf")
        if os.path.exists(out):
            print(f"{out}: exists")
            continue
        p = llama_cpp.llama_model_quantize_default_params()
        p.ftype = FTYPES[name]
        p.nthread = os.cpu_count() or 2
        p.allow_requantize = True
        p.pure = name.endswith("-pure")
        rc = llama_cpp.llama_model_quantize(src.encode(), (out + ".part").encode(), p)
        if rc != 0:
            sys.exit(f"llama_model_quantize {name}: error {rc}")
        os.rename(out + ".part", out)
        print(f"{out}: {os.path.getsize(out)} bytes")


if __name__ == "__main__":
    main()
