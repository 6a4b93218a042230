//! Lesson 03 — causal attention with grouped-query heads, over a KV-cache.
//!
//! ```text
//! cargo run --release --example 03_attention
//! ```
//! 1. By hand: three tokens, one head of size 2: scores, mask, softmax, output (row 0 = v₀).
//! 2. SmolLM2's real layer 0 on "The capital of France is": embed → RMSNorm → Q/K/V →
//!    RoPE → cache → attention, step by step. Prints head 0's weights and checks all nine heads
//!    against the model's own forward pass (`model::probe::attention_map`, what
//!    `glassbox attention --layer 0` draws).
//! 3. Cost: one decode step and one prefill as the context doubles.

use std::time::Instant;

use glassbox::attention::{attention, AttentionShape};
use glassbox::compare::max_abs_diff;
use glassbox::data;
use glassbox::kv_cache::KvCache;
use glassbox::model::probe::attention_map;
use glassbox::model::Llama;
use glassbox::rmsnorm::rmsnorm_rows;
use glassbox::rope::{RopeLayout, RopeTable};
use glassbox::Result;

fn by_hand() {
    // ANCHOR: by_hand
    // three tokens, one head, head_dim 2 (scale 1/√2); K/V already in the cache
    let shape = AttentionShape {
        n_heads: 1,
        n_kv_heads: 1,
        head_dim: 2,
    };
    let mut cache = KvCache::new(1, 3, 2);
    cache.write_rows(
        0,
        0,
        &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0],
        &[1.0, 0.0, 0.0, 1.0, 0.5, 0.5],
    );
    let q = [1.0, 0.0, 1.0, 0.0, 0.0, 2.0]; // q: [3, 2]
    let mut out = [0.0f32; 6];
    let mut w = Vec::new();
    attention(&q, &cache, 0, 0, &shape, &mut out, Some(&mut w));
    // ANCHOR_END: by_hand
    println!(
        "1. by hand: k = [[1,0],[0,1],[1,1]], v = [[1,0],[0,1],[.5,.5]], q = [[1,0],[1,0],[0,2]]"
    );
    for i in 0..3 {
        let row: Vec<String> = (0..3)
            .map(|j| {
                if j > i {
                    "  -inf ".into()
                } else {
                    format!("{:7.4}", w[i * 3 + j])
                }
            })
            .collect();
        println!(
            "   query {i}: weights [{}]  output [{:.4}, {:.4}]",
            row.join(" "),
            out[2 * i],
            out[2 * i + 1]
        );
    }
}

