//! Chapter 4 exercises: RMSNorm, SwiGLU, a block's parameters.
//!
//! The exercises ship open: each function in `answer` below is a `todo!()` for you to replace.
//! A plain `cargo test` skips them (they are `#[ignore]`d, so the suite stays green); run yours
//! with
//!
//! ```text
//! cargo test --test ch04_exercises -- --ignored
//! ```
//!
//! The reference solutions are in `tests/solutions/ch04.rs` (and the book's appendix);
//! `cargo test --test ch04_exercises --features solutions` checks them.
//!
//! 1. **By hand.** RMSNorm([1, 2, 3, 4]) with unit weight and ε ≈ 0, to 5 decimals.
//! 2. **Predict the number.** swiglu(gate = 1, up = 2) = silu(1) · 2, to 5 decimals.
//! 3. **Count.** Parameters in one SmolLM2-135M block (d 576, 9 query / 3 KV heads of 64,
//!    FFN 1536, two RMSNorm weight vectors).
//! 4. **Make it pass.** Write `rmsnorm`: `y = x / sqrt(mean(x²) + ε) ⊙ w`. The test compares it
//!    with the library's reference on random rows of 1 to 600 values.

use glassbox::compare::{assert_close, rand_vec};
use glassbox::rmsnorm::{rmsnorm, rmsnorm_naive};
use glassbox::swiglu::swiglu;

/// Your answers: replace each `todo!()`.
#[cfg(not(feature = "solutions"))]
#[allow(unused_variables)]
mod answer {
    /// Exercise 1: RMSNorm([1, 2, 3, 4]), unit weight, ε ≈ 0, to 5 decimals.
    pub fn rmsnorm_1234() -> [f32; 4] {
        todo!("exercise 1: mean of the squares, its square root, divide (chapter 4, 'By hand')")
    }

    /// Exercise 2: swiglu(gate = 1, up = 2), to 5 decimals.
    pub fn swiglu_1_2() -> f32 {
        todo!("exercise 2: silu(z) = z / (1 + e^(−z)), times up")
    }

    /// Exercise 3: parameters in one SmolLM2-135M block.
    pub fn params_per_block() -> usize {
        todo!("exercise 3: q, k, v, o, gate, up, down and the two norm vectors")
    }

    /// Exercise 4: `out = x / sqrt(mean(x²) + eps) ⊙ w` for one row.
    pub fn rmsnorm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
        todo!("exercise 4: sum the squares (in f64 if you like), then scale and weight each value")
    }
}

/// The reference solutions (`--features solutions`).
#[cfg(feature = "solutions")]
#[path = "solutions/ch04.rs"]
mod answer;

/// Answers are checked to the 5 decimals the exercise asks for.
const FIVE_DECIMALS: f32 = 1e-5;

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::rmsnorm_1234, then run with -- --ignored"
)]
fn exercise_1_rmsnorm_by_hand() {
    let mut y = [0.0f32; 4];
    rmsnorm(&[1.0, 2.0, 3.0, 4.0], &[1.0; 4], 1e-12, &mut y);
    assert_close(
        "RMSNorm([1, 2, 3, 4])",
        &answer::rmsnorm_1234(),
        &y,
        FIVE_DECIMALS,
    );
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::swiglu_1_2, then run with -- --ignored"
)]
fn exercise_2_swiglu() {
    let mut out = [0.0f32];
    swiglu(&[1.0], &[2.0], &mut out);
    assert_close("swiglu(1, 2)", &[answer::swiglu_1_2()], &out, FIVE_DECIMALS);
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::params_per_block, then run with -- --ignored"
)]
fn exercise_3_params_per_block() {
    // [rows, cols] of every weight of one block, as the checkpoint stores them
    let (d, q, kv, ffn) = (576usize, 9 * 64, 3 * 64, 1536usize);
    let shapes = [
        (q, d),   // q_proj
        (kv, d),  // k_proj
        (kv, d),  // v_proj
        (d, q),   // o_proj
        (ffn, d), // gate_proj
        (ffn, d), // up_proj
        (d, ffn), // down_proj
        (1, d),   // input_layernorm
        (1, d),   // post_attention_layernorm
    ];
    let counted: usize = shapes.iter().map(|(r, c)| r * c).sum();
    let yours = answer::params_per_block();
    assert_eq!(yours, counted, "your answer {yours}, counted {counted}");
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: write answer::rmsnorm, then run with -- --ignored"
)]
fn exercise_4_rmsnorm() {
    for (seed, n) in [(1u64, 1usize), (2, 4), (3, 7), (4, 64), (5, 576), (6, 600)] {
        let x = rand_vec(seed, n);
        let w = rand_vec(seed + 100, n);
        let mut want = vec![0.0f32; n];
        rmsnorm_naive(&x, &w, 1e-5, &mut want);
        let mut yours = vec![f32::NAN; n];
        answer::rmsnorm(&x, &w, 1e-5, &mut yours);
        // f32 sums in a different order than the reference's f64 sum
        assert_close(&format!("your rmsnorm, {n} values"), &yours, &want, 1e-5);
    }
}
