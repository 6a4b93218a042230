//! # What the K-quants share: super-blocks of 256, packed scales, and one register helper
//!
//! The K-quants (Q2_K … Q6_K) cut a row into **super-blocks of 256 elements**. Each super-block
//! holds one or two f16 numbers (`d`, and `dmin` for the types with a minimum) and, for each
//! **sub-block** of 16 or 32 elements, a small integer scale (and minimum) that multiplies them:
//!
//! ```text
//! super-block (256 elements)
//! ├─ d (f16), dmin (f16)                      the super-block's two floats
//! ├─ scales: one small integer per sub-block  4, 6 or 8 bits each, packed
//! └─ quants: 256 × 2…6 bits                   packed in bit planes
//!
//! element i of sub-block s:   x = d·sc[s]·q[i] − dmin·m[s]        (Q2_K, Q4_K, Q5_K)
//!                             x = d·sc[s]·q[i]                    (Q3_K, Q6_K: q signed)
//! ```
//!
//! Two levels of scale make the bits cheap: 16 sub-block scales of 6 bits cost 96 bits, where
//! 16 f16 scales would cost 256. Per weight that is the difference between 4.5 and 5.0 bits.
//!
//! This file holds what more than one K-type needs: the super-block length, the choice between
//! the two scale rules (`ScaleRule`), the 6-bit scale/min packing of Q4_K and Q5_K, and the
//! unpacking (eight quants per u64) and widening (32 quants into four f32x8 registers) that
//! every SIMD dot product uses.
//!
//! Reference: ggml's `ggml-common.h` (block_q2_K … block_q6_K) and `ggml-quants.c`.

use half::f16;
use wide::f32x8;

use crate::matmul::load8;

/// Elements per super-block.
pub const QK_K: usize = 256;

/// How a K-quantizer picks its scales (see `kquant_search`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ScaleRule {
    /// The simple rule: each sub-block's scale maps its largest magnitude (or its range) onto
    /// the largest quant. Fast, and the baseline the search is measured against.
    MaxAbs,
    /// llama.cpp's rule: try a few scales around the simple one and keep the one with the least
    /// (weighted) squared error. What `llama-quantize` writes without an importance matrix.
    #[default]
    Search,
}

/// f32 → the two little-endian bytes of its f16 (round to nearest even; overflow gives ±inf, as
/// ggml's `GGML_FP32_TO_FP16`).
#[inline(always)]
pub(crate) fn f16_bytes(v: f32) -> [u8; 2] {
    f16::from_f32(v).to_le_bytes()
}

/// ggml's `nearest_int`: round half to even (its trick adds 1.5·2²³, valid for |v| < 2²²).
#[inline(always)]
pub(crate) fn nearest_int(v: f32) -> i32 {
    v.round_ties_even() as i32
}

// ANCHOR: scale_min_k4
/// Sub-block `j`'s 6-bit scale and 6-bit min from Q4_K/Q5_K's 12 packed bytes:
///
/// ```text
/// byte  0..4   [s4 hi 2 | s0..s3  6 bits]      scales 0–3, and the top bits of scales 4–7
/// byte  4..8   [m4 hi 2 | m0..m3  6 bits]      mins   0–3, and the top bits of mins 4–7
/// byte  8..12  [m4..m7 lo 4 | s4..s7 lo 4]     the low 4 bits of scales and mins 4–7
/// ```
pub fn scale_min_k4(j: usize, s: &[u8]) -> (u8, u8) {
    if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        (
            (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4),
            (s[j + 4] >> 4) | ((s[j] >> 6) << 4),
        )
    }
}

/// The inverse of [`scale_min_k4`]: eight 6-bit scales and mins (each ≤ 63) into 12 bytes.
pub fn pack_scale_min_k4(ls: &[u8; 8], lm: &[u8; 8]) -> [u8; 12] {
    let mut s = [0u8; 12];
    for j in 0..8 {
        if j < 4 {
            s[j] = ls[j];
            s[j + 4] = lm[j];
        } else {
            s[j + 4] = (ls[j] & 0x0F) | ((lm[j] & 0x0F) << 4);
            s[j - 4] |= (ls[j] >> 4) << 6;
            s[j] |= (lm[j] >> 4) << 6;
        }
    }
    s
}
// ANCHOR_END: scale_min_k4

/// Every byte 0x0F, 0x03, 0x01: masks for unpacking eight bit fields of a u64 at once.
pub(crate) const LOW4: u64 = 0x0F0F_0F0F_0F0F_0F0F;
pub(crate) const LOW2: u64 = 0x0303_0303_0303_0303;
pub(crate) const LOW1: u64 = 0x0101_0101_0101_0101;

