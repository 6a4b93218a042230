//! Stage 3 · the forward pass the slow, obvious way: the yardstick for [`Llama::forward`].
//!
//! Every weight is decoded to a full f32 matrix, every product is `matmul_naive`, RoPE angles
//! are computed on the spot (`rope_naive`), attention repeats K/V per head and masks with −∞
//! (`attention_naive`; a sliding-window layer masks below its band too, over a cache that holds
//! every position), and the whole sequence runs at once with no cache reused between calls.
//! Gemma 3's differences are taken from the same `config.family` as the fast pass.
//! It returns the logits of *every* position, `[seq, vocab]`: row `t` is the next-token
//! distribution after `ids[..=t]`. Tests check that the fast path (chunked prefill, then
//! token-by-token decode over the KV-cache, stored-type kernels) gives the same numbers.
//!
//! Slow and memory-hungry on purpose (f32 copies of all weights): use it on small models.

use crate::attention::attention_naive;
use crate::kv_cache::KvCache;
use crate::matmul::matmul_naive;
use crate::model::Llama;
use crate::rmsnorm::rmsnorm_rows_naive;
use crate::rope::{rope_naive, RopeLayout};
use crate::swiglu::glu_mlp_naive;
use crate::weights::tensor::WeightMatrix;
use crate::{Error, Result};

/// The whole matrix decoded to f32, `[rows, cols]`.
pub fn dequantize(w: &WeightMatrix) -> Vec<f32> {
    let mut out = vec![0.0f32; w.rows * w.cols];
    for (r, row) in out.chunks_exact_mut(w.cols.max(1)).enumerate().take(w.rows) {
        w.dequantize_row(r, row);
    }
    out
}

/// `out = x · Wᵀ` with the weight decoded to f32: `x: [seq, in]` → `[seq, out]`.
fn linear(x: &[f32], w: &WeightMatrix, seq: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; seq * w.rows];
    matmul_naive(x, &dequantize(w), &mut out, seq, w.cols, w.rows);
    out
}

// ANCHOR: forward_naive
/// Logits of every position, `[seq, vocab]`, for `ids` run from position 0.
pub fn forward_naive(m: &Llama, ids: &[u32]) -> Result<Vec<f32>> {
    let c = &m.config;
    let (seq, d, hd, eps) = (ids.len(), c.hidden_size, c.head_dim(), c.rms_norm_eps);
    let (nh, nkv, ffn, vocab) = (
        c.num_attention_heads,
        c.num_key_value_heads,
        c.intermediate_size,
        c.vocab_size,
    );
    if let Some(&id) = ids.iter().find(|&&id| id as usize >= vocab) {
        return Err(Error::invalid(format!(
            "token id {id} is outside the vocabulary (size {vocab})"
        )));
    }
    let f = &c.family;
    // RoPE with the layer's base (Gemma's local layers have their own, and no scaling)
    let rope = |x: &mut [f32], heads: usize, layer: usize| {
        let theta = f.rope_theta(layer, c.rope_theta);
        let scaling = c.rope_scaling.as_ref().filter(|_| theta == c.rope_theta);
        for (t, row) in x.chunks_exact_mut(heads * hd).enumerate() {
            for head in row.chunks_exact_mut(hd) {
                rope_naive(head, t, theta, scaling, RopeLayout::HalfSplit);
            }
        }
    };
    // RMSNorm of every row of `x` whose width is the weight's (a head, or d), out of place
    let norm = |x: &mut Vec<f32>, weight: &[f32]| {
        let mut out = vec![0.0f32; x.len()];
        rmsnorm_rows_naive(x, weight, eps, &mut out);
        *x = out;
    };

    // x: [seq, d] = the embedding rows of the ids
    let mut x = vec![0.0f32; seq * d];
    for (row, &id) in x.chunks_exact_mut(d).zip(ids) {
        m.weights.embed_tokens.dequantize_row(id as usize, row);
    }
    if let Some(scale) = f.embedding_scale(d) {
        x.iter_mut().for_each(|v| *v *= scale);
    }
    // every layer keeps every position (a window only masks: chunk = seq, so no ring wraps)
    let windows = f.windows(c.num_hidden_layers);
    let mut cache = KvCache::with_windows(seq, c.kv_dim(), &windows, seq);
    let mut h = vec![0.0f32; seq * d];
    for (l, w) in m.weights.layers.iter().enumerate() {
        rmsnorm_rows_naive(&x, &w.input_layernorm.weight, eps, &mut h);
        let mut q = linear(&h, &w.q_proj, seq); // q: [seq, nh·hd]
        let mut k = linear(&h, &w.k_proj, seq); // k: [seq, nkv·hd]
        let v = linear(&h, &w.v_proj, seq); //     v: [seq, nkv·hd]
        if let Some(n) = &w.qk_norm {
            norm(&mut q, &n.q.weight); // per head: the weight is [hd]
            norm(&mut k, &n.k.weight);
        }
        rope(&mut q, nh, l);
        rope(&mut k, nkv, l);
        if let Some(scale) = f.query_scale(hd) {
            q.iter_mut().for_each(|v| *v *= scale);
        }
        cache.write_rows(l, 0, &k, &v);
        let mut a = vec![0.0f32; q.len()];
        attention_naive(&q, &cache, l, 0, &m.attention_shape(), &mut a, None);
        let mut o = linear(&a, &w.o_proj, seq);
        if let Some(n) = &w.sandwich {
            norm(&mut o, &n.after_attention.weight);
        }
        x.iter_mut().zip(&o).for_each(|(xi, oi)| *xi += oi);

        rmsnorm_rows_naive(&x, &w.post_attention_layernorm.weight, eps, &mut h);
        let mut mlp = vec![0.0f32; seq * d];
        let (g, u, dn) = (
            dequantize(&w.gate_proj),
            dequantize(&w.up_proj),
            dequantize(&w.down_proj),
        );
        glu_mlp_naive(f.activation(), &h, &g, &u, &dn, seq, d, ffn, &mut mlp);
        if let Some(n) = &w.sandwich {
            norm(&mut mlp, &n.after_mlp.weight);
        }
        x.iter_mut().zip(&mlp).for_each(|(xi, mi)| *xi += mi);
    }
    rmsnorm_rows_naive(&x, &m.weights.norm.weight, eps, &mut h);
    Ok(linear(&h, m.head(), seq)) // [seq, vocab]
}
// ANCHOR_END: forward_naive
