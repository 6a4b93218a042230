//! Lesson 7: the whole forward pass on a real prompt.
//!
//! Runs "The capital of France is" through SmolLM2-135M-Instruct, follows the last token's
//! hidden state through the 30 layers (its norm and first values after each), prints the top-5
//! next tokens, then measures the latency of a forward pass over 1, 16 and 128 tokens and the
//! process's peak memory.
//!
//! Run: `cargo run --release --example 07_forward`

use std::time::Instant;

use glassbox::data;
use glassbox::model::Llama;

fn norm(x: &[f32]) -> f32 {
    x.iter().map(|v| v * v).sum::<f32>().sqrt()
}

/// Peak resident memory of this process (Linux `VmHWM`), in MB; `None` elsewhere.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() -> glassbox::Result<()> {
    let model = Llama::load(data::default_model()?)?;
    let prompt = "The capital of France is";

    // ANCHOR: run
    let ids = model.tokenizer.encode_with_special(prompt);
    let mut session = model.new_session(256)?;
    session.set_capture(model.config.num_hidden_layers, true);
    let logits = model.forward(&mut session, &ids)?.to_vec();
    // ANCHOR_END: run

    let pieces: Vec<String> = ids
        .iter()
        .map(|&id| {
            String::from_utf8_lossy(model.tokenizer.token_bytes(id).unwrap_or(b"?")).into_owned()
        })
        .collect();
    println!("{prompt:?} → ids {ids:?} = {pieces:?}");
    println!(
        "x: [{}, {}] → 30 blocks → logits: [{}]\n",
        ids.len(),
        model.config.hidden_size,
        logits.len()
    );

    // ANCHOR: layers
    let states = session.captured().expect("capture is on");
    let n = model.config.num_hidden_layers;
    println!("the last token's hidden state (‖x‖ and its first 4 values):");
    for (i, x) in states.iter().enumerate() {
        let label = match i {
            0 => "embedding".to_string(),
            i if i == n + 1 => "final norm".to_string(),
            i => format!("after layer {:2}", i - 1),
        };
        if i <= 3 || i >= n - 2 || i % 5 == 0 {
            println!("  {label:15} ‖x‖ = {:8.2}   {:.3?}", norm(x), &x[..4]);
        }
    }
    // ANCHOR_END: layers

    // ANCHOR: top5
    let max = logits.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    let z: f32 = logits.iter().map(|&l| (l - max).exp()).sum();
    let top = glassbox::sampler::largest(&logits, 5);
    println!("\ntop-5 next tokens:");
    for glassbox::sampler::Candidate { id, logit: l } in top {
        let text =
            String::from_utf8_lossy(model.tokenizer.token_bytes(id).unwrap_or(b"?")).into_owned();
        println!(
            "  {id:6} {text:12?} logit {l:7.3}  p = {:.3}",
            (l - max).exp() / z
        );
    }
    // ANCHOR_END: top5

    // Latency of one forward pass over n tokens (best of 3, from an empty cache).
    println!(
        "\nlatency of a forward pass ({} rayon threads):",
        rayon::current_num_threads()
    );
    let long: Vec<u32> = ids.iter().copied().cycle().take(128).collect();
    for len in [1usize, 16, 128] {
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            session.reset();
            let t = Instant::now();
            model.forward(&mut session, &long[..len])?;
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!(
            "  {len:4} tokens: {:7.1} ms  ({:6.1} tokens/s)",
            best * 1e3,
            len as f64 / best
        );
    }
    if let Some(mb) = peak_rss_mb() {
        println!("peak resident memory: {mb:.0} MB (weights are mapped, so the file's pages count once touched)");
    }
    Ok(())
}
