//! Lesson 04 — one transformer block, assembled from the stage 2 pieces, on random weights
//! with SmolLM2-135M's shapes (d_model 576, 9 query / 3 KV heads of 64, FFN 1536).
//!
//! ```text
//! cargo run --release --example 04_block
//! ```
//! ```text
//! x ─┬─ RMSNorm ─ Q,K,V ─ RoPE ─ attention ─ W_o ─(+)─┬─ RMSNorm ─ gate,up ─ SwiGLU ─ W_down ─(+)─▶
//!    └──────────────── residual ────────────────────┘  └──────────── residual ───────────────┘
//! ```
//! Prints the shape after every step, checks block 0 against the naive references, then runs
//! a stack of blocks and prints the residual stream's RMS and where the time goes.

use std::time::{Duration, Instant};

use glassbox::attention::{attention, attention_naive, AttentionShape};
use glassbox::compare::check_close;
use glassbox::kv_cache::KvCache;
use glassbox::matmul::{matmul, matmul_naive};
use glassbox::rmsnorm::{rms, rmsnorm_rows, rmsnorm_rows_naive};
use glassbox::rope::{RopeLayout, RopeTable};
use glassbox::swiglu::{mlp_naive, swiglu_inplace};
use rand::{Rng, SeedableRng};

const D: usize = 576;
const FFN: usize = 1536;
const SHAPE: AttentionShape = AttentionShape {
    n_heads: 9,
    n_kv_heads: 3,
    head_dim: 64,
};
const EPS: f32 = 1e-5;
/// The fast block (SIMD matmul, f32 softmax) vs the naive one (plain loops, f64 softmax):
/// sums of 576–1536 products of values ~1, accumulated in a different order.
const BLOCK_TOL: f32 = 1e-3;

/// One block's weights, all f32, `[out, in]`.
struct Block {
    attn_norm: Vec<f32>, // [d]
    wq: Vec<f32>,        // [n_heads·hd, d]
    wk: Vec<f32>,        // [n_kv·hd, d]
    wv: Vec<f32>,        // [n_kv·hd, d]
    wo: Vec<f32>,        // [d, n_heads·hd]
    mlp_norm: Vec<f32>,  // [d]
    w_gate: Vec<f32>,    // [ffn, d]
    w_up: Vec<f32>,      // [ffn, d]
    w_down: Vec<f32>,    // [d, ffn]
}

impl Block {
    /// Uniform weights with variance 1/in_features (each projection keeps the scale of its input).
    fn random(rng: &mut rand::rngs::StdRng) -> Block {
        let mut m = |rows: usize, cols: usize| -> Vec<f32> {
            let a = (3.0 / cols as f32).sqrt();
            (0..rows * cols).map(|_| rng.random_range(-a..a)).collect()
        };
        Block {
            attn_norm: vec![1.0; D],
            wq: m(SHAPE.q_dim(), D),
            wk: m(SHAPE.kv_dim(), D),
            wv: m(SHAPE.kv_dim(), D),
            wo: m(D, SHAPE.q_dim()),
            mlp_norm: vec![1.0; D],
            w_gate: m(FFN, D),
            w_up: m(FFN, D),
            w_down: m(D, FFN),
        }
    }
}

/// Time spent in the two halves of the block.
#[derive(Default)]
struct Timing {
    attn: Duration,
    mlp: Duration,
}

// ANCHOR: block
/// One block on `x: [T, d]` in place, for tokens at positions `start_pos..start_pos+T`.
fn block(
    x: &mut [f32],
    w: &Block,
    cache: &mut KvCache,
    layer: usize,
    start_pos: usize,
    rope: &RopeTable,
    time: &mut Timing,
    show: bool,
) {
    let t = x.len() / D;
    let (qd, kvd) = (SHAPE.q_dim(), SHAPE.kv_dim());
    let say = |what: &str, shape: &[usize]| {
        if show {
            println!("   {what:<44} {shape:?}")
        }
    };
    let t0 = Instant::now();
    // 1. attention half: x = x + W_o · attention(RoPE(W_q·n), RoPE(W_k·n), W_v·n),  n = RMSNorm(x)
    let mut n = vec![0.0f32; t * D];
    rmsnorm_rows(x, &w.attn_norm, EPS, &mut n);
    say("n = rmsnorm(x)", &[t, D]);
    let mut q = vec![0.0f32; t * qd];
    matmul(&n, &w.wq, &mut q, t, D, qd);
    let (k, v) = cache.rows_mut(layer, start_pos, t); // K/V go straight into the cache
    matmul(&n, &w.wk, k, t, D, kvd);
    matmul(&n, &w.wv, v, t, D, kvd);
    say("q = n·W_qᵀ ; k, v = n·W_kᵀ, n·W_vᵀ (cache)", &[t, qd]);
    rope.apply_rows(&mut q, SHAPE.n_heads, start_pos, RopeLayout::HalfSplit);
    rope.apply_rows(k, SHAPE.n_kv_heads, start_pos, RopeLayout::HalfSplit);
    let mut a = vec![0.0f32; t * qd];
    attention(&q, cache, layer, start_pos, &SHAPE, &mut a, None);
    say("a = attention(q, K, V), 9 heads over 3 KV heads", &[t, qd]);
    let mut o = vec![0.0f32; t * D];
    matmul(&a, &w.wo, &mut o, t, qd, D);
    x.iter_mut().zip(&o).for_each(|(xi, oi)| *xi += oi);
    say("x = x + a·W_oᵀ", &[t, D]);
    time.attn += t0.elapsed();
    let t0 = Instant::now();
    // 2. MLP half: x = x + W_down · (silu(W_gate·n) ⊙ W_up·n),  n = RMSNorm(x)
    rmsnorm_rows(x, &w.mlp_norm, EPS, &mut n);
    let (mut gate, mut up) = (vec![0.0f32; t * FFN], vec![0.0f32; t * FFN]);
    matmul(&n, &w.w_gate, &mut gate, t, D, FFN);
    matmul(&n, &w.w_up, &mut up, t, D, FFN);
    swiglu_inplace(&mut gate, &up);
    say("g = silu(n·W_gateᵀ) ⊙ n·W_upᵀ", &[t, FFN]);
    matmul(&gate, &w.w_down, &mut o, t, FFN, D);
    x.iter_mut().zip(&o).for_each(|(xi, oi)| *xi += oi);
    say("x = x + g·W_downᵀ", &[t, D]);
    time.mlp += t0.elapsed();
}
// ANCHOR_END: block

