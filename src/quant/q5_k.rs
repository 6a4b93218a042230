//! # Q5_K: Q4_K plus one high bit per weight (5.5 bits per weight)
//!
//! ```text
//! super-block of 256 elements, 176 bytes
//! ┌──────┬─────────┬──────────────────┬────────────────┬─────────────────────────────┐
//! │ d f16│ dmin f16│ scales: 12 bytes │ qh: 32 bytes   │ qs: 128 bytes (nibbles)     │
//! └──────┴─────────┴──────────────────┴────────────────┴─────────────────────────────┘
//!   0      2         4                  16               48                        176
//!
//! scales, qs: exactly as Q4_K (kquant::scale_min_k4; byte l of group g = elements 64g + l
//!             and 64g + 32 + l)
//! qh: bit 2g of qh[l] is the fifth bit of element 64g + l,
//!     bit 2g+1 of qh[l] is the fifth bit of element 64g + 32 + l
//!
//! x = (d·sc[s])·q − (dmin·m[s])            q = nibble + 16·bit ∈ 0..=31
//! ```
//!
//! Reference: ggml `block_q5_K`, `dequantize_row_q5_K`, `quantize_row_q5_K_ref`.

use super::f16_at;
use super::kquant::{fma_group, scale_min_k4, sum4, words, ScaleRule, LOW1, LOW4, QK_K};
use super::q4_k::quantize_affine;
use wide::f32x8;

/// Bytes per super-block.
pub const BYTES: usize = 176;

/// Decode a row of Q5_K super-blocks into `out` (bit for bit as gguf's dequantizer).
pub fn dequantize(row: &[u8], out: &mut [f32]) {
    for (blk, y) in row.chunks_exact(BYTES).zip(out.chunks_exact_mut(QK_K)) {
        let (d, dmin) = (f16_at(blk, 0), f16_at(blk, 2));
        let (scales, qh, qs) = (&blk[4..16], &blk[16..48], &blk[48..BYTES]);
        for g in 0..4 {
            let (sc1, m1) = scale_min_k4(2 * g, scales);
            let (sc2, m2) = scale_min_k4(2 * g + 1, scales);
            let (d1, dm1) = (d * sc1 as f32, dmin * m1 as f32);
            let (d2, dm2) = (d * sc2 as f32, dmin * m2 as f32);
            let q = &qs[32 * g..32 * g + 32];
            for l in 0..32 {
                let q1 = (q[l] & 0x0F) | (((qh[l] >> (2 * g)) & 1) << 4);
                let q2 = (q[l] >> 4) | (((qh[l] >> (2 * g + 1)) & 1) << 4);
                y[64 * g + l] = d1 * q1 as f32 - dm1;
                y[64 * g + 32 + l] = d2 * q2 as f32 - dm2;
            }
        }
    }
}

/// Dot product of a Q5_K row with `x` (quants decoded 32 at a time into registers).
pub fn dot(row: &[u8], x: &[f32]) -> f32 {
    let mut acc = [f32x8::ZERO; 4];
    for (b, blk) in row.chunks_exact(BYTES).enumerate() {
        let (d, dmin) = (f16_at(blk, 0), f16_at(blk, 2));
        let (scales, qh, qs) = (&blk[4..16], &blk[16..48], &blk[48..BYTES]);
        for g in 0..4 {
            let (q, h) = (words(&qs[32 * g..32 * g + 32]), words(qh));
            for half in 0..2 {
                let bit = 2 * g + half;
                // nibble | fifth bit << 4, eight bytes per word
                let five: [u64; 4] = std::array::from_fn(|i| {
                    ((q[i] >> (4 * half)) & LOW4) | (((h[i] >> bit) & LOW1) << 4)
                });
                let (sc, m) = scale_min_k4(bit, scales);
                let sm = (d * sc as f32, -(dmin * m as f32));
                fma_group(&mut acc, five, sm, sm, x, b * QK_K + 64 * g + 32 * half);
            }
        }
    }
    sum4(acc)
}

/// Quantize a row to Q5_K (llama.cpp's `quantize_row_q5_K_ref` with `ScaleRule::Search`):
/// the Q4_K procedure with 32 levels and a narrower search fan, then the bits split into
/// nibbles and high bits.
pub fn quantize(x: &[f32], rule: ScaleRule) -> Vec<u8> {
    let (head, ls) = quantize_affine::<31>(x, rule, (-0.5, 0.1, 15));
    // head holds d, dmin and the scales of each super-block (16 bytes each); add qh and qs
    let mut out = Vec::with_capacity(ls.len() * BYTES);
    for (h, l) in head.chunks_exact(16).zip(&ls) {
        out.extend_from_slice(h);
        let mut qh = [0u8; 32];
        let mut qs = [0u8; 128];
        for g in 0..4 {
            for j in 0..32 {
                let (l1, l2) = (l[64 * g + j], l[64 * g + 32 + j]);
                qh[j] |= ((l1 >> 4) << (2 * g)) | ((l2 >> 4) << (2 * g + 1));
                qs[32 * g + j] = (l1 & 0x0F) | ((l2 & 0x0F) << 4);
            }
        }
        out.extend_from_slice(&qh);
        out.extend_from_slice(&qs);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::kquant::{f16_bytes, pack_scale_min_k4};
    use super::*;

    /// By hand: d = 1, dmin = 0, scales 1 → x = q. qs = 0x00, qh = 0b01 → element l of group 0
    /// is 16, element 32 + l is 0, everything else 0.
    #[test]
    fn high_bits_by_hand() {
        let mut blk = Vec::new();
        blk.extend(f16_bytes(1.0));
        blk.extend(f16_bytes(0.0));
        blk.extend(pack_scale_min_k4(&[1; 8], &[0; 8]));
        blk.extend([0b01u8; 32]);
        blk.extend([0u8; 128]);
        let mut y = [0.0f32; 256];
        dequantize(&blk, &mut y);
        assert!(y[..32].iter().all(|&v| v == 16.0));
        assert!(y[32..].iter().all(|&v| v == 0.0));
        assert_eq!(dot(&blk, &[0.5; 256]), 32.0 * 8.0);
    }
}
