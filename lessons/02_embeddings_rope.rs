//! Lesson 02 — embeddings and RoPE, on SmolLM2-135M's real embedding table.
//!
//! ```text
//! cargo run --release --example 02_embeddings_rope
//! ```
//! 1. Token ids → rows of the embedding table: x: [T, 576].
//! 2. The same lookup written as a one-hot matrix product, timed against the lookup.
//! 3. RoPE: rotate one head of a real vector; its length stays, and the dot product of a
//!    rotated query and key depends only on how far apart they are.
//! 4. The two pairings (half-split and interleaved) on a vector you can check by hand.

use std::time::Instant;

use glassbox::data;
use glassbox::rmsnorm::rms;
use glassbox::rope::{inv_freq, RopeLayout, RopeTable};
use glassbox::weights::model_files::ModelFiles;

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn fmt(v: &[f32]) -> String {
    let s: Vec<String> = v.iter().map(|x| format!("{x:+.4}")).collect();
    format!("[{}]", s.join(", "))
}

fn main() -> glassbox::Result<()> {
    let path = data::default_model()?;
    let model = ModelFiles::open(&path)?;
    let cfg = &model.config;
    let d = cfg.hidden_size;
    let head_dim = cfg.hidden_size / cfg.num_attention_heads;
    println!(
        "model: {} (d_model {d}, vocab {}, head_dim {head_dim}, rope_theta {})",
        path.display(),
        cfg.vocab_size,
        cfg.rope_theta
    );

    // ---- 1. embedding lookup ------------------------------------------------------------
    let prompt = "The capital of France is";
    let ids = model.tokenizer.encode(prompt);
    let emb = &model.weights.embed_tokens;
    println!("\n1. lookup: {prompt:?} -> ids {ids:?}");
    println!(
        "   embedding table: [{}, {}] stored as {}",
        emb.rows,
        emb.cols,
        emb.dtype.name()
    );
    // ANCHOR: lookup
    // x: [T, d_model] — row t is row ids[t] of the embedding table, decoded to f32
    let mut x = vec![0.0f32; ids.len() * d];
    for (t, &id) in ids.iter().enumerate() {
        emb.dequantize_row(id as usize, &mut x[t * d..(t + 1) * d]);
    }
    // ANCHOR_END: lookup
    for (t, &id) in ids.iter().enumerate() {
        let text = model.tokenizer.decode(&[id]).unwrap_or_default();
        let row = &x[t * d..(t + 1) * d];
        println!(
            "   {t} {id:>6} {text:>9?}  first {}  rms {:.4}",
            fmt(&row[..4]),
            rms(row)
        );
    }

    // ---- 2. lookup vs one-hot matmul ------------------------------------------------------
    // one_hot(id) · E = Σ_v one_hot[v] · E[v] reads the whole table to pick out one row.
    let t0 = Instant::now();
    let mut table = vec![0.0f32; emb.rows * d]; // E: [vocab, d] in f32 (113 MB)
    for r in 0..emb.rows {
        emb.dequantize_row(r, &mut table[r * d..(r + 1) * d]);
    }
    println!(
        "\n2. decoded the whole table to f32 in {:.0} ms",
        t0.elapsed().as_secs_f64() * 1e3
    );
    let id = ids[1] as usize;
    let reps = 5;
    let t0 = Instant::now();
    let mut via_onehot = vec![0.0f32; d];
    for _ in 0..reps {
        via_onehot.fill(0.0);
        for v in 0..emb.rows {
            let w = if v == id { 1.0f32 } else { 0.0 }; // one_hot[v]
            for (o, e) in via_onehot.iter_mut().zip(&table[v * d..(v + 1) * d]) {
                *o += w * e;
            }
        }
    }
    let onehot_s = t0.elapsed().as_secs_f64() / reps as f64;
    let t0 = Instant::now();
    let mut via_lookup = vec![0.0f32; d];
    for _ in 0..1000 {
        via_lookup.copy_from_slice(std::hint::black_box(&table[id * d..(id + 1) * d]));
    }
    let lookup_s = t0.elapsed().as_secs_f64() / 1000.0;
    assert_eq!(
        via_onehot, via_lookup,
        "one-hot product and lookup must agree exactly"
    );
    println!(
        "   one-hot matmul {:.2} ms, lookup {:.3} µs: same row, {:.0}x faster",
        onehot_s * 1e3,
        lookup_s * 1e6,
        onehot_s / lookup_s
    );

    // ---- 3. RoPE on a real vector ----------------------------------------------------------
    let rope = RopeTable::new(head_dim, 2048, cfg.rope_theta, cfg.rope_scaling.as_ref());
    let q: Vec<f32> = x[head_dim..2 * head_dim].to_vec(); // the 2nd 64 values of token 0
    let k: Vec<f32> = x[d..d + head_dim].to_vec(); //         the 1st 64 values of token 1
    let rot = |v: &[f32], m: usize| {
        let mut r = v.to_vec();
        rope.apply(&mut r, m, RopeLayout::HalfSplit);
        r
    };
    println!(
        "\n3. RoPE, head_dim {head_dim}, theta {}: one head of a real vector",
        cfg.rope_theta
    );
    for m in [0, 1, 2, 10, 100, 1000] {
        let r = rot(&q, m);
        println!(
            "   position {m:>4}: first {}  |rope(q,{m})| = {:.6}",
            fmt(&r[..3]),
            norm(&r)
        );
    }
    println!("   |q| = {:.6}: a rotation keeps the length", norm(&q));
    for (m, n) in [(5, 3), (105, 103), (1005, 1003), (5, 4), (5, 0)] {
        println!(
            "   <rope(q,{m:>4}), rope(k,{n:>4})> = {:+.6}   (m - n = {})",
            dot(&rot(&q, m), &rot(&k, n)),
            m - n
        );
    }
    let f = inv_freq(head_dim, cfg.rope_theta, cfg.rope_scaling.as_ref());
    for i in [0, 8, 16, 24, 31] {
        println!(
            "   pair {i:>2}: theta_i = {:.3e} rad/token, one turn every {:.1} tokens",
            f[i],
            2.0 * std::f32::consts::PI / f[i]
        );
    }

    // ---- 4. the two pairings, by hand ------------------------------------------------------
    let toy = RopeTable::new(4, 2, 10000.0, None);
    let v = [1.0f32, 2.0, 3.0, 4.0];
    let (mut half, mut inter) = (v, v);
    toy.apply(&mut half, 1, RopeLayout::HalfSplit);
    toy.apply(&mut inter, 1, RopeLayout::Interleaved);
    println!(
        "\n4. head_dim 4, position 1, theta_0 = 1 rad, theta_1 = 0.01 rad, v = {}",
        fmt(&v)
    );
    println!("   half-split  pairs (0,2) (1,3): {}", fmt(&half));
    println!("   interleaved pairs (0,1) (2,3): {}", fmt(&inter));
    Ok(())
}
