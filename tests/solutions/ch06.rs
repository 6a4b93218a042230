//! Chapter 6, reference solutions (included in the book's appendix; checked by
//! `cargo test --test ch06_exercises --features solutions`).

// ANCHOR: ex1
/// Byte 0x10: low nibble 0 (element j), high nibble 1 (element j + 16). x = d·q + m:
/// 0.5·0 − 1 = −1 for elements 0–15, 0.5·1 − 1 = −0.5 for 16–31.
pub fn block_values() -> (f32, f32) {
    (0.5 * 0.0 - 1.0, 0.5 * 1.0 - 1.0)
}
// ANCHOR_END: ex1

// ANCHOR: ex2
/// 576 rows × (576 / 32 = 18 blocks × 20 bytes) = 207,360 bytes: 5 bits per weight.
pub fn q_proj_bytes() -> usize {
    576 * (576 / 32) * (2 + 2 + 16)
}
// ANCHOR_END: ex2

// ANCHOR: ex3
/// f16 d, f16 m, then 16 bytes: the low nibbles are elements 0..16, the high ones 16..32.
pub fn dequantize_q4_1_block(b: &[u8]) -> [f32; 32] {
    let f16 = |i: usize| half::f16::from_le_bytes([b[i], b[i + 1]]).to_f32();
    let (d, m) = (f16(0), f16(2));
    std::array::from_fn(|i| {
        let q = if i < 16 {
            b[4 + i] & 0x0F
        } else {
            b[4 + i - 16] >> 4
        };
        d * q as f32 + m
    })
}
// ANCHOR_END: ex3
