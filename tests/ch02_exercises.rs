//! Chapter 2 exercises: RoPE.
//!
//! The exercises ship open: each function in `answer` below is a `todo!()` for you to replace.
//! A plain `cargo test` skips them (they are `#[ignore]`d, so the suite stays green); run yours
//! with
//!
//! ```text
//! cargo test --test ch02_exercises -- --ignored
//! ```
//!
//! The reference solutions are in `tests/solutions/ch02.rs` (and the book's appendix);
//! `cargo test --test ch02_exercises --features solutions` checks them.
//!
//! 1. **Predict the number.** x = [3, 4, 0, 0] (head_dim 4) is rotated to position 7 with
//!    θ = 10,000. What is ‖rope(x, 7)‖?
//! 2. **Predict the position.** ⟨rope(q, 10), rope(k, 7)⟩ = s. For which key position n is
//!    ⟨rope(q, 25), rope(k, n)⟩ = s again, for every q and k?
//! 3. **Make it pass.** Write `rotate_pair`, the rotation of one pair (a, b) by an angle; the
//!    test rotates random heads pair by pair with it and compares with `RopeTable::apply`.

use glassbox::compare::assert_close;
use glassbox::rope::{inv_freq, RopeLayout, RopeTable};
use rand::{Rng, SeedableRng};

/// Your answers: replace each `todo!()`.
#[cfg(not(feature = "solutions"))]
#[allow(unused_variables)]
mod answer {
    /// Exercise 1: ‖rope([3, 4, 0, 0], 7)‖.
    pub fn norm_after_rope() -> f32 {
        todo!("exercise 1: what does a rotation do to a vector's length?")
    }

    /// Exercise 2: the key position n with ⟨rope(q, 25), rope(k, n)⟩ = ⟨rope(q, 10), rope(k, 7)⟩.
    pub fn same_score_key_position() -> usize {
        todo!("exercise 2: the score depends only on m − n")
    }

    /// Exercise 3: (a, b) rotated by `angle` radians.
    pub fn rotate_pair(a: f32, b: f32, angle: f32) -> (f32, f32) {
        todo!("exercise 3: (a·cos − b·sin, b·cos + a·sin)")
    }
}

/// The reference solutions (`--features solutions`).
#[cfg(feature = "solutions")]
#[path = "solutions/ch02.rs"]
mod answer;

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::norm_after_rope, then run with -- --ignored"
)]
fn exercise_1_norm_after_rope() {
    let t = RopeTable::new(4, 8, 10000.0, None);
    let mut x = [3.0f32, 4.0, 0.0, 0.0];
    t.apply(&mut x, 7, RopeLayout::HalfSplit);
    let norm = x.iter().map(|v| v * v).sum::<f32>().sqrt();
    let yours = answer::norm_after_rope();
    assert!(
        (norm - yours).abs() < 1e-5,
        "your answer {yours}, computed ‖rope(x, 7)‖ = {norm}"
    );
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::same_score_key_position, then run with -- --ignored"
)]
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
    let n = answer::same_score_key_position();
    assert!(n < 64, "position {n} is past the table (64 positions)");
    let (s, s2) = (score(10, 7), score(25, n));
    assert!(
        (s - s2).abs() < 1e-5,
        "<rope(q, 10), rope(k, 7)> = {s} but <rope(q, 25), rope(k, {n})> = {s2}"
    );
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: write answer::rotate_pair, then run with -- --ignored"
)]
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
