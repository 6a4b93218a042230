//! Chapter 6 exercises: `cargo test --test ch06_exercises`.
//!
//! The answers below are filled in so that the book's CI stays green. Cover them up, write your
//! own, and run the test. The reference answers are behind the `solutions` feature:
//! `cargo test --test ch06_exercises --features solutions`.
//!
//! 1. **Predict the numbers.** A Q4_1 block has d = 0.5, m = −1.0 and all 16 bytes of nibbles
//!    equal to 0x10. What are elements 0–15, and elements 16–31?
//! 2. **Predict the size.** How many bytes does SmolLM2's `q_proj` ([576, 576]) take in Q4_1?
//! 3. **Make it pass.** Write `answer::dequantize_q4_1_block`, the 20 bytes of one block → its
//!    32 weights; the test compares it with `quant::dequantize_row` on random blocks.

use glassbox::quant::{self, DType};
use rand::{Rng, SeedableRng};

#[cfg(not(feature = "solutions"))]
mod answer {
    pub const ELEMENTS_0_TO_15: f32 = -1.0;
    pub const ELEMENTS_16_TO_31: f32 = -0.5;
    pub const Q_PROJ_BYTES: usize = 207_360;

    pub fn dequantize_q4_1_block(b: &[u8]) -> [f32; 32] {
        let d = half::f16::from_le_bytes([b[0], b[1]]).to_f32();
        let m = half::f16::from_le_bytes([b[2], b[3]]).to_f32();
        let mut out = [0.0; 32];
        for j in 0..16 {
            out[j] = d * (b[4 + j] & 15) as f32 + m;
            out[j + 16] = d * (b[4 + j] >> 4) as f32 + m;
        }
        out
    }
}

#[cfg(feature = "solutions")]
mod answer {
    /// Byte 0x10: low nibble 0 (element j), high nibble 1 (element j + 16). x = d·q + m.
    pub const ELEMENTS_0_TO_15: f32 = 0.5 * 0.0 - 1.0;
    pub const ELEMENTS_16_TO_31: f32 = 0.5 * 1.0 - 1.0;
    /// 576 rows × (576 / 32 blocks × 20 bytes): 5 bits per weight.
    pub const Q_PROJ_BYTES: usize = 576 * (576 / 32) * (2 + 2 + 16);

    /// f16 d, f16 m, then 16 bytes: low nibbles are elements 0..16, high nibbles 16..32.
    pub fn dequantize_q4_1_block(b: &[u8]) -> [f32; 32] {
        let f16 = |i: usize| half::f16::from_bits(u16::from_le_bytes([b[i], b[i + 1]])).to_f32();
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
}

#[test]
fn exercise_1_a_block_by_hand() {
    let mut block = Vec::new();
    block.extend_from_slice(&half::f16::from_f32(0.5).to_le_bytes());
    block.extend_from_slice(&half::f16::from_f32(-1.0).to_le_bytes());
    block.extend_from_slice(&[0x10; 16]);
    let mut out = [0.0f32; 32];
    quant::dequantize_row(DType::Q4_1, &block, &mut out);
    assert!(
        out[..16].iter().all(|&v| v == answer::ELEMENTS_0_TO_15),
        "elements 0–15 are {:?}",
        &out[..16]
    );
    assert!(
        out[16..].iter().all(|&v| v == answer::ELEMENTS_16_TO_31),
        "elements 16–31 are {:?}",
        &out[16..]
    );
}

#[test]
fn exercise_2_bytes_of_q_proj() {
    let row = DType::Q4_1.row_bytes(576).expect("576 is whole blocks");
    assert_eq!(answer::Q_PROJ_BYTES, 576 * row);
}

#[test]
fn exercise_3_your_decoder_equals_the_library() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(6);
    for _ in 0..200 {
        let x: Vec<f32> = (0..32).map(|_| rng.random_range(-2.0f32..2.0)).collect();
        let block = quant::quantize_row_q4_1(&x);
        assert_eq!(block.len(), 20);
        let mut want = [0.0f32; 32];
        quant::dequantize_row(DType::Q4_1, &block, &mut want);
        assert_eq!(answer::dequantize_q4_1_block(&block), want);
    }
}
