//! Chapter 8 exercises: the KV-cache.
//!
//! The exercises ship open: each function in `answer` below is a `todo!()` for you to replace.
//! A plain `cargo test` skips them (they are `#[ignore]`d, so the suite stays green); run yours
//! with
//!
//! ```text
//! cargo test --test ch08_exercises -- --ignored
//! ```
//!
//! The reference solutions are in `tests/solutions/ch08.rs` (and the book's appendix);
//! `cargo test --test ch08_exercises --features solutions` checks them.
//!
//! 1. **Predict the number.** How many bytes of f32 KV-cache does one token of context cost in
//!    SmolLM2-135M (30 layers, 3 KV heads of 64)? And a full context of 8192 tokens?
//! 2. **Make it pass.** Write `greedy_without_cache`: greedy generation that runs the whole
//!    sequence from an empty cache at every step. The test checks that it gives the same 50 ids
//!    as generation with the cache, on the tiny Llama of `tests/fixtures/tiny/`.

use glassbox::model::Llama;

/// Your answers: replace each `todo!()`.
#[cfg(not(feature = "solutions"))]
#[allow(unused_variables)]
mod answer {
    use glassbox::model::Llama;

    /// Exercise 1: (bytes per token of context, bytes for 8192 tokens).
    pub fn kv_bytes() -> (usize, usize) {
        todo!("exercise 1: K and V × layers × KV heads × head_dim × 4 bytes, per position")
    }

    /// Exercise 2: `n` greedy ids after `prompt`, every step from an empty cache.
    pub fn greedy_without_cache(m: &Llama, prompt: &[u32], n: usize) -> Vec<u32> {
        todo!("exercise 2: a fresh (or reset) session per step, forward the whole sequence, argmax")
    }
}

/// The reference solutions (`--features solutions`).
#[cfg(feature = "solutions")]
#[path = "solutions/ch08.rs"]
mod answer;

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::kv_bytes, then run with -- --ignored"
)]
fn exercise_1_kv_cache_bytes() {
    // SmolLM2-135M's shapes, as the config says (no download needed for this one)
    let bytes_for = |ctx| glassbox::kv_cache::KvCache::bytes_for(30, 3, 64, ctx, 4);
    let (per_token, full) = answer::kv_bytes();
    assert_eq!(
        per_token,
        bytes_for(1),
        "per token: your answer {per_token}"
    );
    assert_eq!(full, bytes_for(8192), "8192 tokens: your answer {full}");
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: write answer::greedy_without_cache, then run with -- --ignored"
)]
fn exercise_2_with_and_without_the_cache() {
    let m = Llama::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/tiny/tiny.gguf"
    ))
    .unwrap();
    let prompt = [1u32, 17, 42];
    let n = 50;
    // with the cache: one prefill, then one token per step
    let mut s = m.new_session(prompt.len() + n).unwrap();
    let mut logits = m.forward(&mut s, &prompt).unwrap().to_vec();
    let mut cached = Vec::new();
    for _ in 0..n {
        let next = glassbox::sampler::argmax(&logits);
        cached.push(next);
        if cached.len() < n {
            logits = m.forward(&mut s, &[next]).unwrap().to_vec();
        }
    }
    assert_eq!(answer::greedy_without_cache(&m, &prompt, n), cached);
}
