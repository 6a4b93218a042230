#!/usr/bin/env python3
"""Reference fixtures for glassbox's block formats (tests/fixtures/quant/), from the `gguf` package.

Run from the repository root (writes the same bytes every time: fixed seed):

    /work/venv/bin/python scripts/fixtures_quant.py

Pinned: gguf==0.19.0 (its `gguf/quants.py` holds numpy dequantizers for every type below and
numpy quantizers for the 32-element types), numpy==2.4.6. Printed into manifest.json.

Files (all little-endian, raw, no header; shapes in manifest.json):

  {type}.blocks       blocks of that type: random bytes with chosen f16 scales (0, subnormal,
                      ±65504, ordinary), blocks whose every byte is one value (all-equal quants),
                      a ramp of bytes (every quant value appears)
  {type}.f32          gguf's dequantization of {type}.blocks, float32
  rows.f32            [ROWS, 256] float32 inputs for the quantizers: random rows at scales
                      1e-30 … 1e30, all-equal rows, zeros, a ramp through every quant value, an outlier
  {type}.gguf_quant   gguf's quantization of rows.f32 (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 only: gguf
                      0.19.0 has no K-quant quantizer; those come from llama.cpp itself, see
                      scripts/fixtures_quant_llamacpp.py)

glassbox must dequantize {type}.blocks to exactly {type}.f32 (bit for bit) and quantize
rows.f32 to exactly {type}.gguf_quant.
"""
import hashlib
import json
import os
import sys
import importlib.metadata as md

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants
from gguf.constants import GGML_QUANT_SIZES

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "quant")
SEED = 14
ROW = 256

# type → byte offsets of its f16 scale fields (d, and dmin / m where the type has one)
F16_FIELDS = {
    "Q8_0": [0],
    "Q4_0": [0],
    "Q4_1": [0, 2],
    "Q5_0": [0],
    "Q5_1": [0, 2],
    "Q2_K": [80, 82],
    "Q3_K": [108],
    "Q4_K": [0, 2],
    "Q5_K": [0, 2],
    "Q6_K": [208],
}
QUANTIZED_BY_GGUF = ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"]

# f16 scales worth trying: zero, the smallest subnormal, tiny, ordinary, the largest finite
SPECIAL_F16 = [0.0, 5.96e-8, -6.1e-5, 1.0, -0.37, 0.0123, 65504.0, -65504.0]


def make_blocks(name, rng):
    block, size = GGML_QUANT_SIZES[T[name]]
    n_random = 48 if block == 32 else 24
    blocks = rng.integers(0, 256, size=(n_random, size), dtype=np.uint8)
    # the scales: special values first, then random ordinary ones
    for i in range(n_random):
        for k, off in enumerate(F16_FIELDS[name]):
            if i < len(SPECIAL_F16):
                v = SPECIAL_F16[(i + 3 * k) % len(SPECIAL_F16)]
            else:
                v = float(rng.normal()) * 10.0 ** float(rng.integers(-3, 3))
            blocks[i, off:off + 2] = np.frombuffer(np.float16(v).tobytes(), dtype=np.uint8)
    extra = []
    # every byte one value (all-equal quants; the scale fields too, then fixed to 1.0 / -0.5)
    for byte in (0x00, 0xFF, 0x55, 0xAA, 0x0F, 0xF0, 0x33, 0xCC):
        b = np.full(size, byte, dtype=np.uint8)
        for k, off in enumerate(F16_FIELDS[name]):
            b[off:off + 2] = np.frombuffer(np.float16(1.0 if k == 0 else -0.5).tobytes(), dtype=np.uint8)
        extra.append(b)
    # a ramp: byte i = 7·i + 3 (mod 256): every 2-, 4- and 6-bit field takes every value
    b = ((np.arange(size) * 7 + 3) % 256).astype(np.uint8)
    for k, off in enumerate(F16_FIELDS[name]):
        b[off:off + 2] = np.frombuffer(np.float16(0.25 if k == 0 else 1.5).tobytes(), dtype=np.uint8)
    extra.append(b)
    return np.concatenate([blocks, np.stack(extra)], axis=0)


def make_rows(rng):
    rows = []
    for scale in (1e-30, 1e-7, 1e-3, 1.0, 37.0, 1e4, 1e30):
        rows.append(rng.normal(size=ROW) * scale)
    rows.append(np.full(ROW, 0.7))          # all equal, positive
    rows.append(np.full(ROW, -3.0))         # all equal, negative
    rows.append(np.zeros(ROW))              # zeros
    rows.append(np.linspace(-1.0, 1.0, ROW))  # a ramp: every quant value of every type
    r = rng.normal(size=ROW) * 0.02
    r[77] = 9.0                             # one outlier, as real weight rows have
    rows.append(r)
    r = rng.standard_t(df=3, size=ROW)      # heavy tails
    rows.append(r)
    r = np.abs(rng.normal(size=ROW))        # all positive (the min is not below zero)
    rows.append(r)
    return np.stack(rows).astype(np.float32)


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(SEED)
    manifest = {
        "made_by": "scripts/fixtures_quant.py",
        "seed": SEED,
        "versions": {p: md.version(p) for p in ("gguf", "numpy")} | {"python": sys.version.split()[0]},
        "types": {},
    }
    rows = make_rows(rng)
    rows.tofile(os.path.join(OUT, "rows.f32"))
    manifest["rows"] = {"file": "rows.f32", "shape": list(rows.shape), "sha256": sha(os.path.join(OUT, "rows.f32"))}
    for name in F16_FIELDS:
        qt = T[name]
        block, size = GGML_QUANT_SIZES[qt]
        blocks = make_blocks(name, rng)
        deq = quants.dequantize(blocks.reshape(-1), qt).astype(np.float32)
        assert deq.size == blocks.shape[0] * block
        assert np.isfinite(deq).all(), name
        bp, fp = (os.path.join(OUT, f"{name.lower()}.{ext}") for ext in ("blocks", "f32"))
        blocks.tofile(bp)
        deq.tofile(fp)
        entry = {"block": block, "bytes_per_block": size, "n_blocks": int(blocks.shape[0]),
                 "blocks_sha256": sha(bp), "f32_sha256": sha(fp)}
        if name in QUANTIZED_BY_GGUF:
            with np.errstate(all="ignore"):  # the 1e30 row overflows f16 scales to inf, as in C
                q = quants.quantize(rows, qt)
            qp = os.path.join(OUT, f"{name.lower()}.gguf_quant")
            q.tofile(qp)
            entry["gguf_quant_sha256"] = sha(qp)
        manifest["types"][name] = entry
        print(f"{name}: {blocks.shape[0]} blocks of {size} B, dequantized range "
              f"[{deq.min():.3g}, {deq.max():.3g}]" + ("  + quantized rows" if name in QUANTIZED_BY_GGUF else ""))
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
