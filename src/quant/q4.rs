//! Stage 3 · quant: Q4_0 and Q4_1, four bits per weight and one (Q4_0) or two (Q4_1) f16
//! numbers per block of 32.
//!
//! ```text
//! Q4_0  block of 32 elements, 18 B:        x[i] = d · (q[i] − 8),  q[i] ∈ 0..=15
//! Q4_1  block of 32 elements, 20 B:        x[i] = d · q[i] + m
//!       ┌──────┬──────┬─────────────────────────────────────────┐
//!       │ d f16│ m f16│ byte 0   byte 1   …  byte 15              │   (Q4_0 has no m)
//!       └──────┴──────┴─────────────────────────────────────────┘
//!                        │ low nibble of byte j  = q[j]       (elements 0..16)
//!                        └ high nibble of byte j = q[j + 16]  (elements 16..32)
//! ```
//!
//! The nibble order is the classic pitfall: elements j and j+16 share a byte, not j and j+1.
//! A wrong order loads fine and gives wrong numbers. Both types are `x = d·q + m` once Q4_0's
//! offset is folded in (`m = −8d`), so one decoder serves both.
//!
//! Reference: ggml's `ggml-common.h` (`block_q4_0`, `block_q4_1`), `quantize_row_q4_0_ref` and
//! `quantize_row_q4_1_ref` in `ggml-quants.c`.

use half::f16;
use wide::f32x8;

use super::{f16_at, simd, DType, QK};
use crate::matmul::load8;

/// Bytes of nibbles in a block: two elements per byte.
const NIBBLE_BYTES: usize = QK / 2;

/// One block's `(d, m, the 16 bytes of nibbles)`, so that every element is `d·q + m`:
/// Q4_0 stores `d` then the nibbles (`m = −8d`), Q4_1 stores `d`, `m`, then the nibbles.
#[inline(always)]
fn parts(dtype: DType, blk: &[u8]) -> (f32, f32, &[u8]) {
    let d = f16_at(blk, 0);
    match dtype {
        DType::Q4_0 => (d, -8.0 * d, &blk[2..2 + NIBBLE_BYTES]),
        _ => (d, f16_at(blk, 2), &blk[4..4 + NIBBLE_BYTES]),
    }
}

// ANCHOR: dequantize
/// Decode a Q4_0 or Q4_1 row into `out`, element by element (the scalar reference).
pub fn dequantize(dtype: DType, row: &[u8], out: &mut [f32]) {
    let bpb = dtype.bytes_per_block();
    for (o, blk) in out.chunks_exact_mut(QK).zip(row.chunks_exact(bpb)) {
        let (d, m, qs) = parts(dtype, blk); // Q4_0: x = d·(q − 8) = d·q − 8d ; Q4_1: x = d·q + m
        for j in 0..NIBBLE_BYTES {
            o[j] = d * (qs[j] & 0x0F) as f32 + m; // low nibble: element j
            o[j + 16] = d * (qs[j] >> 4) as f32 + m; // high nibble: element j + 16
        }
    }
}
// ANCHOR_END: dequantize

/// Dot product of a Q4_0 or Q4_1 row with `x`: each block decoded into four f32x8 registers
/// (`d·q + m` computed in registers), never written to memory.
pub fn dot_row(dtype: DType, row: &[u8], x: &[f32]) -> f32 {
    let mut acc = [f32x8::ZERO; 4];
    for (b, blk) in row.chunks_exact(dtype.bytes_per_block()).enumerate() {
        let (d, m, qs) = parts(dtype, blk);
        let (d, m) = (f32x8::splat(d), f32x8::splat(m));
        let q = simd::nibbles(qs);
        for g in 0..4 {
            let w = q[g].mul_add(d, m); // x = d·q + m, in registers
            acc[g] = w.mul_add(load8(x, b * QK + 8 * g), acc[g]);
        }
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])).reduce_add()
}

/// Q4_0 quantizer (ggml's `quantize_row_q4_0_ref`): the value of largest magnitude maps to −8,
/// d = that value / −8, q = min(15, trunc(x/d + 8.5)).
pub fn quantize_row_q4_0(x: &[f32]) -> Vec<u8> {
    assert_eq!(x.len() % QK, 0, "Q4_0 rows hold whole blocks of 32");
    let mut out = Vec::with_capacity(x.len() / QK * DType::Q4_0.bytes_per_block());
    for blk in x.chunks_exact(QK) {
        let (mut amax, mut max) = (0.0f32, 0.0f32);
        for &v in blk {
            if amax < v.abs() {
                amax = v.abs();
                max = v;
            }
        }
        let d = max / -8.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
        let q = |v: f32| ((v * id + 8.5) as i8).min(15) as u8; // `as i8` truncates, like the C cast
        out.extend(pack_nibbles(blk, q));
    }
    out
}

/// Q4_1 quantizer (ggml's `quantize_row_q4_1_ref`): m = min, d = (max − min) / 15,
/// q = min(15, trunc((x − m)/d + 0.5)).
pub fn quantize_row_q4_1(x: &[f32]) -> Vec<u8> {
    assert_eq!(x.len() % QK, 0, "Q4_1 rows hold whole blocks of 32");
    let mut out = Vec::with_capacity(x.len() / QK * DType::Q4_1.bytes_per_block());
    for blk in x.chunks_exact(QK) {
        let min = blk.iter().fold(f32::MAX, |a, &v| a.min(v));
        let max = blk.iter().fold(-f32::MAX, |a, &v| a.max(v));
        let d = (max - min) / 15.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
        out.extend_from_slice(&f16::from_f32(min).to_le_bytes());
        let q = |v: f32| (((v - min) * id + 0.5) as i8).min(15) as u8;
        out.extend(pack_nibbles(blk, q));
    }
    out
}

/// The 16 bytes of a block: element j in the low nibble of byte j, element j + 16 in the high.
fn pack_nibbles(blk: &[f32], q: impl Fn(f32) -> u8) -> [u8; NIBBLE_BYTES] {
    std::array::from_fn(|j| q(blk[j]) | (q(blk[j + 16]) << 4))
}
