//! # Q6_K: 6-bit quants, 16 sub-blocks of 16 with 8-bit signed scales (6.5625 bits per weight)
//!
//! ```text
//! super-block of 256 elements, 210 bytes
//! ┌──────────────────────────┬────────────────────┬────────────────────┬──────┐
//! │ ql: 128 bytes (low 4 bits)│ qh: 64 bytes (2 bits)│ scales: 16 × int8  │ d f16│
//! └──────────────────────────┴────────────────────┴────────────────────┴──────┘
//!   0                          128                  192                  208   210
//!
//! two halves of 128 elements (h = 0, 1), each with 64 bytes of ql and 32 of qh; for l = 0..32:
//!     element 128h +      l : ql[64h + l]      & 0xF  | (qh[32h + l] >> 0 & 3) << 4
//!     element 128h + 32 + l : ql[64h + 32 + l] & 0xF  | (qh[32h + l] >> 2 & 3) << 4
//!     element 128h + 64 + l : ql[64h + l]      >> 4   | (qh[32h + l] >> 4 & 3) << 4
//!     element 128h + 96 + l : ql[64h + 32 + l] >> 4   | (qh[32h + l] >> 6 & 3) << 4
//!
//! x = (d·scale[s])·(q − 32)          s = element / 16,  q ∈ 0..=63
//! ```
//!
//! No minimum: the 6-bit integers are signed (−32..=31) and the scales are signed bytes, so a
//! sub-block's sign can flip with its scale.
//!
//! Reference: ggml `block_q6_K`, `dequantize_row_q6_K`, `quantize_row_q6_K_ref`.

use super::f16_at;
use super::kquant::{f16_bytes, fma_group, nearest_int, sum4, words, ScaleRule, LOW2, LOW4, QK_K};
use super::kquant_search::{make_qx_quants, GROUP_MAX_EPS};
use wide::f32x8;

/// Bytes per super-block.
pub const BYTES: usize = 210;

/// The signed 6-bit quant of element `32k + l` (k = 0..4) of half `h` of a block.
#[inline(always)]
fn q6(ql: &[u8], qh: &[u8], k: usize, l: usize) -> i8 {
    let lo = ql[32 * (k & 1) + l] >> (4 * (k >> 1)) & 0x0F;
    let hi = (qh[l] >> (2 * k)) & 3;
    (lo | (hi << 4)) as i8 - 32
}

/// Decode a row of Q6_K super-blocks into `out` (bit for bit as gguf's dequantizer).
pub fn dequantize(row: &[u8], out: &mut [f32]) {
    for (blk, y) in row.chunks_exact(BYTES).zip(out.chunks_exact_mut(QK_K)) {
        let d = f16_at(blk, 208);
        for h in 0..2 {
            let (ql, qh) = (
                &blk[64 * h..64 * h + 64],
                &blk[128 + 32 * h..128 + 32 * h + 32],
            );
            for k in 0..4 {
                for l in 0..32 {
                    let e = 128 * h + 32 * k + l;
                    let sc = blk[192 + e / 16] as i8;
                    y[e] = (d * sc as f32) * q6(ql, qh, k, l) as f32;
                }
            }
        }
    }
}

/// Dot product of a Q6_K row with `x` (32 quants at a time into registers; each group of 32
/// spans two sub-blocks of 16 with their own scales).
pub fn dot(row: &[u8], x: &[f32]) -> f32 {
    let mut acc = [f32x8::ZERO; 4];
    for (b, blk) in row.chunks_exact(BYTES).enumerate() {
        let d = f16_at(blk, 208);
        for h in 0..2 {
            let hi = words(&blk[128 + 32 * h..128 + 32 * h + 32]);
            for k in 0..4 {
                // q + 32 ∈ 0..63: 4 low bits from ql, 2 high bits from qh, eight per word
                let at = 64 * h + 32 * (k & 1);
                let lo = words(&blk[at..at + 32]);
                let q: [u64; 4] = std::array::from_fn(|i| {
                    ((lo[i] >> (4 * (k >> 1))) & LOW4) | (((hi[i] >> (2 * k)) & LOW2) << 4)
                });
                let s = 192 + 8 * h + 2 * k; // the two sub-blocks of elements 128h + 32k ..
                let (s1, s2) = (d * blk[s] as i8 as f32, d * blk[s + 1] as i8 as f32);
                // (d·sc)·(q − 32) = (d·sc)·q − 32·(d·sc)
                let (a, c) = ((s1, -32.0 * s1), (s2, -32.0 * s2));
                fma_group(&mut acc, q, a, c, x, b * QK_K + 128 * h + 32 * k);
            }
        }
    }
    sum4(acc)
}

