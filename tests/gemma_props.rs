//! Property tests for what Gemma 3 adds: (1 + w) RMSNorm, QK-norm, GeGLU, sliding-window
//! attention over a ring-buffer KV-cache, and the whole Gemma forward pass (fast, chunked and
//! token by token) against the naive reference pass on small random models. No download.

use std::collections::BTreeMap;

use glassbox::attention::{attention, AttentionShape};
use glassbox::kv_cache::KvCache;
use glassbox::model::reference::forward_naive;
use glassbox::model::Llama;
use glassbox::quant::DType;
use glassbox::rmsnorm::rmsnorm_rows_inplace;
use glassbox::swiglu::{glu_inplace, glu_mlp_naive, Activation};
use glassbox::tokenizer::{Pretokenizer, Tokenizer};
use glassbox::weights::config::LlamaConfig;
use glassbox::weights::family::{Family, Gemma3};
use glassbox::weights::tensor::WeightMatrix;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// f32 against an f64 formula (norms, GELU) or another f32 summation order (attention,
/// whole forward): O(1) values, observed differences ~1e-6; a wrong band edge, a stale ring
/// row or a missing `1 +` moves results by ≥ 1e-2.
const TOL: f32 = 1e-4;

fn rand_vec(rng: &mut StdRng, n: usize, a: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-a..a)).collect()
}

