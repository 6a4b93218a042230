//! Lesson 10: the generation loop, written out over the library's modules, streaming.
//!
//! Prefill the prompt once, then sample → print → feed back one token at a time over the
//! KV-cache, until `<|im_end|>` or 48 tokens. Prints the time to first token, the time of a
//! decode step, and the least time the memory allows: every decode step reads every weight once,
//! at the read bandwidth this lesson measures on your machine.
//!
//!     cargo run --release --example 10_generate

use glassbox::model::Llama;
use glassbox::sampler::{Sampler, SamplerConfig};
use std::io::Write;
use std::time::Instant;

fn main() -> glassbox::Result<()> {
    // ANCHOR: loop
    let model = Llama::load(glassbox::data::default_model()?)?;
    let tok = &model.tokenizer;
    let prompt = tok.encode("The capital of France is");
    let max_new = 48;
    let eos = glassbox::chat::stop_token_ids(tok); // <|im_end|>, <|endoftext|>, …
    let mut session = model.new_session(prompt.len() + max_new)?; // KV-cache: [layer, pos, kv_dim]
    let mut sampler = Sampler::new(SamplerConfig {
        temperature: 0.7,
        top_p: 0.9,
        seed: 42,
        ..Default::default()
    })?;
    let mut decoder = tok.stream_decoder(); // holds back incomplete UTF-8
    let mut history = prompt.clone();

    print!("{}", tok.decode(&prompt)?);
    let start = Instant::now();
    let mut logits = model.forward(&mut session, &prompt)?.to_vec(); // prefill: all prompt ids at once
    let mut ttft = None;
    let mut steps = Vec::new(); // time of each decode step
    for _ in 0..max_new {
        let id = sampler.sample(&mut logits, &history); // logits → one id
        ttft.get_or_insert(start.elapsed());
        if eos.contains(&id) {
            break;
        }
        history.push(id);
        print!("{}", decoder.push(id)?); // only whole characters
        std::io::stdout().flush().ok();
        let t = Instant::now();
        logits = model.forward(&mut session, &[id])?.to_vec(); // decode: one id over the cache
        steps.push(t.elapsed().as_secs_f64());
    }
    println!("{}", decoder.flush());
    // ANCHOR_END: loop

    // ANCHOR: measure
    let ttft = ttft.unwrap_or_default().as_secs_f64();
    steps.sort_by(|a, b| a.total_cmp(b));
    let median = steps[steps.len() / 2];
    let weight_bytes: usize = model.weights.embed_tokens.bytes().len()
        + model
            .weights
            .layers
            .iter()
            .map(|l| l.matrices().iter().map(|w| w.bytes().len()).sum::<usize>())
            .sum::<usize>();
    println!(
        "prompt {} tokens, generated {} tokens",
        prompt.len(),
        history.len() - prompt.len()
    );
    println!(
        "time to first token: {:.0} ms (prefill of {} tokens + one sample)",
        ttft * 1e3,
        prompt.len()
    );
    println!("decode: median {:.1} ms per token", median * 1e3);
    let bandwidth = read_bandwidth(); // bytes per second, all threads
    println!(
        "each decode step reads {:.1} MB of weights; this machine reads memory at {:.1} GB/s \
         (a sum over 256 MB on {} threads), so a step takes at least {:.1} ms",
        weight_bytes as f64 / 1e6,
        bandwidth / 1e9,
        rayon::current_num_threads(),
        weight_bytes as f64 / bandwidth * 1e3
    );
    // ANCHOR_END: measure
    Ok(())
}

/// Read bandwidth: the best of 5 sums over a 256 MB buffer (far larger than any cache), the
/// threads each summing their own part, as the decode step's products read their rows.
fn read_bandwidth() -> f64 {
    use rayon::prelude::*;
    // 16 independent running sums (two AVX registers), so the adds never wait for each other
    // and memory, not arithmetic, sets the pace
    let sum = |c: &[f32]| {
        let mut acc = [0.0f32; 16];
        for block in c.chunks_exact(16) {
            for (a, &x) in acc.iter_mut().zip(block) {
                *a += x;
            }
        }
        acc.iter().sum::<f32>()
    };
    let buf = vec![1.0f32; 64 << 20]; // 256 MB
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        let total: f32 = buf.par_chunks(1 << 16).map(sum).sum();
        std::hint::black_box(total);
        best = best.min(t.elapsed().as_secs_f64());
    }
    (buf.len() * 4) as f64 / best
}
