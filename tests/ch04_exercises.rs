//! Chapter 4 exercises: `cargo test --test ch04_exercises`.
//!
//! The answers below are filled in so that the book's CI stays green. Cover them up, write your
//! own, and run the test. Reference answers: `cargo test --test ch04_exercises --features solutions`.
//!
//! 1. **By hand.** RMSNorm([1, 2, 3, 4]) with unit weight and ε ≈ 0, to 5 decimals.
//! 2. **Predict the number.** swiglu(gate = 1, up = 2) = silu(1) · 2, to 5 decimals.
//! 3. **Count.** Parameters in one SmolLM2-135M block (d 576, 9 query / 3 KV heads of 64,
//!    FFN 1536, two RMSNorm weight vectors).

use glassbox::compare::assert_close;
use glassbox::rmsnorm::rmsnorm;
use glassbox::swiglu::swiglu;

#[cfg(not(feature = "solutions"))]
mod answer {
    pub const RMSNORM_1234: [f32; 4] = [0.36515, 0.73030, 1.09544, 1.46059];
    pub const SWIGLU_1_2: f32 = 1.46212;
    pub const PARAMS_PER_BLOCK: usize = 3_540_096;
}

#[cfg(feature = "solutions")]
mod answer {
    /// mean(x²) = (1 + 4 + 9 + 16) / 4 = 7.5, √7.5 = 2.7386128, y = x / 2.7386128.
    pub const RMSNORM_1234: [f32; 4] = [
        1.0 / 2.738_613,
        2.0 / 2.738_613,
        3.0 / 2.738_613,
        4.0 / 2.738_613,
    ];
    /// silu(1) = 1 / (1 + e⁻¹) = 0.7310586, times 2.
    pub const SWIGLU_1_2: f32 = 2.0 * 0.731_058_6;
    /// q, o: 576·576 each; k, v: 192·576 each; gate, up, down: 1536·576 each; two norms: 576 each.
    pub const PARAMS_PER_BLOCK: usize = 2 * 576 * 576 + 2 * 192 * 576 + 3 * 1536 * 576 + 2 * 576;
}

/// Answers are checked to the 5 decimals the exercise asks for.
const FIVE_DECIMALS: f32 = 1e-5;

#[test]
fn exercise_1_rmsnorm_by_hand() {
    let mut y = [0.0f32; 4];
    rmsnorm(&[1.0, 2.0, 3.0, 4.0], &[1.0; 4], 1e-12, &mut y);
    assert_close(
        "RMSNorm([1, 2, 3, 4])",
        &answer::RMSNORM_1234,
        &y,
        FIVE_DECIMALS,
    );
}

#[test]
fn exercise_2_swiglu() {
    let mut out = [0.0f32];
    swiglu(&[1.0], &[2.0], &mut out);
    assert_close("swiglu(1, 2)", &[answer::SWIGLU_1_2], &out, FIVE_DECIMALS);
}

#[test]
fn exercise_3_params_per_block() {
    let (d, q, kv, ffn) = (576usize, 9 * 64, 3 * 64, 1536usize);
    let counted = [
        d * q,
        d * kv,
        d * kv,
        q * d,
        ffn * d,
        ffn * d,
        d * ffn,
        d,
        d,
    ]
    .iter()
    .sum::<usize>();
    assert_eq!(answer::PARAMS_PER_BLOCK, counted);
}