/// RMSNorm in f64 of every `weight.len()`-wide row, scaled by `offset + w`.
fn rmsnorm_f64(x: &[f32], w: &[f32], offset: f64, eps: f64) -> Vec<f32> {
    x.chunks(w.len())
        .flat_map(|row| {
            let ms = row.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / row.len() as f64;
            let inv = 1.0 / (ms + eps).sqrt();
            row.iter()
                .zip(w)
                .map(move |(&v, &wi)| (v as f64 * inv * (offset + wi as f64)) as f32)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn assert_close(name: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{name}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol, "{name}[{i}]: {g} vs {w}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// QK-norm: every head of `[seq, heads·hd]` normalised on its own with the `[hd]` weight.
    #[test]
    fn qk_norm_is_rmsnorm_of_each_head(seed in any::<u64>(), seq in 1usize..5, heads in 1usize..5, half in 1usize..9) {
        let hd = 2 * half;
        let mut rng = StdRng::seed_from_u64(seed);
        let x = rand_vec(&mut rng, seq * heads * hd, 3.0);
        let w = rand_vec(&mut rng, hd, 2.0);
        let mut got = x.clone();
        rmsnorm_rows_inplace(&mut got, &w, 1e-6);
        assert_close("qk-norm", &got, &rmsnorm_f64(&x, &w, 0.0, 1e-6), TOL);
    }

    /// (1 + w): a Gemma norm weight `w` given in Hugging Face form is stored as the factors
    /// `1 + w` at load, and the forward's RMSNorm with them equals x / rms(x) · (1 + w).
    #[test]
    fn one_plus_w_rmsnorm(seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let m = random_gemma(seed, 16, DType::F32, 4, 3);
        let hf_w = &m.1["model.layers.0.input_layernorm.weight"];
        let factors = &m.0.weights.layers[0].input_layernorm.weight;
        let want: Vec<f32> = hf_w.iter().map(|w| 1.0 + w).collect();
        assert_close("1 + w", factors, &want, 0.0);
        let x = rand_vec(&mut rng, 3 * hf_w.len(), 2.0);
        let mut got = x.clone();
        rmsnorm_rows_inplace(&mut got, factors, 1e-6);
        assert_close("(1 + w) rmsnorm", &got, &rmsnorm_f64(&x, hf_w, 1.0, 1e-6), TOL);
    }

    /// GeGLU: the fused middle and the naive MLP against `½ z (1 + tanh(√(2/π)(z + 0.044715 z³)))`
    /// in f64.
    #[test]
    fn geglu_matches_the_formula(seed in any::<u64>(), n in 1usize..200) {
        let mut rng = StdRng::seed_from_u64(seed);
        let gate = rand_vec(&mut rng, n, 6.0);
        let up = rand_vec(&mut rng, n, 2.0);
        let want: Vec<f32> = gate.iter().zip(&up).map(|(&g, &u)| {
            let z = g as f64;
            let gelu = 0.5 * z * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (z + 0.044715 * z * z * z)).tanh());
            (gelu * u as f64) as f32
        }).collect();
        let mut got = gate.clone();
        glu_inplace(Activation::GeluTanh, &mut got, &up);
        assert_close("geglu", &got, &want, TOL);
        // the whole MLP: stored-matrix products + the fused middle vs the naive MLP
        let (d, ffn) = (8, n);
        let x = rand_vec(&mut rng, 2 * d, 2.0);
        let (wg, wu, wd) = (rand_vec(&mut rng, ffn * d, 0.5), rand_vec(&mut rng, ffn * d, 0.5), rand_vec(&mut rng, d * ffn, 0.5));
        let mut want = vec![0.0f32; 2 * d];
        glu_mlp_naive(Activation::GeluTanh, &x, &wg, &wu, &wd, 2, d, ffn, &mut want);
        let m = |name: &str, r, c, w: &[f32]| WeightMatrix::from_f32(name, r, c, w.to_vec());
        let (mg, mu, md) = (m("g", ffn, d, &wg), m("u", ffn, d, &wu), m("d", d, ffn, &wd));
        let (mut g, mut u, mut got) = (vec![0.0; 2 * ffn], vec![0.0; 2 * ffn], vec![0.0; 2 * d]);
        mg.matmul(&x, 2, &mut g);
        mu.matmul(&x, 2, &mut u);
        glu_inplace(Activation::GeluTanh, &mut g, &u);
        md.matmul(&g, 2, &mut got);
        assert_close("geglu mlp", &got, &want, 1e-3);
    }

    /// Sliding-window attention over a ring cache == attention over a full cache with an
    /// explicit band mask, for prefill chunks and single-token decode alike; and when the
    /// sequence fits in the window, == plain causal attention.
    #[test]
    fn sliding_window_is_a_band_mask(seed in any::<u64>(), window in 1usize..9, n in 1usize..40, chunk in 1usize..12, group in 1usize..3) {
        let mut rng = StdRng::seed_from_u64(seed);
        let shape = AttentionShape { n_heads: 2 * group, n_kv_heads: 2, head_dim: 4 };
        let (qd, kvd) = (shape.q_dim(), shape.n_kv_heads * shape.head_dim);
        let q = rand_vec(&mut rng, n * qd, 1.5);
        let k = rand_vec(&mut rng, n * kvd, 1.5);
        let v = rand_vec(&mut rng, n * kvd, 1.5);
        let want = band_attention(&q, &k, &v, n, &shape, window);
        // ring: rows = window − 1 + chunk
        let mut ring = KvCache::with_windows(n, kvd, &[Some(window)], chunk);
        prop_assert!(ring.layer_rows(0) <= (window - 1 + chunk).min(n));
        let mut got = vec![0.0f32; n * qd];
        let mut pos = 0;
        while pos < n {
            let s = chunk.min(n - pos);
            ring.write_rows(0, pos, &k[pos * kvd..(pos + s) * kvd], &v[pos * kvd..(pos + s) * kvd]);
            ring.set_len(pos + s);
            attention(&q[pos * qd..(pos + s) * qd], &ring, 0, pos, &shape, &mut got[pos * qd..(pos + s) * qd], None);
            pos += s;
        }
        assert_close("window attention", &got, &want, TOL);
        if n <= window {
            let full = band_attention(&q, &k, &v, n, &shape, usize::MAX);
            assert_close("fits in the window", &got, &full, TOL);
        }
    }
}

/// Causal attention with a band mask: query `p` sees keys `p − window + 1 ..= p`; plain
/// loops over a full `[n, kv_dim]` K and V (no cache).
fn band_attention(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    n: usize,
    s: &AttentionShape,
    window: usize,
) -> Vec<f32> {
    let (nh, hd, kvd) = (s.n_heads, s.head_dim, s.n_kv_heads * s.head_dim);
    let group = nh / s.n_kv_heads;
    let mut out = vec![0.0f32; n * nh * hd];
    for p in 0..n {
        for h in 0..nh {
            let qh = &q[p * nh * hd + h * hd..][..hd];
            let g = h / group;
            let scores: Vec<f64> = (0..n)
                .map(|j| {
                    if j > p || p - j >= window {
                        f64::NEG_INFINITY
                    } else {
                        let kj = &k[j * kvd + g * hd..][..hd];
                        qh.iter().zip(kj).map(|(a, b)| (a * b) as f64).sum::<f64>()
                            / (hd as f64).sqrt()
                    }
                })
                .collect();
            let mx = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = scores.iter().map(|s| (s - mx).exp()).collect();
            let z: f64 = e.iter().sum();
            for d in 0..hd {
                let o: f64 = (0..n)
                    .map(|j| e[j] / z * v[j * kvd + g * hd + d] as f64)
                    .sum();
                out[p * nh * hd + h * hd + d] = o as f32;
            }
        }
    }
    out
}

/// A small random Gemma 3: 3 layers (0, 1 local with `window`, 2 global), head_dim 8 ≠ d/heads,
/// local RoPE base 100 vs global 10,000. Returns the model and its Hugging Face norm weights.
fn random_gemma(
    seed: u64,
    window: usize,
    dtype: DType,
    pattern: usize,
    layers: usize,
) -> (Llama, BTreeMap<String, Vec<f32>>) {
    let family = Family::Gemma3(Gemma3 {
        head_dim: 8,
        query_pre_attn_scalar: 8.0,
        sliding_window: window,
        sliding_window_pattern: pattern,
        rope_local_theta: 100.0,
    });
    let c = LlamaConfig {
        hidden_size: 32,
        intermediate_size: 64,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        num_hidden_layers: layers,
        rms_norm_eps: 1e-6,
        rope_theta: 10000.0,
        rope_scaling: None,
        tie_word_embeddings: true,
        vocab_size: 300,
        max_position_embeddings: 128,
        bos_token_id: None,
        eos_token_ids: vec![],
        family,
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let mut t = BTreeMap::new();
    let (d, ffn, hd) = (c.hidden_size, c.intermediate_size, c.head_dim());
    let (q, kv) = (c.num_attention_heads * hd, c.num_key_value_heads * hd);
    let mut mat = |t: &mut BTreeMap<String, WeightMatrix>, name: String, rows, cols, dt| {
        let a = 1.0 / (cols as f32).sqrt();
        let data: Vec<f32> = (0..rows * cols).map(|_| rng.random_range(-a..a)).collect();
        t.insert(
            name.clone(),
            WeightMatrix::quantized_from_f32(name, dt, rows, cols, &data),
        );
    };
    // embeddings small: Gemma multiplies them by √d
    mat(
        &mut t,
        "model.embed_tokens.weight".into(),
        c.vocab_size,
        d,
        DType::F32,
    );
    for l in 0..layers {
        let p = format!("model.layers.{l}");
        mat(&mut t, format!("{p}.self_attn.q_proj.weight"), q, d, dtype);
        mat(&mut t, format!("{p}.self_attn.k_proj.weight"), kv, d, dtype);
        mat(&mut t, format!("{p}.self_attn.v_proj.weight"), kv, d, dtype);
        mat(&mut t, format!("{p}.self_attn.o_proj.weight"), d, q, dtype);
        mat(&mut t, format!("{p}.mlp.gate_proj.weight"), ffn, d, dtype);
        mat(&mut t, format!("{p}.mlp.up_proj.weight"), ffn, d, dtype);
        mat(&mut t, format!("{p}.mlp.down_proj.weight"), d, ffn, dtype);
    }
    let mut rng = StdRng::seed_from_u64(seed ^ 7);
    let mut norms = BTreeMap::new();
    let mut norm = |t: &mut BTreeMap<String, WeightMatrix>, name: String, n: usize| {
        let w: Vec<f32> = (0..n).map(|_| rng.random_range(-0.5..0.5)).collect(); // HF: 1 + w
        t.insert(
            name.clone(),
            WeightMatrix::from_f32(name.clone(), 1, n, w.clone()),
        );
        norms.insert(name, w);
    };
    norm(&mut t, "model.norm.weight".into(), d);
    for l in 0..layers {
        let p = format!("model.layers.{l}");
        for n in [
            "input_layernorm",
            "post_attention_layernorm",
            "pre_feedforward_layernorm",
            "post_feedforward_layernorm",
        ] {
            norm(&mut t, format!("{p}.{n}.weight"), d);
        }
        norm(&mut t, format!("{p}.self_attn.q_norm.weight"), hd);
        norm(&mut t, format!("{p}.self_attn.k_norm.weight"), hd);
    }
    let tok = Tokenizer::from_merges(&[], Pretokenizer::Gpt2, &[]);
    let m = Llama::from_tensors(c, t, tok).expect("the random Gemma is well-formed");
    (m, norms)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// The fast Gemma pass (prefill in chunks through the ring caches, then token by token)
    /// gives the naive pass's logits at every position, for sequences longer than the window.
    #[test]
    fn gemma_fast_equals_naive(seed in any::<u64>(), window in 2usize..7, n in 1usize..30, chunk in 1usize..9, q8 in any::<bool>()) {
        let dtype = if q8 { DType::Q8_0 } else { DType::F32 };
        let (m, _) = random_gemma(seed, window, dtype, 3, 3);
        let vocab = m.config.vocab_size;
        let mut rng = StdRng::seed_from_u64(seed ^ 11);
        let ids: Vec<u32> = (0..n).map(|_| rng.random_range(0..vocab as u32)).collect();
        let want = forward_naive(&m, &ids).unwrap(); // [n, vocab]
        let mut s = glassbox::model::Session::with_chunk(&m.config, n, chunk).unwrap();
        // first half as one prefill (chunked by the session), the rest one token at a time
        let half = n / 2 + 1;
        let got = m.forward(&mut s, &ids[..half]).unwrap().to_vec();
        assert_close("prefill", &got, &want[(half - 1) * vocab..half * vocab], TOL);
        for t in half..n {
            let got = m.forward(&mut s, &ids[t..=t]).unwrap().to_vec();
            assert_close(&format!("decode at {t}"), &got, &want[t * vocab..(t + 1) * vocab], TOL);
        }
        // prefix reuse: going back is refused or exact, never stale
        let back = n / 3;
        let kept = s.reuse_prefix(&ids[..back.max(1)]);
        prop_assert!(kept < back.max(1));
        let got = m.forward(&mut s, &ids[kept..back.max(1)]).unwrap().to_vec();
        let t = back.max(1) - 1;
        assert_close("after reuse_prefix", &got, &want[t * vocab..(t + 1) * vocab], TOL);
    }
}
