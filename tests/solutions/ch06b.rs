//! Chapter 6b, reference solutions (included in the book's appendix; checked by
//! `cargo test --test ch06b_exercises --features solutions`).

use glassbox::quant::DType;

// ANCHOR: ex1
/// A Q4_K super-block is 144 bytes (f16 d, f16 dmin, 12 bytes of scales, 128 of nibbles) for
/// 256 weights: 144 × 8 / 256 = 4.5 bits. Q6_K is 210 bytes (128 of low 4 bits, 64 of high 2
/// bits, 16 signed scales, f16 d): 210 × 8 / 256 = 6.5625 bits.
pub fn bits_per_weight() -> (f64, f64) {
    (144.0 * 8.0 / 256.0, 210.0 * 8.0 / 256.0)
}
// ANCHOR_END: ex1

// ANCHOR: ex2
/// `ffn_down` of layer 0: the first eighth of the layers gets "more bits", so Q6_K, and its
/// rows are 1536 = 6 super-blocks wide, so Q6_K fits. `attn_q` of layer 4 would be Q4_K, but
/// its rows are 576 = 2.25 super-blocks wide: no K-type fits, and Q4_K's fallback is Q5_0.
pub fn q4_k_m_mix() -> (DType, DType) {
    (DType::Q6_K, DType::Q5_0)
}
// ANCHOR_END: ex2

// ANCHOR: ex3
/// d, dmin (f16), 12 bytes of packed 6-bit (scale, min), 128 bytes of nibbles in four groups
/// of 32: byte l of group g is element 64g + l (low nibble) and 64g + 32 + l (high nibble).
/// Sub-blocks 0–3 keep their scale and min in the low 6 bits of bytes 0–3 and 4–7; sub-blocks
/// 4–7 take 4 bits from bytes 8–11 and their top 2 bits from the spare top bits of bytes 0–7.
pub fn dequantize_q4_k_block(b: &[u8]) -> [f32; 256] {
    let f16 = |i: usize| half::f16::from_le_bytes([b[i], b[i + 1]]).to_f32();
    let (d, dmin) = (f16(0), f16(2));
    let s = &b[4..16];
    let mut out = [0.0f32; 256];
    for j in 0..8 {
        let (sc, m) = if j < 4 {
            (s[j] & 0x3F, s[j + 4] & 0x3F)
        } else {
            (
                (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4),
                (s[j + 4] >> 4) | ((s[j] >> 6) << 4),
            )
        };
        let (dl, ml) = (d * sc as f32, dmin * m as f32);
        let group = &b[16 + 32 * (j / 2)..16 + 32 * (j / 2) + 32];
        for l in 0..32 {
            let q = if j % 2 == 0 {
                group[l] & 0x0F
            } else {
                group[l] >> 4
            };
            out[32 * j + l] = dl * q as f32 - ml;
        }
    }
    out
}
// ANCHOR_END: ex3
