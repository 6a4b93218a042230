//! Chapter 8 exercises: `cargo test --test ch08_exercises`.
//!
//! The answers below are filled in so that the book's CI stays green. Cover them up, write your
//! own, and run the test. The reference answers are behind the `solutions` feature:
//! `cargo test --test ch08_exercises --features solutions`.
//!
//! 1. **Predict the number.** How many bytes of f32 KV-cache does one token of context cost in
//!    SmolLM2-135M (30 layers, 3 KV heads of 64)? And a full context of 8192 tokens?
//! 2. **Make it pass.** Write `answer::greedy_without_cache`: greedy generation that runs the
//!    whole sequence from an empty cache at every step. The test checks that it gives the same
//!    50 ids as generation with the cache, on the tiny Llama of `tests/fixtures/tiny/`.

use glassbox::model::Llama;

#[cfg(not(feature = "solutions"))]
mod answer {
    use glassbox::model::Llama;

    pub const KV_BYTES_PER_TOKEN: usize = 46_080;
    pub const KV_BYTES_8192: usize = 377_487_360;

    pub fn greedy_without_cache(m: &Llama, prompt: &[u32], n: usize) -> Vec<u32> {
        let mut seq = prompt.to_vec();
        for _ in 0..n {
            let mut s = m.new_session(seq.len()).unwrap();
            let logits = m.forward(&mut s, &seq).unwrap();
            seq.push(glassbox::sampler::argmax(logits));
        }
        seq[prompt.len()..].to_vec()
    }
}

#[cfg(feature = "solutions")]
mod answer {
    use glassbox::model::Llama;

    /// 2 (K and V) × 30 layers × 3 KV heads × 64 dims × 4 bytes.
    pub const KV_BYTES_PER_TOKEN: usize = 2 * 30 * 3 * 64 * 4;
    pub const KV_BYTES_8192: usize = KV_BYTES_PER_TOKEN * 8192;

    /// One session reused: reset forgets the cache, the whole sequence runs again.
    pub fn greedy_without_cache(m: &Llama, prompt: &[u32], n: usize) -> Vec<u32> {
        let mut s = m.new_session(prompt.len() + n).unwrap();
        let mut seq = prompt.to_vec();
        while seq.len() < prompt.len() + n {
            s.reset();
            let logits = m.forward(&mut s, &seq).unwrap();
            let mut best = 0;
            for (i, &l) in logits.iter().enumerate() {
                if l > logits[best] {
                    best = i;
                }
            }
            seq.push(best as u32);
        }
        seq.split_off(prompt.len())
    }
}

#[test]
fn exercise_1_kv_cache_bytes() {
    // SmolLM2-135M's shapes, as the config says (no download needed for this one)
    let bytes_for = |ctx| glassbox::kv_cache::KvCache::bytes_for(30, 3, 64, ctx, 4);
    assert_eq!(answer::KV_BYTES_PER_TOKEN, bytes_for(1));
    assert_eq!(answer::KV_BYTES_8192, bytes_for(8192));
}

#[test]
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
