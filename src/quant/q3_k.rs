//! # Q3_K: 3-bit quants, 16 sub-blocks of 16 with 6-bit signed scales (3.4375 bits per weight)
//!
//! ```text
//! super-block of 256 elements, 110 bytes
//! ┌──────────────────┬──────────────────────────┬──────────────────┬──────┐
//! │ hmask: 32 bytes  │ qs: 64 bytes (2 bits)     │ scales: 12 bytes │ d f16│
//! └──────────────────┴──────────────────────────┴──────────────────┴──────┘
//!   0                  32                         96                 108    110
//!
//! qs:    as Q2_K: in half h, bits 2k..2k+2 of byte 32h + l hold the low 2 bits of
//!        element 128h + 32k + l
//! hmask: bit (4h + k) of hmask[l] is the third bit of the same element; a SET bit means
//!        "no offset", a clear bit subtracts 4:   q = low2 − (bit ? 0 : 4)   ∈ −4..=3
//! scales: 16 × 6 bits: the low 4 bits of scale s in byte s (s < 8, low nibble) or s − 8
//!        (high nibble); its top 2 bits in byte 8 + s % 4 at bits 2·(s / 4)
//!
//! x = (d·(scale[s] − 32))·q              s = element / 16
//! ```
//!
//! Reference: ggml `block_q3_K`, `dequantize_row_q3_K`, `quantize_row_q3_K_ref`.

use super::f16_at;
use super::kquant::{f16_bytes, fma_group, nearest_int, sum4, words, ScaleRule, LOW1, LOW2, QK_K};
use super::kquant_search::make_q3_quants;
use wide::f32x8;

/// Bytes per super-block.
pub const BYTES: usize = 110;

/// The 16 6-bit scales of a block (stored + 32, so 0..=63 means −32..=31), unpacked.
fn unpack_scales(s: &[u8]) -> [i8; 16] {
    std::array::from_fn(|j| {
        let low = if j < 8 { s[j] & 0x0F } else { s[j - 8] >> 4 };
        let high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
        (low | (high << 4)) as i8 - 32
    })
}

/// The inverse of [`unpack_scales`] for scales already offset to 0..=63.
fn pack_scales(l: &[u8; 16]) -> [u8; 12] {
    let mut s = [0u8; 12];
    for j in 0..16 {
        if j < 8 {
            s[j] = l[j] & 0x0F;
        } else {
            s[j - 8] |= (l[j] & 0x0F) << 4;
        }
        s[8 + j % 4] |= (l[j] >> 4) << (2 * (j / 4));
    }
    s
}

/// The signed 3-bit quant of element `32k + l` of half `h`.
#[inline(always)]
fn q3(blk: &[u8], h: usize, k: usize, l: usize) -> i8 {
    let low = ((blk[32 + 32 * h + l] >> (2 * k)) & 3) as i8;
    let high_set = blk[l] & (1 << (4 * h + k)) != 0;
    low - if high_set { 0 } else { 4 }
}

/// Decode a row of Q3_K super-blocks into `out` (bit for bit as gguf's dequantizer).
pub fn dequantize(row: &[u8], out: &mut [f32]) {
    for (blk, y) in row.chunks_exact(BYTES).zip(out.chunks_exact_mut(QK_K)) {
        let d = f16_at(blk, 108);
        let sc = unpack_scales(&blk[96..108]);
        for e in 0..QK_K {
            let (h, k, l) = (e / 128, e % 128 / 32, e % 32);
            y[e] = (d * sc[e / 16] as f32) * q3(blk, h, k, l) as f32;
        }
    }
}

