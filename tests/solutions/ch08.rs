//! Chapter 8, reference solutions (included in the book's appendix; checked by
//! `cargo test --test ch08_exercises --features solutions`).

use glassbox::model::Llama;

// ANCHOR: ex1
/// 2 (K and V) × 30 layers × 3 KV heads × 64 dims × 4 bytes = 46,080 bytes per position;
/// × 8192 = 377,487,360 bytes (377 MB), more than the 98 MB of weights.
pub fn kv_bytes() -> (usize, usize) {
    let per_token = 2 * 30 * 3 * 64 * 4;
    (per_token, per_token * 8192)
}
// ANCHOR_END: ex1

// ANCHOR: ex2
/// One session reused: `reset` forgets the cache, and the whole sequence runs again.
pub fn greedy_without_cache(m: &Llama, prompt: &[u32], n: usize) -> Vec<u32> {
    let mut s = m.new_session(prompt.len() + n).expect("a session");
    let mut seq = prompt.to_vec();
    while seq.len() < prompt.len() + n {
        s.reset();
        let logits = m.forward(&mut s, &seq).expect("a forward pass");
        seq.push(glassbox::sampler::argmax(logits));
    }
    seq.split_off(prompt.len())
}
// ANCHOR_END: ex2
