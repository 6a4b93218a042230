//! # Q4_K: 4-bit quants, 8 sub-blocks of 32 with 6-bit scales and mins (4.5 bits per weight)
//!
//! ```text
//! super-block of 256 elements, 144 bytes
//! ┌──────┬────────┬──────────────────┬──────────────────────────────────────────────┐
//! │ d f16│ dmin f16│ scales: 12 bytes │ qs: 128 bytes = 256 nibbles                  │
//! └──────┴────────┴──────────────────┴──────────────────────────────────────────────┘
//!   0      2         4                  16                                      144
//!
//! scales: 8 × (6-bit scale sc, 6-bit min m), packed as in kquant::scale_min_k4
//! qs: four 32-byte groups; group g holds sub-blocks 2g (low nibbles) and 2g+1 (high nibbles):
//!     element 64g + l      = qs[32g + l] & 0xF      (l = 0..32)
//!     element 64g + 32 + l = qs[32g + l] >> 4
//!
//! x = (d·sc[s])·q − (dmin·m[s])            s = element / 32,  q ∈ 0..=15
//! ```
//!
//! Like Q4_0/Q4_1, two neighbours in memory are not neighbours in the row: a byte holds
//! elements `l` and `l + 32` of its 64-element group.
//!
//! Reference: ggml `block_q4_K`, `dequantize_row_q4_K`, `quantize_row_q4_K_ref`.

use super::f16_at;
use super::kquant::{
    f16_bytes, fma_group, nearest_int, pack_scale_min_k4, scale_min_k4, sum4, words, ScaleRule,
    LOW4, QK_K,
};
use super::kquant_search::make_qkx2_quants;
use wide::f32x8;

/// Bytes per super-block.
pub const BYTES: usize = 144;

// ANCHOR: dequantize
/// Decode a row of Q4_K super-blocks into `out` (the scalar reference: same operations, in the
/// same order, as gguf's numpy dequantizer, so the result is equal bit for bit).
pub fn dequantize(row: &[u8], out: &mut [f32]) {
    for (blk, y) in row.chunks_exact(BYTES).zip(out.chunks_exact_mut(QK_K)) {
        let (d, dmin) = (f16_at(blk, 0), f16_at(blk, 2));
        let (scales, qs) = (&blk[4..16], &blk[16..BYTES]);
        for g in 0..4 {
            let (sc1, m1) = scale_min_k4(2 * g, scales);
            let (sc2, m2) = scale_min_k4(2 * g + 1, scales);
            let (d1, dm1) = (d * sc1 as f32, dmin * m1 as f32);
            let (d2, dm2) = (d * sc2 as f32, dmin * m2 as f32);
            let q = &qs[32 * g..32 * g + 32];
            for l in 0..32 {
                y[64 * g + l] = d1 * (q[l] & 0x0F) as f32 - dm1;
                y[64 * g + 32 + l] = d2 * (q[l] >> 4) as f32 - dm2;
            }
        }
    }
}
// ANCHOR_END: dequantize

// ANCHOR: dot
/// Dot product of a Q4_K row with `x`, decoding each group of 32 quants into registers:
/// Σ ((d·sc)·q − dmin·m)·x, one fused multiply-add for the weight, one for the product.
pub fn dot(row: &[u8], x: &[f32]) -> f32 {
    let mut acc = [f32x8::ZERO; 4];
    for (b, blk) in row.chunks_exact(BYTES).enumerate() {
        let (d, dmin) = (f16_at(blk, 0), f16_at(blk, 2));
        let (scales, qs) = (&blk[4..16], &blk[16..BYTES]);
        for g in 0..4 {
            let q = words(&qs[32 * g..32 * g + 32]); // 32 bytes: 2 × 32 nibbles
            for half in 0..2 {
                let nib = q.map(|w| (w >> (4 * half)) & LOW4); // low, then high nibbles
                let (sc, m) = scale_min_k4(2 * g + half, scales);
                let sm = (d * sc as f32, -(dmin * m as f32));
                fma_group(&mut acc, nib, sm, sm, x, b * QK_K + 64 * g + 32 * half);
            }
        }
    }
    sum4(acc)
}
// ANCHOR_END: dot

