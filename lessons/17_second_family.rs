//! Lesson 17: a second family. SmolLM2 (Llama) and Gemma 3 270M run through the same forward
//! pass; this prints where they differ (the file's `Family`), how each tokenizer cuts the same
//! sentence, what the sliding windows save in KV-cache bytes (allocated, measured), and both
//! models' greedy continuation of one prompt.
//!
//!     cargo run --release --example 17_second_family
//!
//! It only prints (the book's copy, `book/src/ch17-lesson-output.txt`, is its output saved
//! through a temporary name). The tok/s it prints are the speed of the machine that runs it.

use std::time::Instant;

use glassbox::model::Llama;
use glassbox::sampler::argmax;

const PROMPT: &str = "The capital of France is";
const STEPS: usize = 12;

fn main() -> glassbox::Result<()> {
    let smollm2 = Llama::load(glassbox::data::default_model()?)?;
    let gemma = Llama::load(glassbox::data::gemma::gemma3_270m_q4_k_m()?)?;

    // ANCHOR: families
    for m in [&smollm2, &gemma] {
        let (c, f) = (&m.config, &m.config.family);
        let local = (0..c.num_hidden_layers)
            .filter(|&l| f.window(l).is_some())
            .count();
        println!(
            "{:7} d {:4}  layers {:2}  heads {}/{} × {:3}  vocab {:6}  gate {:17}  qk-norm {:5}  sandwich {:5}  embed × {:.2}  local layers {local:2} (window {})",
            f.name(),
            c.hidden_size,
            c.num_hidden_layers,
            c.num_attention_heads,
            c.num_key_value_heads,
            c.head_dim(),
            c.vocab_size,
            f.activation().hf_name(),
            f.has_qk_norm(),
            f.has_sandwich_norms(),
            f.embedding_scale(c.hidden_size).unwrap_or(1.0),
            f.window(0).map_or("none".to_string(), |w| w.to_string()),
        );
    }
    // ANCHOR_END: families

    // ANCHOR: tokenizers
    let sentence = "Sliding windows save memory: 12,345 tokens ≈ 3.2 MB 🦀";
    for m in [&smollm2, &gemma] {
        let t = &m.tokenizer;
        let ids = t.encode(sentence);
        let pieces: Vec<String> = ids
            .iter()
            .map(|&i| String::from_utf8_lossy(t.token_bytes(i).unwrap_or(b"?")).into_owned())
            .collect();
        println!(
            "\n{} ({}, {} ids, add BOS: {})",
            m.config.family.name(),
            t.algorithm(),
            ids.len(),
            t.add_bos()
        );
        println!("  {}", pieces.join("|"));
        println!("  {ids:?}");
    }
    // ANCHOR_END: tokenizers

    // ANCHOR: kv_bytes
    println!("\nKV-cache, f32, allocated by a session (Gemma's local layers keep a ring of window − 1 + 512 rows):");
    for ctx in [512usize, 2048, 8192, 32768] {
        let c = &gemma.config;
        let real = gemma.new_session(ctx)?.kv_cache_bytes();
        let full = glassbox::kv_cache::KvCache::bytes_for(
            c.num_hidden_layers,
            c.num_key_value_heads,
            c.head_dim(),
            ctx,
            4,
        );
        println!(
            "  gemma3 {ctx:6} positions: {:7.1} MiB  (every layer full: {:7.1} MiB, {:4.1}× more)",
            real as f64 / (1 << 20) as f64,
            full as f64 / (1 << 20) as f64,
            full as f64 / real as f64
        );
    }
    // ANCHOR_END: kv_bytes

    // ANCHOR: generate
    println!("\n{PROMPT:?}, greedy, {STEPS} tokens (tok/s: prompt and new tokens over the wall time, on the machine that ran this):");
    for m in [&smollm2, &gemma] {
        let t = &m.tokenizer;
        let ids = t.encode_prompt(PROMPT); // Gemma: <bos> first, as its file says
        let mut s = m.new_session(ids.len() + STEPS)?;
        let start = Instant::now();
        let mut next = argmax(m.forward(&mut s, &ids)?);
        let mut out = Vec::new();
        for _ in 0..STEPS {
            out.push(next);
            next = argmax(m.forward(&mut s, &[next])?);
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "  {:7} {:?} → {:?}  ({:.1} tok/s)",
            m.config.family.name(),
            ids,
            t.decode(&out)?,
            (ids.len() + STEPS) as f64 / secs
        );
    }
    // ANCHOR_END: generate
    Ok(())
}