/// 32 bytes as four little-endian u64 words. The dot products unpack quants eight at a time
/// (SWAR, "SIMD within a register"): `(w >> 2k) & LOW2` takes bits 2k..2k+2 of all eight bytes
/// of `w` in one shift and one mask; bits that slide in from the next byte are masked away.
#[inline(always)]
pub(crate) fn words(b: &[u8]) -> [u64; 4] {
    std::array::from_fn(|i| u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().expect("8 bytes")))
}

/// Widening 32 quants, one per byte of four words (values 0..=127, element order = byte
/// order), into four f32x8 (elements 0–7, 8–15, 16–23, 24–31). With AVX2 (this build's
/// `target-cpu=native`) each quarter is one `vpmovzxbd` + one `vcvtdq2ps`; elsewhere a portable
/// loop the compiler vectorizes as it can.
#[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
#[inline(always)]
pub(crate) fn widen(q: [u64; 4]) -> [f32x8; 4] {
    use std::arch::x86_64::*;
    // SAFETY: AVX2 is enabled for this build (the cfg above); registers only. f32x8 is a
    // #[repr(C, align(32))] wrapper of one __m256 when AVX is enabled: same size and
    // alignment, every bit pattern valid.
    unsafe {
        let lo = _mm_set_epi64x(q[1] as i64, q[0] as i64);
        let hi = _mm_set_epi64x(q[3] as i64, q[2] as i64);
        let cv = |v: __m128i| {
            std::mem::transmute::<__m256, f32x8>(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v)))
        };
        [
            cv(lo),
            cv(_mm_srli_si128::<8>(lo)),
            cv(hi),
            cv(_mm_srli_si128::<8>(hi)),
        ]
    }
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "avx2")))]
#[inline(always)]
pub(crate) fn widen(q: [u64; 4]) -> [f32x8; 4] {
    q.map(|w| f32x8::new(w.to_le_bytes().map(|b| b as f32)))
}

// ANCHOR: fma_group
/// acc += (q·scale + offset) · x[at..at + 32], for one group of 32 quants (one per byte of `q`)
/// sharing one scale and one offset (a sub-block of 32), or two sub-blocks of 16: lanes 0–15
/// use (scale, offset), lanes 16–31 (scale2, offset2). The offset carries the format's minimum
/// (`−dmin·m`) or its zero point (`−32·d·sc` for Q6_K's 0..63 meaning −32..31).
#[inline(always)]
pub(crate) fn fma_group(
    acc: &mut [f32x8; 4],
    q: [u64; 4],
    (scale, offset): (f32, f32),
    (scale2, offset2): (f32, f32),
    x: &[f32],
    at: usize,
) {
    let w = widen(q);
    let (s1, o1) = (f32x8::splat(scale), f32x8::splat(offset));
    let (s2, o2) = (f32x8::splat(scale2), f32x8::splat(offset2));
    acc[0] = w[0].mul_add(s1, o1).mul_add(load8(x, at), acc[0]);
    acc[1] = w[1].mul_add(s1, o1).mul_add(load8(x, at + 8), acc[1]);
    acc[2] = w[2].mul_add(s2, o2).mul_add(load8(x, at + 16), acc[2]);
    acc[3] = w[3].mul_add(s2, o2).mul_add(load8(x, at + 24), acc[3]);
}
// ANCHOR_END: fma_group

/// The four running sums added up (the tree order the other kernels use).
#[inline(always)]
pub(crate) fn sum4(acc: [f32x8; 4]) -> f32 {
    ((acc[0] + acc[1]) + (acc[2] + acc[3])).reduce_add()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k4_packing_round_trips_every_value() {
        for base in 0..64u8 {
            let ls: [u8; 8] = std::array::from_fn(|j| (base + 7 * j as u8) % 64);
            let lm: [u8; 8] = std::array::from_fn(|j| ((base as usize * 3 + 11 * j) % 64) as u8);
            let s = pack_scale_min_k4(&ls, &lm);
            for j in 0..8 {
                assert_eq!(scale_min_k4(j, &s), (ls[j], lm[j]), "j = {j}, base {base}");
            }
        }
    }

    #[test]
    fn nearest_int_rounds_half_to_even() {
        assert_eq!(
            [0.5, 1.5, 2.5, -0.5, -1.5, 2.4999, -3.7].map(nearest_int),
            [0, 2, 2, 0, -2, 2, -4]
        );
    }

    #[test]
    fn widen_matches_scalar() {
        let b: [u8; 32] = std::array::from_fn(|i| (i as u8 * 7 + 3) % 128);
        let w = widen(words(&b));
        for i in 0..32 {
            assert_eq!(w[i / 8].to_array()[i % 8], b[i] as f32);
        }
        // a shift and a mask unpack one bit field of every byte
        let q = words(&b).map(|w| (w >> 2) & LOW2);
        let back = widen(q);
        for i in 0..32 {
            assert_eq!(back[i / 8].to_array()[i % 8], ((b[i] >> 2) & 3) as f32);
        }
    }
}