/// One row for `dot_rows`: the AVX-512 table kernel when the build has it and `WIDE`, else
/// [`dot`]. Both give the same bits.
#[inline(always)]
pub fn row_kernel<const WIDE: bool>(row: &[u8], x: &[f32]) -> f32 {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    if WIDE {
        return row_table(row, x);
    }
    dot(row, x)
}

/// The AVX-512 kernel: a sub-block of 32 has 16 possible weights `T[q] = (d·sc)·q − dmin·m`
/// (one fused multiply-add fills a register, the same fused operation [`dot`] does per
/// element) and `vpermps` picks `T[nibble]` for 16 lanes, reading only the low 4 bits of the
/// index (so the low nibbles need no mask; the high ones are shifted down after widening).
/// Lanes 0..16 are dot's acc[0], acc[1], lanes 16..32 acc[2], acc[3]: the same bits.
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
#[inline(always)]
fn row_table(row: &[u8], x: &[f32]) -> f32 {
    use super::simd::wide16::{bytes16, reduce};
    use std::arch::x86_64::*;
    let (blocks, _) = row.as_chunks::<BYTES>();
    let (xs, _) = x.as_chunks::<QK_K>();
    // SAFETY (whole block): AVX-512F is enabled (the cfg above); registers only, memory read
    // through the checked `bytes16` and `_mm512_loadu_ps` on 16 floats of a 32-float chunk.
    unsafe {
        let iota = _mm512_setr_ps(
            0., 1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12., 13., 14., 15.,
        );
        let (mut lo_acc, mut hi_acc) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        for (blk, xb) in blocks.iter().zip(xs) {
            let (d, dmin) = (f16_at(blk, 0), f16_at(blk, 2));
            let (scales, qs) = (&blk[4..16], &blk[16..BYTES]);
            let (xsub, _) = xb.as_chunks::<32>();
            for g in 0..4 {
                let q = &qs[32 * g..32 * g + 32];
                let (b_lo, b_hi) = (
                    _mm512_cvtepu8_epi32(bytes16(q)),
                    _mm512_cvtepu8_epi32(bytes16(&q[16..])),
                );
                for half in 0..2 {
                    let (sc, m) = scale_min_k4(2 * g + half, scales);
                    let (s, o) = (d * sc as f32, -(dmin * m as f32));
                    let table = _mm512_fmadd_ps(iota, _mm512_set1_ps(s), _mm512_set1_ps(o));
                    let (i_lo, i_hi) = match half {
                        0 => (b_lo, b_hi),
                        _ => (_mm512_srli_epi32::<4>(b_lo), _mm512_srli_epi32::<4>(b_hi)),
                    };
                    let xv = &xsub[2 * g + half];
                    let (x_lo, x_hi) = (
                        _mm512_loadu_ps(xv.as_ptr()),
                        _mm512_loadu_ps(xv.as_ptr().add(16)),
                    );
                    lo_acc = _mm512_fmadd_ps(_mm512_permutexvar_ps(i_lo, table), x_lo, lo_acc);
                    hi_acc = _mm512_fmadd_ps(_mm512_permutexvar_ps(i_hi, table), x_hi, hi_acc);
                }
            }
        }
        reduce(lo_acc, hi_acc)
    }
}

// ANCHOR: quantize
/// Quantize a row (a whole number of super-blocks) to Q4_K, as llama.cpp's
/// `quantize_row_q4_K_ref` does with `ScaleRule::Search`.
pub fn quantize(x: &[f32], rule: ScaleRule) -> Vec<u8> {
    quantize_affine::<15>(x, rule, (-1.0, 0.1, 20)).0
}