/// One row for `dot_rows`: the 16-lane AVX-512 kernel when the build has it and `WIDE`, else
/// [`dot`]. Both give the same bits.
#[inline(always)]
pub fn row_kernel<const WIDE: bool>(row: &[u8], x: &[f32]) -> f32 {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    if WIDE {
        return row_wide(row, x);
    }
    dot(row, x)
}

/// [`dot`] on 16 lanes: a sub-block of 16 is one register (64 possible weights are too many
/// for a table, so q is widened and converted), `(d·sc)·q − 32·(d·sc)` fused as in `dot`, and
/// lanes 0..16 / 16..32 are dot's acc[0], acc[1] / acc[2], acc[3]: the same bits.
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
#[inline(always)]
fn row_wide(row: &[u8], x: &[f32]) -> f32 {
    use super::simd::wide16::{bytes16, reduce};
    use std::arch::x86_64::*;
    let (blocks, _) = row.as_chunks::<BYTES>();
    let (xs, _) = x.as_chunks::<QK_K>();
    // SAFETY (whole block): AVX-512F is enabled (the cfg above); registers only, memory read
    // through the checked `bytes16` and `_mm512_loadu_ps` on 16 floats of a 32-float chunk.
    unsafe {
        let (low4, low2) = (_mm512_set1_epi32(15), _mm512_set1_epi32(3));
        let (mut lo_acc, mut hi_acc) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        for (blk, xb) in blocks.iter().zip(xs) {
            let d = f16_at(blk, 208);
            let (xg, _) = xb.as_chunks::<32>();
            for h in 0..2 {
                let qh = &blk[128 + 32 * h..128 + 32 * h + 32];
                let (h_lo, h_hi) = (
                    _mm512_cvtepu8_epi32(bytes16(qh)),
                    _mm512_cvtepu8_epi32(bytes16(&qh[16..])),
                );
                for k in 0..4 {
                    let at = 64 * h + 32 * (k & 1);
                    let ql = &blk[at..at + 32];
                    let (shift_l, shift_h) = (
                        _mm_cvtsi32_si128(4 * (k as i32 >> 1)),
                        _mm_cvtsi32_si128(2 * k as i32),
                    );
                    // q + 32 = (ql >> 4·(k/2)) & 15 | ((qh >> 2k) & 3) << 4, per lane
                    let q = |l: __m128i, hb: __m512i| {
                        let l = _mm512_and_si512(
                            _mm512_srl_epi32(_mm512_cvtepu8_epi32(l), shift_l),
                            low4,
                        );
                        let hb = _mm512_and_si512(_mm512_srl_epi32(hb, shift_h), low2);
                        _mm512_cvtepi32_ps(_mm512_or_si512(l, _mm512_slli_epi32::<4>(hb)))
                    };
                    let (q_lo, q_hi) = (q(bytes16(ql), h_lo), q(bytes16(&ql[16..]), h_hi));
                    let s = 192 + 8 * h + 2 * k; // the two sub-blocks of elements 128h + 32k ..
                    let (s1, s2) = (d * blk[s] as i8 as f32, d * blk[s + 1] as i8 as f32);
                    let w_lo =
                        _mm512_fmadd_ps(q_lo, _mm512_set1_ps(s1), _mm512_set1_ps(-32.0 * s1));
                    let w_hi =
                        _mm512_fmadd_ps(q_hi, _mm512_set1_ps(s2), _mm512_set1_ps(-32.0 * s2));
                    let xv = &xg[4 * h + k];
                    lo_acc = _mm512_fmadd_ps(w_lo, _mm512_loadu_ps(xv.as_ptr()), lo_acc);
                    hi_acc = _mm512_fmadd_ps(w_hi, _mm512_loadu_ps(xv.as_ptr().add(16)), hi_acc);
                }
            }
        }
        reduce(lo_acc, hi_acc)
    }
}

