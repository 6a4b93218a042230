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

/// Bytes of a Q4_0 block (d, then the nibbles) and of a Q4_1 block (d, m, the nibbles): the
/// pictures above; `tests::block_sizes_match_the_type_table` checks them against the ggml table.
pub const Q4_0_BYTES: usize = 2 + NIBBLE_BYTES;
pub const Q4_1_BYTES: usize = 4 + NIBBLE_BYTES;

/// Dot product of a Q4_0 or Q4_1 row with `x`.
pub fn dot_row(dtype: DType, row: &[u8], x: &[f32]) -> f32 {
    match dtype {
        DType::Q4_0 => row_kernel::<Q4_0_BYTES, false>(row, x),
        _ => row_kernel::<Q4_1_BYTES, false>(row, x),
    }
}

/// One row of `BPB`-byte blocks (Q4_0: 18, Q4_1: 20) with the widest kernel the build has
/// (`WIDE`) or the f32x8 one; both give the same bits.
#[inline(always)]
pub fn row_kernel<const BPB: usize, const WIDE: bool>(row: &[u8], x: &[f32]) -> f32 {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    if WIDE {
        return row_table::<BPB>(row, x);
    }
    row_f32x8::<BPB>(row, x)
}

/// A block's `(d, m, nibbles)` for a block of known size (Q4_0: `m = −8d`).
#[inline(always)]
fn parts_of<const BPB: usize>(blk: &[u8; BPB]) -> (f32, f32, &[u8]) {
    match BPB {
        Q4_0_BYTES => parts(DType::Q4_0, blk),
        _ => parts(DType::Q4_1, blk),
    }
}

// ANCHOR: dot_row
/// The f32x8 kernel: each block decoded into four f32x8 registers (`d·q + m` computed in
/// registers, never written to memory), `acc[g]` sums elements `8g..8g+8` of every block.
#[inline(always)]
fn row_f32x8<const BPB: usize>(row: &[u8], x: &[f32]) -> f32 {
    let (blocks, _) = row.as_chunks::<BPB>();
    let (xs, _) = x.as_chunks::<QK>();
    let mut acc = [f32x8::ZERO; 4];
    for (blk, xb) in blocks.iter().zip(xs) {
        let (d, m, qs) = parts_of(blk);
        let (d, m) = (f32x8::splat(d), f32x8::splat(m));
        let q = simd::nibbles(qs);
        let (xg, _) = xb.as_chunks::<8>();
        for g in 0..4 {
            let w = q[g].mul_add(d, m); // x = d·q + m, in registers
            acc[g] = w.mul_add(f32x8::new(xg[g]), acc[g]);
        }
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])).reduce_add()
}
// ANCHOR_END: dot_row

// ANCHOR: q4_table
/// The AVX-512 kernel. A block has only 16 possible weights: `T[q] = d·q + m` for q = 0..15
/// fills one 16-lane register with one fused multiply-add (the same `d·q + m` the f32x8 kernel
/// computes per element), and `vpermps` picks `T[nibble]` for 16 lanes at once. It reads only
/// the low 4 bits of each index, so the high nibble needs no masking:
///
/// ```text
/// 16 bytes ──► zero-extend ──────────► vpermps(·, T) = w[0..16]  ─┐ fma with x[0..16]  → lo
///          └─► >> 4, zero-extend ────► vpermps(·, T) = w[16..32] ─┘ fma with x[16..32] → hi
/// ```
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
#[inline(always)]
fn row_table<const BPB: usize>(row: &[u8], x: &[f32]) -> f32 {
    use simd::wide16::{bytes16, reduce, splat_f16, x16};
    use std::arch::x86_64::*;
    let (blocks, _) = row.as_chunks::<BPB>();
    let (xs, _) = x.as_chunks::<QK>();
    // SAFETY (whole block): AVX-512F is enabled (the cfg above); only register operations,
    // memory is read through the checked helpers of `simd::wide16`.
    unsafe {
        let iota = _mm512_setr_ps(
            0., 1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12., 13., 14., 15.,
        );
        let (mut lo_acc, mut hi_acc) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        for (blk, xb) in blocks.iter().zip(xs) {
            let d = splat_f16(blk);
            let m = match BPB {
                Q4_0_BYTES => _mm512_set1_ps(-8.0 * f16_at(blk, 0)), // Q4_0: m = −8d
                _ => splat_f16(&blk[2..]),                           // Q4_1: m
            };
            let table = _mm512_fmadd_ps(iota, d, m); // T[q] = d·q + m
            let qs = bytes16(&blk[BPB - NIBBLE_BYTES..]);
            let lo = _mm512_cvtepu8_epi32(qs);
            let hi = _mm512_cvtepu8_epi32(_mm_srli_epi16::<4>(qs));
            lo_acc = _mm512_fmadd_ps(_mm512_permutexvar_ps(lo, table), x16::<0>(xb), lo_acc);
            hi_acc = _mm512_fmadd_ps(_mm512_permutexvar_ps(hi, table), x16::<16>(xb), hi_acc);
        }
        reduce(lo_acc, hi_acc)
    }
}
// ANCHOR_END: q4_table

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_sizes_match_the_type_table() {
        assert_eq!(Q4_0_BYTES, DType::Q4_0.bytes_per_block());
        assert_eq!(Q4_1_BYTES, DType::Q4_1.bytes_per_block());
    }
}
