#!/usr/bin/env python3
"""llama.cpp's own quantizers on the rows of tests/fixtures/quant/rows.f32 (and more rows).

gguf 0.19.0 has no K-quant quantizer, so the reference for glassbox's Q2_K … Q6_K quantizers
is llama.cpp itself: `ggml_quantize_chunk` from the libggml-base.so that llama-cpp-python
builds, called through ctypes with no importance matrix (what `llama-quantize` does without
--imatrix: the `quantize_row_*_ref` functions).

Run from the repository root, after scripts/fixtures_quant.py, with the llama.cpp venv
(llama-cpp-python==0.3.36 built from source, see ../shared/bench/vs-llamacpp.sh):

    ~/.cache/glassbox-peers/venv-llamacpp/bin/python scripts/fixtures_quant_llamacpp.py

Writes tests/fixtures/quant/:
  weights.f32            [64, 512] float32: weight-like rows (normal, σ = 0.02, a few outliers,
                         some rows with a shifted mean), seed 15
  {type}.llamacpp        llama.cpp's quantization of rows.f32 followed by weights.f32
and adds the llama.cpp version to manifest.json.
"""
import ctypes
import glob
import hashlib
import json
import os

import numpy as np
import llama_cpp

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "quant")
TYPES = {"Q8_0": 8, "Q4_0": 2, "Q4_1": 3, "Q5_0": 6, "Q5_1": 7,
         "Q2_K": 10, "Q3_K": 11, "Q4_K": 12, "Q5_K": 13, "Q6_K": 14}


def weight_rows(rng):
    w = rng.normal(size=(64, 512)) * 0.02
    for r in range(64):  # a few outliers per row, as real weight rows have
        idx = rng.integers(0, 512, size=3)
        w[r, idx] *= rng.uniform(5, 30, size=3)
    w[::7] += 0.01  # some rows with a shifted mean (the min matters)
    return w.astype(np.float32)


def main():
    libdir = os.path.join(os.path.dirname(llama_cpp.__file__), "lib")
    ggml = ctypes.CDLL(glob.glob(os.path.join(libdir, "libggml-base.so"))[0])
    ggml.ggml_quantize_chunk.restype = ctypes.c_size_t
    ggml.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                                         ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    ggml.ggml_row_size.restype = ctypes.c_size_t
    ggml.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
    ggml.ggml_quantize_init.argtypes = [ctypes.c_int]

    rows = np.fromfile(os.path.join(OUT, "rows.f32"), dtype="<f4").reshape(-1, 256)
    w = weight_rows(np.random.default_rng(15))
    w.tofile(os.path.join(OUT, "weights.f32"))
    with open(os.path.join(OUT, "manifest.json")) as f:
        manifest = json.load(f)
    manifest["llamacpp"] = {"made_by": "scripts/fixtures_quant_llamacpp.py",
                            "llama_cpp_python": llama_cpp.__version__,
                            "weights": {"file": "weights.f32", "shape": list(w.shape), "seed": 15},
                            "files": {}}
    for name, tid in TYPES.items():
        ggml.ggml_quantize_init(tid)
        out = bytearray()
        for src in (rows, w):
            src = np.ascontiguousarray(src)
            n_rows, n_per_row = src.shape
            buf = ctypes.create_string_buffer(ggml.ggml_row_size(tid, n_per_row) * n_rows)
            size = ggml.ggml_quantize_chunk(tid, src.ctypes.data, buf, 0, n_rows, n_per_row, None)
            out += buf.raw[:size]
        path = os.path.join(OUT, f"{name.lower()}.llamacpp")
        with open(path, "wb") as f:
            f.write(out)
        manifest["llamacpp"]["files"][name] = hashlib.sha256(out).hexdigest()
        print(f"{name}: {len(out)} bytes")
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
