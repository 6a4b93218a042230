//! Stage 3 · quant: Q8_0, eight bits per weight and one scale per block of 32.
//!
//! ```text
//! Q8_0  block of 32 elements, 34 B:        x[i] = d · q[i]
//!       ┌──────┬───────────────────────────────┐
//!       │ d f16│ q[0] q[1] … q[31]   (int8)     │
//!       └──────┴───────────────────────────────┘
//! ```
//!
//! Reference: ggml's `ggml-common.h` (`block_q8_0`), `quantize_row_q8_0_ref` in `ggml-quants.c`.

use half::f16;
use wide::f32x8;

use super::{f16_at, simd, DType, QK};
use crate::matmul::load8;

/// Where the 32 quants start in a block: after the scale `d` (f16).
const QS: usize = 2;

/// Bytes of one block (34, from the ggml type table).
fn block_bytes() -> usize {
    DType::Q8_0.bytes_per_block()
}

/// Decode a Q8_0 row into `out`.
pub fn dequantize(row: &[u8], out: &mut [f32]) {
    for (o, blk) in out
        .chunks_exact_mut(QK)
        .zip(row.chunks_exact(block_bytes()))
    {
        let d = f16_at(blk, 0);
        for i in 0..QK {
            o[i] = d * (blk[QS + i] as i8) as f32; // x = d · q
        }
    }
}

/// Dot product of a Q8_0 row with `x`: each block decoded into four f32x8 registers.
pub fn dot_row(row: &[u8], x: &[f32]) -> f32 {
    let mut acc = [f32x8::ZERO; 4];
    for (b, blk) in row.chunks_exact(block_bytes()).enumerate() {
        let d = f32x8::splat(f16_at(blk, 0));
        let q = simd::i8x32(&blk[QS..]);
        for g in 0..4 {
            acc[g] = (q[g] * d).mul_add(load8(x, b * QK + 8 * g), acc[g]); // (d·q)·x
        }
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])).reduce_add()
}

// ANCHOR: quantize
/// Q8_0 quantizer (ggml's `quantize_row_q8_0_ref`): d = max|x| / 127, q = round(x / d).
/// Panics if `x.len()` is not a multiple of 32.
pub fn quantize_row_q8_0(x: &[f32]) -> Vec<u8> {
    assert_eq!(x.len() % QK, 0, "Q8_0 rows hold whole blocks of 32");
    let mut out = Vec::with_capacity(x.len() / QK * block_bytes());
    for blk in x.chunks_exact(QK) {
        let amax = blk.iter().fold(0.0f32, |a, v| a.max(v.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
        out.extend(blk.iter().map(|v| (v * id).round() as i8 as u8)); // round half away from 0, like roundf
    }
    out
}
// ANCHOR_END: quantize