/// The Q4_K / Q5_K quantizer (they differ in `NMAX`, the search fan and the bit packing): returns
/// the packed Q4_K bytes when `NMAX == 15`, and the 5-bit integers for Q5_K to pack.
///
/// 1. For each sub-block of 32: weights `w = rms(x) + |x|`, then (scale, min) by
///    `make_qkx2_quants`.
/// 2. The 8 scales and 8 mins become 6-bit integers relative to the largest of each:
///    `d = max_scale/63`, `sc = round(scale/d)`; the same for mins with `dmin`.
/// 3. With the scales as they will be stored, every weight is rounded again:
///    `q = round((x + dmin·m) / (d·sc))`, clamped to `0..=NMAX`.
pub(crate) fn quantize_affine<const NMAX: i32>(
    x: &[f32],
    rule: ScaleRule,
    fan: (f32, f32, i32),
) -> (Vec<u8>, Vec<[u8; QK_K]>) {
    assert_eq!(
        x.len() % QK_K,
        0,
        "K-quant rows hold whole super-blocks of 256"
    );
    let mut out = Vec::with_capacity(x.len() / QK_K * BYTES);
    let mut all_l = Vec::with_capacity(x.len() / QK_K);
    for xb in x.chunks_exact(QK_K) {
        let mut l = [0u8; QK_K];
        let (mut scales, mut mins) = ([0.0f32; 8], [0.0f32; 8]);
        // 1. one (scale, min) per sub-block
        for j in 0..8 {
            let xs = &xb[32 * j..32 * j + 32];
            let sum_x2: f32 = xs.iter().fold(0.0, |a, v| a + v * v);
            let av_x = (sum_x2 / 32.0).sqrt();
            let w: [f32; 32] = std::array::from_fn(|i| av_x + xs[i].abs());
            (scales[j], mins[j]) =
                make_qkx2_quants(xs, &w, NMAX, &mut l[32 * j..32 * j + 32], fan, false, rule);
        }
        // 2. 6-bit scales and mins under the super-block's d and dmin
        let max_scale = scales
            .iter()
            .fold(0.0f32, |a, &s| if s > a { s } else { a });
        let max_min = mins.iter().fold(0.0f32, |a, &m| if m > a { m } else { a });
        let inv_scale = if max_scale > 0.0 {
            63.0 / max_scale
        } else {
            0.0
        };
        let inv_min = if max_min > 0.0 { 63.0 / max_min } else { 0.0 };
        let ls: [u8; 8] =
            std::array::from_fn(|j| (nearest_int(inv_scale * scales[j]) as u8).min(63));
        let lm: [u8; 8] = std::array::from_fn(|j| (nearest_int(inv_min * mins[j]) as u8).min(63));
        let packed = pack_scale_min_k4(&ls, &lm);
        let (d_bytes, dmin_bytes) = (f16_bytes(max_scale / 63.0), f16_bytes(max_min / 63.0));
        // 3. round every weight again with the stored scales
        let (d_all, dmin_all) = (f16_at(&d_bytes, 0), f16_at(&dmin_bytes, 0));
        for j in 0..8 {
            let (sc, m) = scale_min_k4(j, &packed);
            let d = d_all * sc as f32;
            if d == 0.0 {
                continue; // keep the integers the search chose
            }
            let dm = dmin_all * m as f32;
            for i in 32 * j..32 * j + 32 {
                l[i] = nearest_int((xb[i] + dm) / d).clamp(0, NMAX) as u8;
            }
        }
        out.extend_from_slice(&d_bytes);
        out.extend_from_slice(&dmin_bytes);
        out.extend_from_slice(&packed);
        if NMAX == 15 {
            for g in 0..4 {
                out.extend((0..32).map(|i| l[64 * g + i] | (l[64 * g + 32 + i] << 4)));
            }
        }
        all_l.push(l);
    }
    (out, all_l)
}
// ANCHOR_END: quantize

#[cfg(test)]
mod tests {
    use super::*;

    /// By hand: d = 1, dmin = 0.5, every scale 2 and min 3 → x = 2·q − 1.5; byte 0x31 gives
    /// q = 1 (low, element 0) and q = 3 (high, element 32).
    #[test]
    fn one_block_by_hand() {
        let mut blk = Vec::new();
        blk.extend(f16_bytes(1.0));
        blk.extend(f16_bytes(0.5));
        blk.extend(pack_scale_min_k4(&[2; 8], &[3; 8]));
        blk.extend([0x31u8; 128]);
        let mut y = [0.0f32; 256];
        dequantize(&blk, &mut y);
        assert_eq!((y[0], y[31], y[32], y[63]), (0.5, 0.5, 4.5, 4.5));
        let ones = [1.0f32; 256];
        assert_eq!(dot(&blk, &ones), 128.0 * 0.5 + 128.0 * 4.5);
    }
}
