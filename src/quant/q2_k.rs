//! # Q2_K: 2-bit quants, 16 sub-blocks of 16 with 4-bit scales and mins (2.625 bits per weight)
//!
//! ```text
//! super-block of 256 elements, 84 bytes
//! ┌──────────────────────────┬──────────────────────────────┬──────┬─────────┐
//! │ scales: 16 bytes         │ qs: 64 bytes = 256 × 2 bits   │ d f16│ dmin f16│
//! └──────────────────────────┴──────────────────────────────┴──────┴─────────┘
//!   0                          16                             80     82      84
//!
//! scales[s] = sc (low nibble) | m (high nibble), for sub-block s = element / 16
//! qs: two halves of 128 elements, 32 bytes each; in half h, bits 2k..2k+2 of byte l hold
//!     element 128h + 32k + l       (k = 0..4, l = 0..32)
//!
//! x = (d·sc[s])·q − (dmin·m[s])            q ∈ 0..=3
//! ```
//!
//! Reference: ggml `block_q2_K`, `dequantize_row_q2_K`, `quantize_row_q2_K_ref`.

use super::f16_at;
use super::kquant::{f16_bytes, fma_group, nearest_int, sum4, words, ScaleRule, LOW2, QK_K};
use super::kquant_search::make_qkx2_quants;
use wide::f32x8;

/// Bytes per super-block.
pub const BYTES: usize = 84;

/// Decode a row of Q2_K super-blocks into `out` (bit for bit as gguf's dequantizer).
pub fn dequantize(row: &[u8], out: &mut [f32]) {
    for (blk, y) in row.chunks_exact(BYTES).zip(out.chunks_exact_mut(QK_K)) {
        let (d, dmin) = (f16_at(blk, 80), f16_at(blk, 82));
        for e in 0..QK_K {
            let (h, k, l) = (e / 128, e % 128 / 32, e % 32);
            let sc = blk[e / 16];
            let q = (blk[16 + 32 * h + l] >> (2 * k)) & 3;
            y[e] = (d * (sc & 0x0F) as f32) * q as f32 - dmin * (sc >> 4) as f32;
        }
    }
}

/// Dot product of a Q2_K row with `x` (32 quants at a time; two sub-blocks of 16 per group).
pub fn dot(row: &[u8], x: &[f32]) -> f32 {
    let mut acc = [f32x8::ZERO; 4];
    for (b, blk) in row.chunks_exact(BYTES).enumerate() {
        let (d, dmin) = (f16_at(blk, 80), f16_at(blk, 82));
        let sm = |s: usize| (d * (blk[s] & 0x0F) as f32, -(dmin * (blk[s] >> 4) as f32));
        for h in 0..2 {
            let qs = words(&blk[16 + 32 * h..16 + 32 * h + 32]);
            for k in 0..4 {
                let q = qs.map(|w| (w >> (2 * k)) & LOW2); // bits 2k..2k+2 of every byte
                let s = 8 * h + 2 * k; // sub-blocks of elements 128h + 32k ..
                fma_group(
                    &mut acc,
                    q,
                    sm(s),
                    sm(s + 1),
                    x,
                    b * QK_K + 128 * h + 32 * k,
                );
            }
        }
    }
    sum4(acc)
}

/// Quantize a row to Q2_K (llama.cpp's `quantize_row_q2_K_ref` with `ScaleRule::Search`):
/// per sub-block of 16 a (scale, min) from `make_qkx2_quants` (weights |x|, absolute error),
/// both as 4-bit integers relative to the largest, then every weight rounded again.
pub fn quantize(x: &[f32], rule: ScaleRule) -> Vec<u8> {
    assert_eq!(
        x.len() % QK_K,
        0,
        "K-quant rows hold whole super-blocks of 256"
    );
    let mut out = Vec::with_capacity(x.len() / QK_K * BYTES);
    for xb in x.chunks_exact(QK_K) {
        let mut l = [0u8; QK_K];
        let (mut scales, mut mins) = ([0.0f32; 16], [0.0f32; 16]);
        let (mut max_scale, mut max_min) = (0.0f32, 0.0f32);
        for j in 0..16 {
            let xs = &xb[16 * j..16 * j + 16];
            let w: [f32; 16] = std::array::from_fn(|i| xs[i].abs());
            let ls = &mut l[16 * j..16 * j + 16];
            (scales[j], mins[j]) = make_qkx2_quants(xs, &w, 3, ls, (-0.5, 0.1, 15), true, rule);
            max_scale = if scales[j] > max_scale {
                scales[j]
            } else {
                max_scale
            };
            max_min = if mins[j] > max_min { mins[j] } else { max_min };
        }
        let mut sc = [0u8; 16];
        let d_bytes = if max_scale > 0.0 {
            let iscale = 15.0 / max_scale;
            for j in 0..16 {
                sc[j] = nearest_int(iscale * scales[j]) as u8;
            }
            f16_bytes(max_scale / 15.0)
        } else {
            f16_bytes(0.0)
        };
        let dmin_bytes = if max_min > 0.0 {
            let iscale = 15.0 / max_min;
            for j in 0..16 {
                sc[j] |= (nearest_int(iscale * mins[j]) as u8) << 4;
            }
            f16_bytes(max_min / 15.0)
        } else {
            f16_bytes(0.0)
        };
        let (d_all, dmin_all) = (f16_at(&d_bytes, 0), f16_at(&dmin_bytes, 0));
        for j in 0..16 {
            let d = d_all * (sc[j] & 0x0F) as f32;
            if d == 0.0 {
                continue; // keep the search's integers
            }
            let dm = dmin_all * (sc[j] >> 4) as f32;
            for i in 16 * j..16 * j + 16 {
                l[i] = nearest_int((xb[i] + dm) / d).clamp(0, 3) as u8;
            }
        }
        out.extend_from_slice(&sc);
        for h in 0..2 {
            let q = &l[128 * h..128 * h + 128];
            out.extend(
                (0..32).map(|i| q[i] | (q[i + 32] << 2) | (q[i + 64] << 4) | (q[i + 96] << 6)),
            );
        }
        out.extend_from_slice(&d_bytes);
        out.extend_from_slice(&dmin_bytes);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// By hand: d = 1, dmin = 1, every scale byte 0x12 (sc 2, m 1), every qs byte 0b11_10_01_00
    /// → in each half, elements 0–31 have q 0, 32–63 q 1, 64–95 q 2, 96–127 q 3; x = 2q − 1.
    #[test]
    fn one_block_by_hand() {
        let mut blk = vec![0x12u8; 16];
        blk.extend([0b1110_0100u8; 64]);
        blk.extend(f16_bytes(1.0));
        blk.extend(f16_bytes(1.0));
        let mut y = [0.0f32; 256];
        dequantize(&blk, &mut y);
        assert_eq!(
            (y[0], y[32], y[64], y[96], y[128 + 96]),
            (-1.0, 1.0, 3.0, 5.0, 5.0)
        );
        assert_eq!(
            dot(&blk, &[1.0; 256]),
            2.0 * 32.0 * (-1.0 + 1.0 + 3.0 + 5.0)
        );
    }
}