fn main() -> Result<()> {
    by_hand();

    // ---- 2. real layer 0 -----------------------------------------------------------------
    let path = data::default_model()?;
    let m = Llama::load(&path)?;
    let c = &m.config;
    let (d, nh, nkv) = (c.hidden_size, c.num_attention_heads, c.num_key_value_heads);
    let shape = AttentionShape {
        n_heads: nh,
        n_kv_heads: nkv,
        head_dim: d / nh,
    };
    let prompt = "The capital of France is";
    let ids = m.tokenizer.encode(prompt);
    let t = ids.len();
    let (emb, layer0) = (&m.weights.embed_tokens, &m.weights.layers[0]);
    let mut x = vec![0.0f32; t * d]; // x: [T, d]
    for (i, &id) in ids.iter().enumerate() {
        emb.dequantize_row(id as usize, &mut x[i * d..(i + 1) * d]);
    }
    let mut h = vec![0.0f32; t * d]; // h: [T, d] = rmsnorm(x)
    rmsnorm_rows(&x, &layer0.input_layernorm.weight, c.rms_norm_eps, &mut h);
    let mut q = vec![0.0f32; t * shape.q_dim()]; // q: [T, n_heads·hd]
    let mut cache = KvCache::new(1, t, shape.kv_dim());
    {
        let (k, v) = cache.rows_mut(0, 0, t); // k, v: [T, n_kv·hd], projected straight into the cache
        layer0.q_proj.matmul(&h, t, &mut q);
        layer0.k_proj.matmul(&h, t, k);
        layer0.v_proj.matmul(&h, t, v);
        let rope = RopeTable::new(shape.head_dim, t, c.rope_theta, c.rope_scaling.as_ref());
        rope.apply_rows(&mut q, nh, 0, RopeLayout::HalfSplit);
        rope.apply_rows(k, nkv, 0, RopeLayout::HalfSplit);
    }
    cache.set_len(t);
    let mut out = vec![0.0f32; t * shape.q_dim()];
    let mut w = Vec::new(); // w: [n_heads, T, T]
    attention(&q, &cache, 0, 0, &shape, &mut out, Some(&mut w));

    let labels: Vec<String> = ids
        .iter()
        .map(|&id| m.tokenizer.decode(&[id]).unwrap_or_default())
        .collect();
    println!("\n2. SmolLM2 layer 0, {prompt:?}: {nh} query heads share {nkv} KV heads (head h reads KV head h / {})", shape.group());
    println!("   head 0 weights (row = query, column = key):");
    print!("   {:>10}", "");
    for l in &labels {
        print!("{:>9}", format!("{l:?}"));
    }
    println!();
    for i in 0..t {
        print!("   {:>10}", format!("{:?}", labels[i]));
        for j in 0..t {
            if j > i {
                print!("{:>9}", "·")
            } else {
                print!("{:>9.3}", w[i * t + j])
            }
        }
        println!();
    }
    // the same weights from the model's own forward pass, through the attention probe
    let model_w = attention_map(&m, &ids, 0)?;
    let (_, diff) = max_abs_diff(&w, &model_w);
    println!("   all {nh} heads equal the forward pass's layer 0 (model::probe::attention_map): max |Δ| {diff:.1e}");
    println!("   the picture: glassbox attention --prompt {prompt:?} --layer 0 --out layer0.svg");
    println!(
        "   KV-cache for this prompt: {} bytes in f32 for one layer ({} per token)",
        cache.bytes(),
        cache.bytes() / t
    );

    // ---- 3. cost as the context grows ------------------------------------------------------
    println!(
        "\n3. time (9 heads, 3 KV heads, head_dim 64; {} threads):",
        rayon::current_num_threads()
    );
    let shape = AttentionShape {
        n_heads: 9,
        n_kv_heads: 3,
        head_dim: 64,
    };
    let fill = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 2654435761) % 1000) as f32 / 1000.0 - 0.5)
            .collect()
    };
    let mut prev: Option<(f64, f64)> = None;
    for ctx in [256, 512, 1024, 2048] {
        let mut cache = KvCache::new(1, ctx, shape.kv_dim());
        cache.write_rows(
            0,
            0,
            &fill(ctx * shape.kv_dim()),
            &fill(ctx * shape.kv_dim()),
        );
        let q = fill(ctx * shape.q_dim());
        let mut out = vec![0.0f32; q.len()];
        let reps = 200;
        let t0 = Instant::now();
        for _ in 0..reps {
            attention(
                &q[..shape.q_dim()],
                &cache,
                0,
                ctx - 1,
                &shape,
                &mut out[..shape.q_dim()],
                None,
            );
        }
        let decode = t0.elapsed().as_secs_f64() / reps as f64;
        let t0 = Instant::now();
        attention(&q, &cache, 0, 0, &shape, &mut out, None);
        let prefill = t0.elapsed().as_secs_f64();
        let ratio = prev
            .map(|(d0, p0)| {
                format!(
                    "   (x{:.1} decode, x{:.1} prefill)",
                    decode / d0,
                    prefill / p0
                )
            })
            .unwrap_or_default();
        println!(
            "   context {ctx:>5}: decode step {:>7.1} µs   prefill {:>8.2} ms{ratio}",
            decode * 1e6,
            prefill * 1e3
        );
        prev = Some((decode, prefill));
    }
    Ok(())
}
