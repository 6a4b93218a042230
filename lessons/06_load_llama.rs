//! Lesson 6: real weights, as stored.
//!
//! Opens SmolLM2-135M-Instruct (GGUF, Q4_1; fetched on first use), prints its config, the
//! stored types of its tensors and the first values of one weight row; then decodes one Q4_1
//! block *by hand* from its 20 bytes and checks the result against the library's decoder;
//! finally times loading (memory map vs reading the whole file) and measures how much
//! precision Q8_0 / Q4_1 / Q4_0 keep on a real embedding row.
//!
//! Run: `cargo run --release --example 06_load_llama`

use std::collections::BTreeMap;
use std::time::Instant;

use glassbox::data;
use glassbox::model::Llama;
use glassbox::quant::{self, DType};

// ANCHOR: q4_1_by_hand
/// One Q4_1 block (32 weights in 20 bytes) decoded by hand:
///
/// ```text
/// bytes 0..2   d  (f16)  the step between levels
/// bytes 2..4   m  (f16)  the minimum (the value of level 0)
/// bytes 4..20  qs        16 bytes, two 4-bit levels each:
///              element j      = d · (qs[j] & 0x0F) + m      j = 0..16 (low nibbles)
///              element j + 16 = d · (qs[j] >> 4)   + m      (high nibbles)
/// ```
fn q4_1_block_by_hand(block: &[u8]) -> [f32; 32] {
    let d = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
    let m = half::f16::from_le_bytes([block[2], block[3]]).to_f32();
    let qs = &block[4..20];
    let mut out = [0.0f32; 32];
    for j in 0..16 {
        out[j] = d * (qs[j] & 0x0F) as f32 + m;
        out[j + 16] = d * (qs[j] >> 4) as f32 + m;
    }
    out
}
// ANCHOR_END: q4_1_by_hand

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
}

fn main() -> glassbox::Result<()> {
    let path = data::default_model()?;

    // ANCHOR: load
    let t = Instant::now();
    let model = Llama::load(&path)?; // memory-mapped: tensors point into the file
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    // ANCHOR_END: load
    let c = &model.config;
    println!("{}", path.display());
    println!(
        "config: d_model {}, {} layers, {} query heads / {} KV heads of {}, FFN {}, vocab {}, \
         θ {}, ε {:e}, tied {}, max context {}",
        c.hidden_size,
        c.num_hidden_layers,
        c.num_attention_heads,
        c.num_key_value_heads,
        c.head_dim(),
        c.intermediate_size,
        c.vocab_size,
        c.rope_theta,
        c.rms_norm_eps,
        c.tie_word_embeddings,
        c.max_position_embeddings
    );
    println!("parameters: {}", c.param_counts().total());

    // Stored types: which tensors are which format, and their bytes.
    let mut by_type: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut note = |w: &glassbox::weights::tensor::WeightMatrix| {
        let e = by_type.entry(w.dtype.name()).or_default();
        e.0 += 1;
        e.1 += w.bytes().len();
    };
    note(&model.weights.embed_tokens);
    for l in &model.weights.layers {
        for w in l.matrices() {
            note(w);
        }
    }
    for (ty, (n, bytes)) in &by_type {
        println!("  {ty:5} {n:4} matrices  {:7.2} MB", *bytes as f64 / 1e6);
    }
    println!(
        "  (norm weights: {} vectors of {} f32)",
        2 * c.num_hidden_layers + 1,
        c.hidden_size
    );

    // ANCHOR: first_values
    let w = &model.weights.layers[0].gate_proj; // [1536, 576], Q4_1
    let mut row = vec![0.0f32; w.cols];
    w.dequantize_row(0, &mut row);
    println!(
        "\n{} [{}, {}] {}: row 0 = {:.4?} ...",
        w.name,
        w.rows,
        w.cols,
        w.dtype.name(),
        &row[..8]
    );
    // ANCHOR_END: first_values

    // ANCHOR: block
    let bytes = w.row(0); // 576 / 32 = 18 blocks × 20 bytes = 360 bytes
    let block = &bytes[..20];
    println!("first block, 20 bytes: {:02x?}", block);
    let by_hand = q4_1_block_by_hand(block);
    let d = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
    let m = half::f16::from_le_bytes([block[2], block[3]]).to_f32();
    println!("d = {d:.6}, m = {m:.6}, qs[0] = 0x{:02x} → element 0 = d·{} + m = {:.6}, element 16 = d·{} + m = {:.6}",
        block[4], block[4] & 0xF, by_hand[0], block[4] >> 4, by_hand[16]);
    let same = by_hand.iter().zip(&row[..32]).all(|(a, b)| a == b);
    println!("by hand == library decoder for all 32 elements: {same}");
    // ANCHOR_END: block
    assert!(
        same,
        "the hand decoder disagrees with quant::dequantize_row"
    );

    // Loading: map vs read. The load maps the file (the weights' pages are mapped into the
    // process on a second thread while the tokenizer is built); reading copies every byte.
    let t = Instant::now();
    let all = std::fs::read(&path).map_err(|e| glassbox::Error::io(&path, e))?;
    let read_ms = t.elapsed().as_secs_f64() * 1e3;
    println!(
        "\nload (memory map + tokenizer + Q/K row permutation): {load_ms:.0} ms; \
              reading all {:.1} MB into memory: {read_ms:.0} ms",
        all.len() as f64 / 1e6
    );

    // Round-trip error on a real row: the embedding of " Paris" (stored Q8_0), re-quantized.
    let paris = model.tokenizer.encode(" Paris");
    let id = paris[0] as usize;
    let mut x = vec![0.0f32; c.hidden_size];
    model.weights.embed_tokens.dequantize_row(id, &mut x);
    println!(
        "\nembedding row of {:?} (id {id}), rms {:.4}; quantized again:",
        " Paris",
        rms(&x)
    );
    for dt in [DType::Q8_0, DType::Q4_1, DType::Q4_0] {
        let q = quant::quantize_row(dt, &x);
        let mut back = vec![0.0f32; x.len()];
        quant::dequantize_row(dt, &q, &mut back);
        let err: Vec<f32> = x.iter().zip(&back).map(|(a, b)| a - b).collect();
        println!(
            "  {:5} {:4} bytes ({:.2} bits/weight): rms error {:.5} ({:.2}% of the row's rms)",
            dt.name(),
            q.len(),
            q.len() as f64 * 8.0 / x.len() as f64,
            rms(&err),
            100.0 * rms(&err) / rms(&x)
        );
    }
    println!("  (the row is stored as Q8_0, so Q8_0 gives it back exactly: quantizing twice loses nothing more)");
    Ok(())
}
