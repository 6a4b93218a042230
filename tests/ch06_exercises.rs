//! Chapter 6 exercises: quantized blocks.
//!
//! The exercises ship open: each function in `answer` below is a `todo!()` for you to replace.
//! A plain `cargo test` skips them (they are `#[ignore]`d, so the suite stays green); run yours
//! with
//!
//! ```text
//! cargo test --test ch06_exercises -- --ignored
//! ```
//!
//! The reference solutions are in `tests/solutions/ch06.rs` (and the book's appendix);
//! `cargo test --test ch06_exercises --features solutions` checks them.
//!
//! 1. **Predict the numbers.** A Q4_1 block has d = 0.5, m = −1.0 and all 16 bytes of nibbles
//!    equal to 0x10. What are elements 0–15, and elements 16–31?
//! 2. **Predict the size.** How many bytes does SmolLM2's `q_proj` ([576, 576]) take in Q4_1?
//! 3. **Make it pass.** Write `dequantize_q4_1_block`, the 20 bytes of one block → its 32
//!    weights; the test compares it with `quant::dequantize_row` on random blocks.

use glassbox::quant::{self, DType};
use rand::{Rng, SeedableRng};

/// Your answers: replace each `todo!()`.
#[cfg(not(feature = "solutions"))]
#[allow(unused_variables)]
mod answer {
    /// Exercise 1: (the value of elements 0–15, the value of elements 16–31).
    pub fn block_values() -> (f32, f32) {
        todo!("exercise 1: x = d·q + m; which nibble of byte j is element j?")
    }

    /// Exercise 2: bytes of a [576, 576] matrix in Q4_1.
    pub fn q_proj_bytes() -> usize {
        todo!("exercise 2: blocks of 32 weights, 20 bytes each")
    }

    /// Exercise 3: one Q4_1 block (f16 d, f16 m, 16 bytes of nibbles) → 32 weights.
    pub fn dequantize_q4_1_block(b: &[u8]) -> [f32; 32] {
        todo!("exercise 3: half::f16::from_le_bytes for d and m, then the low and high nibbles")
    }
}

/// The reference solutions (`--features solutions`).
#[cfg(feature = "solutions")]
#[path = "solutions/ch06.rs"]
mod answer;

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::block_values, then run with -- --ignored"
)]
fn exercise_1_a_block_by_hand() {
    let mut block = Vec::new();
    block.extend_from_slice(&half::f16::from_f32(0.5).to_le_bytes());
    block.extend_from_slice(&half::f16::from_f32(-1.0).to_le_bytes());
    block.extend_from_slice(&[0x10; 16]);
    let mut out = [0.0f32; 32];
    quant::dequantize_row(DType::Q4_1, &block, &mut out);
    let (low, high) = answer::block_values();
    assert!(
        out[..16].iter().all(|&v| v == low),
        "elements 0–15 are {:?}, your answer {low}",
        &out[..16]
    );
    assert!(
        out[16..].iter().all(|&v| v == high),
        "elements 16–31 are {:?}, your answer {high}",
        &out[16..]
    );
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::q_proj_bytes, then run with -- --ignored"
)]
fn exercise_2_bytes_of_q_proj() {
    let row = DType::Q4_1.row_bytes(576).expect("576 is whole blocks");
    let yours = answer::q_proj_bytes();
    assert_eq!(yours, 576 * row, "your answer {yours}");
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: write answer::dequantize_q4_1_block, then run with -- --ignored"
)]
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
