//! Chapter 2 exercises: `cargo test --test ch02_exercises`.
//!
//! The answers below are filled in so that the book's CI stays green. Cover them up, write your
//! own, and run the test. The reference answers, derived rather than typed, are behind the
//! `solutions` feature: `cargo test --test ch02_exercises --features solutions`.
//!
//! 1. **Predict the number.** x = [3, 4, 0, 0] (head_dim 4) is rotated to position 7 with
//!    θ = 10,000. What is ‖rope(x, 7)‖?
//! 2. **Predict the position.** ⟨rope(q, 10), rope(k, 7)⟩ = s. For which key position n is
//!    ⟨rope(q, 25), rope(k, n)⟩ = s again (for every q and k)?
//! 3. **Make it pass.** Write `answer::rotate_pair`, the rotation of one pair (a, b) by an angle;
//!    the test rotates random heads pair by pair with it and compares with `RopeTable::apply`.

use glassbox::compare::assert_close;
use glassbox::rope::{inv_freq, RopeLayout, RopeTable};
use rand::{Rng, SeedableRng};

#[cfg(not(feature = "solutions"))]
mod answer {
    pub const NORM_AFTER_ROPE: f32 = 5.0;
    pub const SAME_SCORE_KEY_POSITION: usize = 22;

    pub fn rotate_pair(a: f32, b: f32, angle: f32) -> (f32, f32) {
        let (s, c) = angle.sin_cos();
        (a * c - b * s, b * c + a * s)
    }
}

#[cfg(feature = "solutions")]
mod answer {
    /// A rotation keeps lengths: ‖[3, 4, 0, 0]‖ = √(9 + 16) = 5 at every position.
    pub const NORM_AFTER_ROPE: f32 = 5.0;
    /// The score depends only on m − n = 10 − 7 = 3, so n = 25 − 3.
    pub const SAME_SCORE_KEY_POSITION: usize = 25 - (10 - 7);

    /// (a, b) as the complex number a + ib, times e^{i·angle}.
    pub fn rotate_pair(a: f32, b: f32, angle: f32) -> (f32, f32) {
        let (s, c) = (angle as f64).sin_cos();
        let (a, b) = (a as f64, b as f64);
        ((a * c - b * s) as f32, (b * c + a * s) as f32)
    }
}

/// Both answers check against the library, not against a typed number.
#[test]
fn exercise_1_norm_after_rope() {
    let t = RopeTable::new(4, 8, 10000.0, None);
    let mut x = [3.0f32, 4.0, 0.0, 0.0];
    t.apply(&mut x, 7, RopeLayout::HalfSplit);
    let norm = x.iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!(
        (norm - answer::NORM_AFTER_ROPE).abs() < 1e-5,
        "‖rope(x, 7)‖ = {norm}"
    );
}

#[test]
fn exercise_2_relative_positions() {
    let t = RopeTable::new(64, 64, 100000.0, None);
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    let q: Vec<f32> = (0..64).map(|_| rng.random_range(-1.0..1.0)).collect();
    let k: Vec<f32> = (0..64).map(|_| rng.random_range(-1.0..1.0)).collect();
    let score = |m: usize, n: usize| {
        let (mut a, mut b) = (q.clone(), k.clone());
        t.apply(&mut a, m, RopeLayout::HalfSplit);
        t.apply(&mut b, n, RopeLayout::HalfSplit);
        a.iter().zip(&b).map(|(x, y)| x * y).sum::<f32>()
    };
    let (s, s2) = (score(10, 7), score(25, answer::SAME_SCORE_KEY_POSITION));
    assert!(
        (s - s2).abs() < 1e-5,
        "<rope(q,10), rope(k,7)> = {s} but at your position {s2}"
    );
}

#[test]
fn exercise_3_rotate_pair() {
    let (d, theta) = (16, 10000.0f32);
    let t = RopeTable::new(d, 100, theta, None);
    let f = inv_freq(d, theta, None);
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    for pos in [0usize, 1, 5, 99] {
        let x: Vec<f32> = (0..d).map(|_| rng.random_range(-2.0..2.0)).collect();
        let mut want = x.clone();
        t.apply(&mut want, pos, RopeLayout::HalfSplit);
        let mut got = x.clone();
        for i in 0..d / 2 {
            // HF half-split pairs (i, i + d/2), angle pos·θ_i (an f32 product, as in the table)
            let (a, b) = answer::rotate_pair(x[i], x[i + d / 2], pos as f32 * f[i]);
            got[i] = a;
            got[i + d / 2] = b;
        }
        assert_close(
            &format!("your rotation at position {pos}"),
            &got,
            &want,
            1e-5,
        );
    }
}