/// Quantize a row to Q6_K (llama.cpp's `quantize_row_q6_K_ref` with `ScaleRule::Search`):
/// a symmetric scale per sub-block of 16 (`make_qx_quants`, x²-weighted), the 16 scales as
/// int8 relative to the largest (`d = max/−128`), then every weight rounded again.
pub fn quantize(x: &[f32], rule: ScaleRule) -> Vec<u8> {
    assert_eq!(
        x.len() % QK_K,
        0,
        "K-quant rows hold whole super-blocks of 256"
    );
    let mut out = Vec::with_capacity(x.len() / QK_K * BYTES);
    for xb in x.chunks_exact(QK_K) {
        let mut l = [0i8; QK_K];
        let mut scales = [0.0f32; 16];
        let (mut max_scale, mut max_abs_scale) = (0.0f32, 0.0f32);
        for ib in 0..16 {
            let s = make_qx_quants(
                &xb[16 * ib..16 * ib + 16],
                32,
                &mut l[16 * ib..16 * ib + 16],
                rule,
            );
            scales[ib] = s;
            if s.abs() > max_abs_scale {
                max_abs_scale = s.abs();
                max_scale = s;
            }
        }
        if max_abs_scale < GROUP_MAX_EPS {
            out.extend([0u8; BYTES]); // all zeros (d = 0 is the f16 zero)
            continue;
        }
        let iscale = -128.0 / max_scale;
        let d_bytes = f16_bytes(1.0 / iscale);
        let sc: [i8; 16] =
            std::array::from_fn(|ib| nearest_int(iscale * scales[ib]).min(127) as i8);
        let d_all = f16_at(&d_bytes, 0);
        for j in 0..16 {
            let d = d_all * sc[j] as f32;
            if d == 0.0 {
                continue; // keep the search's integers
            }
            for i in 16 * j..16 * j + 16 {
                l[i] = (nearest_int(xb[i] / d).clamp(-32, 31) + 32) as i8;
            }
        }
        let (mut ql, mut qh) = ([0u8; 128], [0u8; 64]);
        for h in 0..2 {
            for i in 0..32 {
                let q: [u8; 4] = std::array::from_fn(|k| l[128 * h + 32 * k + i] as u8);
                ql[64 * h + i] = (q[0] & 0x0F) | ((q[2] & 0x0F) << 4);
                ql[64 * h + 32 + i] = (q[1] & 0x0F) | ((q[3] & 0x0F) << 4);
                qh[32 * h + i] =
                    (q[0] >> 4) | ((q[1] >> 4) << 2) | ((q[2] >> 4) << 4) | ((q[3] >> 4) << 6);
            }
        }
        out.extend_from_slice(&ql);
        out.extend_from_slice(&qh);
        out.extend(sc.iter().map(|&s| s as u8));
        out.extend_from_slice(&d_bytes);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// By hand: d = 0.5, scales all 2, ql = 0x21, qh = 0 → quants 1 (elements 32k+l, k even:
    /// low nibble) and 2 (k odd... high nibble) minus 32.
    #[test]
    fn one_block_by_hand() {
        let mut blk = vec![0x21u8; 128];
        blk.extend([0u8; 64]);
        blk.extend([2u8; 16]);
        blk.extend(f16_bytes(0.5));
        let mut y = [0.0f32; 256];
        dequantize(&blk, &mut y);
        // element 0: low nibble 1 → (0.5·2)·(1 − 32) = −31; element 64: high nibble 2 → −30
        assert_eq!((y[0], y[32], y[64], y[96]), (-31.0, -31.0, -30.0, -30.0));
        assert_eq!(dot(&blk, &[1.0; 256]), 128.0 * -31.0 + 128.0 * -30.0);
    }
}
