//! Chapter 15 exercises: how the chunker cuts, and the top-k search.
//!
//! The exercises ship open: each function in `answer` below is a `todo!()` for you to replace.
//! A plain `cargo test` skips them (they are `#[ignore]`d, so the suite stays green); run yours
//! with
//!
//! ```text
//! cargo test --test ch15_exercises -- --ignored
//! ```
//!
//! A wrong answer fails with the computed value beside yours. The reference solutions are in
//! `tests/solutions/ch15.rs` (and the book's appendix); `cargo test --test ch15_exercises
//! --features solutions` checks them.
//!
//! 1. **Predict the chunks.** One paragraph, "One two three four. Five six seven. Eight nine ten
//!    eleven twelve.", counted one token per word, cut with `max_tokens` 8 and `overlap_tokens`
//!    3. Which chunks come out?
//! 2. **Make it pass.** Write `answer::retrieve`: the indices of the `k` rows of a `[n, dim]`
//!    store most similar to the query (rows and query have length 1), best first, ties by the
//!    lower index. The test compares it with `rag::search::top_k_naive` on random stores.

use glassbox::rag::chunk::{chunk_text, ChunkConfig};
use glassbox::rag::search::top_k_naive;

/// Your answers: replace each `todo!()`.
#[cfg(not(feature = "solutions"))]
#[allow(unused_variables)]
mod answer {
    /// Exercise 1: the chunks' texts, in order.
    pub fn chunks() -> Vec<&'static str> {
        todo!("exercise 1: whole sentences while they fit in 8; the next chunk repeats up to 3 tokens")
    }

    /// Exercise 2: the indices of the k rows of `store` ([n, dim]) with the largest dot product
    /// with `query`, best first, ties by the lower index.
    pub fn retrieve(store: &[f32], dim: usize, query: &[f32], k: usize) -> Vec<usize> {
        todo!("exercise 2: score every row, keep the k best")
    }
}

/// The reference solutions (`--features solutions`).
#[cfg(feature = "solutions")]
#[path = "solutions/ch15.rs"]
mod answer;

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::chunks, then run with -- --ignored"
)]
fn exercise_1_predict_the_chunks() {
    let text = "One two three four. Five six seven. Eight nine ten eleven twelve.";
    let cfg = ChunkConfig {
        max_tokens: 8,
        overlap_tokens: 3,
    };
    let got: Vec<String> = chunk_text(text, cfg, |t| t.split_whitespace().count())
        .into_iter()
        .map(|c| c.text)
        .collect();
    let yours = answer::chunks();
    assert_eq!(yours, got, "your answer {yours:?}, computed {got:?}");
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: write answer::retrieve, then run with -- --ignored"
)]
fn exercise_2_retrieve_equals_the_reference() {
    for (seed, n, dim, k) in [
        (1u64, 50, 8, 3),
        (2, 500, 384, 5),
        (3, 7, 33, 7),
        (4, 20, 4, 0),
    ] {
        let mut store = glassbox::compare::rand_vec(seed, n * dim);
        for row in store.chunks_exact_mut(dim) {
            glassbox::model::bert::l2_normalize(row);
        }
        let mut q = glassbox::compare::rand_vec(seed + 100, dim);
        glassbox::model::bert::l2_normalize(&mut q);
        let want: Vec<usize> = top_k_naive(&store, &q, k)
            .into_iter()
            .map(|h| h.index)
            .collect();
        assert_eq!(
            answer::retrieve(&store, dim, &q, k),
            want,
            "n {n}, dim {dim}, k {k}"
        );
    }
}
