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

/// Bytes of a block: the scale, then 32 quants (`tests::block_size_matches_the_type_table`).
pub const BLOCK_BYTES: usize = QS + QK;

/// Dot product of a Q8_0 row with `x`.
pub fn dot_row(row: &[u8], x: &[f32]) -> f32 {
    row_f32x8(row, x)
}

/// One row with the widest kernel the build has (`WIDE`) or the f32x8 one (the same bits).
#[inline(always)]
pub fn row_kernel<const WIDE: bool>(row: &[u8], x: &[f32]) -> f32 {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    if WIDE {
        return row_wide16(row, x);
    }
    row_f32x8(row, x)
}

/// The f32x8 kernel: each block decoded into four f32x8 registers, `acc[g] += (d·q)·x`.
#[inline(always)]
fn row_f32x8(row: &[u8], x: &[f32]) -> f32 {
    let (blocks, _) = row.as_chunks::<BLOCK_BYTES>();
    let (xs, _) = x.as_chunks::<QK>();
    let mut acc = [f32x8::ZERO; 4];
    for (blk, xb) in blocks.iter().zip(xs) {
        let d = f32x8::splat(f16_at(blk, 0));
        let q = simd::i8x32(&blk[QS..]);
        let (xg, _) = xb.as_chunks::<8>();
        for g in 0..4 {
            acc[g] = (q[g] * d).mul_add(f32x8::new(xg[g]), acc[g]); // (d·q)·x
        }
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])).reduce_add()
}

/// The AVX-512 kernel: 16 int8 → 16 f32 per instruction, the same products and sums.
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
#[inline(always)]
fn row_wide16(row: &[u8], x: &[f32]) -> f32 {
    use simd::wide16::{bytes16, reduce, splat_f16, x16};
    use std::arch::x86_64::*;
    let (blocks, _) = row.as_chunks::<BLOCK_BYTES>();
    let (xs, _) = x.as_chunks::<QK>();
    // SAFETY (whole block): AVX-512F is enabled (the cfg above); only register operations,
    // memory is read through the checked helpers of `simd::wide16`.
    unsafe {
        let q = |b: &[u8]| _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(bytes16(b)));
        let (mut lo_acc, mut hi_acc) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        for (blk, xb) in blocks.iter().zip(xs) {
            let d = splat_f16(blk);
            lo_acc = _mm512_fmadd_ps(_mm512_mul_ps(q(&blk[QS..]), d), x16::<0>(xb), lo_acc);
            hi_acc = _mm512_fmadd_ps(_mm512_mul_ps(q(&blk[QS + 16..]), d), x16::<16>(xb), hi_acc);
        }
        reduce(lo_acc, hi_acc)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_size_matches_the_type_table() {
        assert_eq!(BLOCK_BYTES, block_bytes());
    }
}
