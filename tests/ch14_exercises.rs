//! Chapter 14 exercises: cosine by hand, and the mean pooling that makes a sentence vector.
//!
//! The exercises ship open: each function in `answer` below is a `todo!()` for you to replace.
//! A plain `cargo test` skips them (they are `#[ignore]`d, so the suite stays green); run yours
//! with
//!
//! ```text
//! cargo test --test ch14_exercises -- --ignored
//! ```
//!
//! A wrong answer fails with the computed value beside yours. The reference solutions are in
//! `tests/solutions/ch14.rs` (and the book's appendix); `cargo test --test ch14_exercises
//! --features solutions` checks them. Exercise 2 reads all-MiniLM-L6-v2 (`glassbox pull --all`).
//!
//! 1. **Rank three documents by hand.** Query q = [1, 1, 0]; documents a = [1, 0, 0],
//!    b = [0, 1, 1], c = [2, 2, 1] (not normalised). Which order does cosine similarity put them
//!    in, and with which scores (4 decimals)? Note that c is not q, yet it wins.
//! 2. **Make it pass.** Write `answer::mean_pool`: the sentence vector from the encoder's token
//!    states `[rows, d]`, where only the rows with `mask[row] == true` are the sentence (the
//!    others are padding, garbage on purpose), normalised to length 1. The test feeds it the real
//!    MiniLM states of a sentence plus three rows of noise and compares with `Bert::embed`.
mod encoder_common;

/// Your answers: replace each `todo!()`.
#[cfg(not(feature = "solutions"))]
#[allow(unused_variables)]
mod answer {
    /// Exercise 1: the documents best first ("a", "b", "c"), and their cosines in that order.
    pub fn ranking() -> ([&'static str; 3], [f32; 3]) {
        todo!("exercise 1: cos(q, x) = q·x / (‖q‖ ‖x‖) for a, b and c")
    }

    /// Exercise 2: states `[rows, d]`, mask `[rows]` → the unit-length mean of the real rows.
    pub fn mean_pool(states: &[f32], mask: &[bool], d: usize) -> Vec<f32> {
        todo!("exercise 2: average the rows whose mask is true, then divide by the length")
    }
}

/// The reference solutions (`--features solutions`).
#[cfg(feature = "solutions")]
#[path = "solutions/ch14.rs"]
mod answer;

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::ranking, then run with -- --ignored"
)]
fn exercise_1_rank_by_hand() {
    use glassbox::model::bert::cosine;
    let q = [1.0, 1.0, 0.0];
    let docs = [
        ("a", [1.0, 0.0, 0.0]),
        ("b", [0.0, 1.0, 1.0]),
        ("c", [2.0, 2.0, 1.0]),
    ];
    let mut scored: Vec<(&str, f32)> = docs.iter().map(|(n, v)| (*n, cosine(&q, v))).collect();
    scored.sort_by(|x, y| y.1.total_cmp(&x.1));
    let names: Vec<&str> = scored.iter().map(|s| s.0).collect();
    let (ranking, cosines) = answer::ranking();
    assert_eq!(names, ranking, "computed {scored:?}");
    // 4 decimals: a correctly rounded answer is within 5e-5 of the f32 cosine
    for ((_, got), want) in scored.iter().zip(cosines) {
        assert!(
            (got - want).abs() < 5e-5,
            "computed {scored:?}, your answer {cosines:?}"
        );
    }
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: write answer::mean_pool, then run with -- --ignored"
)]
fn exercise_2_mean_pool_skips_padding() {
    let m = encoder_common::minilm();
    let text = "Padding must not change an embedding.";
    let ids = m.encode(text);
    let d = m.dim();
    let mut states = m.forward(std::slice::from_ref(&ids)).expect("forward");
    states.extend(
        glassbox::compare::rand_vec(7, 3 * d)
            .iter()
            .map(|x| x * 100.0),
    ); // 3 rows of "padding"
    let mask: Vec<bool> = (0..ids.len() + 3).map(|i| i < ids.len()).collect();
    let got = answer::mean_pool(&states, &mask, d);
    let want = m.embed(&[text]).expect("embed").remove(0);
    glassbox::compare::assert_close("mean_pool", &got, &want, 1e-6);
}
