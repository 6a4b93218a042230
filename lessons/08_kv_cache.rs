//! Lesson 8: the KV-cache, measured.
//!
//! Generates 64 tokens greedily after "The capital of France is" twice:
//!
//! * **with the cache**: the prompt once (prefill), then each new token alone; its keys and
//!   values are appended to the cache and every earlier row is reused;
//! * **without**: every step runs the whole sequence so far again from an empty cache (what a
//!   model with no memory of its past work must do).
//!
//! It prints the time per token as the sequence grows (flat with the cache, growing linearly
//! without: the total is O(n) vs O(n²) in the sequence), checks that both produce the same ids,
//! and prints the cache's memory by the formula and as allocated.
//!
//! Run: `cargo run --release --example 08_kv_cache`

use std::time::Instant;

use glassbox::data;
use glassbox::model::{Llama, Session};

const NEW_TOKENS: usize = 64;

use glassbox::sampler::argmax;

// ANCHOR: with_cache
/// Greedy generation reusing the cache: one prefill, then one token per forward pass.
/// Returns the ids and the seconds each new token took.
fn with_cache(
    m: &Llama,
    s: &mut Session,
    prompt: &[u32],
) -> glassbox::Result<(Vec<u32>, Vec<f64>)> {
    s.reset();
    let (mut ids, mut times) = (Vec::new(), Vec::new());
    let t = Instant::now();
    let mut next = argmax(m.forward(s, prompt)?);
    times.push(t.elapsed().as_secs_f64());
    for _ in 1..NEW_TOKENS {
        ids.push(next);
        let t = Instant::now();
        next = argmax(m.forward(s, &[next])?); // only the new token goes through the model
        times.push(t.elapsed().as_secs_f64());
    }
    ids.push(next);
    Ok((ids, times))
}
// ANCHOR_END: with_cache

// ANCHOR: without_cache
/// Greedy generation recomputing everything: each step runs prompt + generated so far.
fn without_cache(
    m: &Llama,
    s: &mut Session,
    prompt: &[u32],
) -> glassbox::Result<(Vec<u32>, Vec<f64>)> {
    let mut seq = prompt.to_vec();
    let mut times = Vec::new();
    for _ in 0..NEW_TOKENS {
        s.reset(); // forget every key and value: start from position 0 again
        let t = Instant::now();
        let next = argmax(m.forward(s, &seq)?);
        times.push(t.elapsed().as_secs_f64());
        seq.push(next);
    }
    Ok((seq[prompt.len()..].to_vec(), times))
}
// ANCHOR_END: without_cache

fn main() -> glassbox::Result<()> {
    let model = Llama::load(data::default_model()?)?;
    let prompt = model
        .tokenizer
        .encode_with_special("The capital of France is");
    let ctx = prompt.len() + NEW_TOKENS;
    let mut session = model.new_session(ctx)?;

    // ANCHOR: memory
    let per_token = model.kv_cache_bytes(1);
    println!(
        "KV-cache: 2 × {} layers × {} KV heads × {} dims × 4 bytes = {per_token} bytes per token of context",
        model.config.num_hidden_layers,
        model.config.num_key_value_heads,
        model.config.head_dim()
    );
    println!(
        "this session ({ctx} positions): formula {} bytes, allocated {} bytes; at the model's \
         maximum of {} positions: {:.0} MB",
        model.kv_cache_bytes(ctx),
        session.kv_cache_bytes(),
        model.config.max_position_embeddings,
        model.kv_cache_bytes(model.config.max_position_embeddings) as f64 / 1e6
    );
    // ANCHOR_END: memory

    with_cache(&model, &mut session, &prompt)?; // warm-up (page in the weights, start the threads)
    let (ids_a, t_a) = with_cache(&model, &mut session, &prompt)?;
    let (ids_b, t_b) = without_cache(&model, &mut session, &prompt)?;

    println!(
        "\nms per new token ({} rayon threads); sequence length = prompt {} + tokens so far",
        rayon::current_num_threads(),
        prompt.len()
    );
    println!(
        "{:>6} {:>8} {:>12} {:>14}",
        "token", "seq len", "with cache", "without cache"
    );
    for i in [1usize, 2, 4, 8, 16, 32, 48, 64] {
        let k = i - 1;
        println!(
            "{i:>6} {:>8} {:>12.2} {:>14.2}",
            prompt.len() + k + 1,
            t_a[k] * 1e3,
            t_b[k] * 1e3
        );
    }
    let (sum_a, sum_b): (f64, f64) = (t_a.iter().sum(), t_b.iter().sum());
    println!(
        "total for {NEW_TOKENS} tokens: with cache {sum_a:.2} s, without {sum_b:.2} s: {:.1}× slower",
        sum_b / sum_a
    );
    println!("same ids with and without the cache: {}", ids_a == ids_b);
    println!("{:?}", model.tokenizer.decode(&ids_a).unwrap_or_default());
    Ok(())
}