/// Dot product of a Q3_K row with `x` (32 quants at a time; two sub-blocks of 16 per group).
pub fn dot(row: &[u8], x: &[f32]) -> f32 {
    let mut acc = [f32x8::ZERO; 4];
    for (b, blk) in row.chunks_exact(BYTES).enumerate() {
        let d = f16_at(blk, 108);
        let sc = unpack_scales(&blk[96..108]);
        let hmask = words(&blk[..32]);
        for h in 0..2 {
            let low = words(&blk[32 + 32 * h..32 + 32 * h + 32]);
            for k in 0..4 {
                // q + 4 ∈ 0..7: the low 2 bits, and the hmask bit as bit 2 (set = no offset)
                let q: [u64; 4] = std::array::from_fn(|i| {
                    ((low[i] >> (2 * k)) & LOW2) | (((hmask[i] >> (4 * h + k)) & LOW1) << 2)
                });
                let s = 8 * h + 2 * k;
                let (s1, s2) = (d * sc[s] as f32, d * sc[s + 1] as f32);
                let (a, c) = ((s1, -4.0 * s1), (s2, -4.0 * s2)); // (d·sc)·(q − 4)
                fma_group(&mut acc, q, a, c, x, b * QK_K + 128 * h + 32 * k);
            }
        }
    }
    sum4(acc)
}

/// Quantize a row to Q3_K (llama.cpp's `quantize_row_q3_K_ref` with `ScaleRule::Search`):
/// a symmetric scale per sub-block of 16 (`make_q3_quants`), the 16 scales as 6-bit signed
/// integers relative to the largest (`d = max/−32`), then every weight rounded again.
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
        let (mut max_scale, mut amax) = (0.0f32, 0.0f32);
        for j in 0..16 {
            scales[j] = make_q3_quants(
                &xb[16 * j..16 * j + 16],
                4,
                &mut l[16 * j..16 * j + 16],
                rule,
            );
            if scales[j].abs() > amax {
                amax = scales[j].abs();
                max_scale = scales[j];
            }
        }
        let mut packed = [0u8; 12];
        let d_bytes = if max_scale != 0.0 {
            let iscale = -32.0 / max_scale;
            // ggml stores nearest_int into an int8 before clamping (it always fits here)
            let ls: [u8; 16] = std::array::from_fn(|j| {
                ((nearest_int(iscale * scales[j]) as i8).clamp(-32, 31) + 32) as u8
            });
            packed = pack_scales(&ls);
            f16_bytes(1.0 / iscale)
        } else {
            f16_bytes(0.0)
        };
        let d_all = f16_at(&d_bytes, 0);
        let sc = unpack_scales(&packed);
        for j in 0..16 {
            let d = d_all * sc[j] as f32;
            if d == 0.0 {
                continue; // keep the search's integers
            }
            for i in 16 * j..16 * j + 16 {
                l[i] = (nearest_int(xb[i] / d).clamp(-4, 3) + 4) as i8;
            }
        }
        // the third bit goes to hmask (bit m of hmask[e % 32] for element e, m = e / 32)
        let mut hmask = [0u8; 32];
        for (e, q) in l.iter_mut().enumerate() {
            if *q > 3 {
                hmask[e % 32] |= 1 << (e / 32);
                *q -= 4;
            }
        }
        out.extend_from_slice(&hmask);
        for h in 0..2 {
            let q = &l[128 * h..128 * h + 128];
            out.extend(
                (0..32)
                    .map(|i| (q[i] | (q[i + 32] << 2) | (q[i + 64] << 4) | (q[i + 96] << 6)) as u8),
            );
        }
        out.extend_from_slice(&packed);
        out.extend_from_slice(&d_bytes);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_packing_round_trips() {
        let ls: [u8; 16] = std::array::from_fn(|j| (j as u8 * 13 + 5) % 64);
        let back = unpack_scales(&pack_scales(&ls));
        for j in 0..16 {
            assert_eq!(back[j] as i32 + 32, ls[j] as i32);
        }
    }

    /// By hand: d = 1, every scale 33 (→ 1), qs all 0, hmask bit set only for the first 32
    /// elements: those are 0 − 0 = 0, every other element 0 − 4 = −4.
    #[test]
    fn one_block_by_hand() {
        let mut blk = vec![0b0000_0001u8; 32];
        blk.extend([0u8; 64]);
        blk.extend(pack_scales(&[33; 16]));
        blk.extend(f16_bytes(1.0));
        let mut y = [0.0f32; 256];
        dequantize(&blk, &mut y);
        assert!(y[..32].iter().all(|&v| v == 0.0));
        assert!(y[32..].iter().all(|&v| v == -4.0));
        assert_eq!(dot(&blk, &[1.0; 256]), -4.0 * 224.0);
    }
}