/// The same block from the naive references (plain loops), for the check.
fn block_naive(x: &[f32], w: &Block, rope: &RopeTable) -> Vec<f32> {
    let t = x.len() / D;
    let (qd, kvd) = (SHAPE.q_dim(), SHAPE.kv_dim());
    let mut n = vec![0.0f32; t * D];
    rmsnorm_rows_naive(x, &w.attn_norm, EPS, &mut n);
    let (mut q, mut k, mut v) = (vec![0.0; t * qd], vec![0.0; t * kvd], vec![0.0; t * kvd]);
    matmul_naive(&n, &w.wq, &mut q, t, D, qd);
    matmul_naive(&n, &w.wk, &mut k, t, D, kvd);
    matmul_naive(&n, &w.wv, &mut v, t, D, kvd);
    rope.apply_rows(&mut q, SHAPE.n_heads, 0, RopeLayout::HalfSplit);
    rope.apply_rows(&mut k, SHAPE.n_kv_heads, 0, RopeLayout::HalfSplit);
    let mut cache = KvCache::new(1, t, kvd);
    cache.write_rows(0, 0, &k, &v);
    let mut a = vec![0.0; t * qd];
    attention_naive(&q, &cache, 0, 0, &SHAPE, &mut a, None);
    let mut o = vec![0.0; t * D];
    matmul_naive(&a, &w.wo, &mut o, t, qd, D);
    let x1: Vec<f32> = x.iter().zip(&o).map(|(a, b)| a + b).collect();
    rmsnorm_rows_naive(&x1, &w.mlp_norm, EPS, &mut n);
    mlp_naive(&n, &w.w_gate, &w.w_up, &w.w_down, t, D, FFN, &mut o);
    x1.iter().zip(&o).map(|(a, b)| a + b).collect()
}

fn main() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let (t, n_layers) = (128usize, 8usize);
    let blocks: Vec<Block> = (0..n_layers).map(|_| Block::random(&mut rng)).collect();
    let rope = RopeTable::new(SHAPE.head_dim, t, 100000.0, None);
    // x: [T, d], unit-RMS random "embeddings"
    let x0: Vec<f32> = (0..t * D)
        .map(|_| rng.random_range(-1.732f32..1.732))
        .collect();
    let mut cache = KvCache::new(n_layers, t, SHAPE.kv_dim());
    let mut time = Timing::default();

    println!("1. one block, T = {t} tokens, shapes after every step:");
    println!("   {:<44} {:?}", "x", [t, D]);
    let mut x = x0.clone();
    block(&mut x, &blocks[0], &mut cache, 0, 0, &rope, &mut time, true);

    let want = block_naive(&x0, &blocks[0], &rope);
    let diff = check_close("block 0: fast vs naive", &x, &want, BLOCK_TOL);
    println!("\n2. block 0 vs the naive references (plain-loop matmul, attention, MLP): max |diff| = {diff:.2e}");

    println!(
        "\n3. the residual stream through {n_layers} random blocks (RMS over all T·d values):"
    );
    let mut x = x0.clone();
    let mut time = Timing::default();
    println!("   input     rms {:.3}", rms(&x));
    for (l, w) in blocks.iter().enumerate() {
        block(&mut x, w, &mut cache, l, 0, &rope, &mut time, false);
        println!("   block {l:>2}  rms {:.3}", rms(&x));
    }
    let total = time.attn + time.mlp;
    println!(
        "\n4. time for {n_layers} blocks at T = {t}: attention half {:.1} ms ({:.0}%), MLP half {:.1} ms ({:.0}%)",
        time.attn.as_secs_f64() * 1e3, 100.0 * time.attn.as_secs_f64() / total.as_secs_f64(),
        time.mlp.as_secs_f64() * 1e3, 100.0 * time.mlp.as_secs_f64() / total.as_secs_f64(),
    );
    let params = 2 * D + SHAPE.q_dim() * D * 2 + SHAPE.kv_dim() * D * 2 + 3 * FFN * D;
    println!(
        "   parameters per block: {params} (attention {}, MLP {}, norms {})",
        SHAPE.q_dim() * D * 2 + SHAPE.kv_dim() * D * 2,
        3 * FFN * D,
        2 * D
    );
}
