//! Chapter 14 exercises: `cargo test --test ch14_exercises`.
//!
//! The answers below are filled in so that the book's CI stays green. Cover them up, write your
//! own, and run the test. The reference answers are behind the `solutions` feature:
//! `cargo test --test ch14_exercises --features solutions`.
//!
//! 1. **Rank three documents by hand.** Query q = [1, 1, 0]; documents a = [1, 0, 0],
//!    b = [0, 1, 1], c = [2, 2, 1] (not normalised). Which order does cosine similarity put them
//!    in, and with which scores (4 decimals)? Note that c is not q, yet it wins.
//! 2. **Make it pass.** Write `answer::mean_pool`: the sentence vector from the encoder's token
//!    states `[rows, d]`, where only the rows with `mask[row] == true` are the sentence (the
//!    others are padding, garbage on purpose), normalised to length 1. The test feeds it the real
//!    MiniLM states of a sentence plus three rows of noise and compares with `Bert::embed`.
mod encoder_common;

#[cfg(not(feature = "solutions"))]
mod answer {
    pub const RANKING: [&str; 3] = ["c", "a", "b"];
    #[allow(clippy::approx_constant)] // 1/√2 written as a reader writes it, to 4 decimals
    pub const COSINES: [f32; 3] = [0.9428, 0.7071, 0.5];

    pub fn mean_pool(states: &[f32], mask: &[bool], d: usize) -> Vec<f32> {
        let mut sum = vec![0.0f32; d];
        let mut n = 0.0f32;
        for (row, &real) in states.chunks_exact(d).zip(mask) {
            if real {
                for i in 0..d {
                    sum[i] += row[i];
                }
                n += 1.0;
            }
        }
        let norm = sum.iter().map(|x| (x / n) * (x / n)).sum::<f32>().sqrt();
        sum.iter().map(|x| x / n / norm).collect()
    }
}

#[cfg(feature = "solutions")]
mod answer {
    /// cos(q, x) = q·x / (‖q‖‖x‖), ‖q‖ = √2:
    /// a: 1 / (√2 · 1) = 0.7071;  b: 1 / (√2 · √2) = 0.5;  c: 4 / (√2 · 3) = 0.9428.
    /// c points almost the same way as q (its length does not count): c, a, b.
    pub const RANKING: [&str; 3] = ["c", "a", "b"];
    #[allow(clippy::approx_constant)] // 1/√2 written as a reader writes it, to 4 decimals
    pub const COSINES: [f32; 3] = [0.9428, 0.7071, 0.5];

    /// Masked mean, then the library's normalisation (the mean's length cancels out anyway).
    pub fn mean_pool(states: &[f32], mask: &[bool], d: usize) -> Vec<f32> {
        let rows: Vec<&[f32]> = states
            .chunks_exact(d)
            .zip(mask)
            .filter(|(_, &m)| m)
            .map(|(r, _)| r)
            .collect();
        let mut v: Vec<f32> = (0..d)
            .map(|i| rows.iter().map(|r| r[i]).sum::<f32>() / rows.len() as f32)
            .collect();
        glassbox::model::bert::l2_normalize(&mut v);
        v
    }
}

#[test]
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
    assert_eq!(names, answer::RANKING, "computed {scored:?}");
    for ((_, got), want) in scored.iter().zip(answer::COSINES) {
        assert!(
            (got - want).abs() < 5e-5,
            "computed {scored:?}, your answer {:?}",
            answer::COSINES
        );
    }
}

#[test]
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
