//! Stage 3 · the forward pass the slow, obvious way: the yardstick for [`Llama::forward`].
//!
//! Every weight is decoded to a full f32 matrix, every product is `matmul_naive`, RoPE angles
//! are computed on the spot (`rope_naive`), attention repeats K/V per head and masks with −∞
//! (`attention_naive`), and the whole sequence runs at once with no cache reused between calls.
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
use crate::swiglu::mlp_naive;
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
    let rope = |x: &mut [f32], heads: usize| {
        for (t, row) in x.chunks_exact_mut(heads * hd).enumerate() {
            for head in row.chunks_exact_mut(hd) {
                rope_naive(
                    head,
                    t,
                    c.rope_theta,
                    c.rope_scaling.as_ref(),
                    RopeLayout::HalfSplit,
                );
            }
        }
    };

    // x: [seq, d] = the embedding rows of the ids
    let mut x = vec![0.0f32; seq * d];
    for (row, &id) in x.chunks_exact_mut(d).zip(ids) {
        m.weights.embed_tokens.dequantize_row(id as usize, row);
    }
    let mut cache = KvCache::new(c.num_hidden_layers, seq, c.kv_dim());
    let mut h = vec![0.0f32; seq * d];
    for (l, w) in m.weights.layers.iter().enumerate() {
        rmsnorm_rows_naive(&x, &w.input_layernorm.weight, eps, &mut h);
        let mut q = linear(&h, &w.q_proj, seq); // q: [seq, nh·hd]
        let mut k = linear(&h, &w.k_proj, seq); // k: [seq, nkv·hd]
        let v = linear(&h, &w.v_proj, seq); //     v: [seq, nkv·hd]
        rope(&mut q, nh);
        rope(&mut k, nkv);
        cache.write_rows(l, 0, &k, &v);
        let mut a = vec![0.0f32; q.len()];
        attention_naive(&q, &cache, l, 0, &m.attention_shape(), &mut a, None);
        let o = linear(&a, &w.o_proj, seq);
        x.iter_mut().zip(&o).for_each(|(xi, oi)| *xi += oi);

        rmsnorm_rows_naive(&x, &w.post_attention_layernorm.weight, eps, &mut h);
        let mut mlp = vec![0.0f32; seq * d];
        let (g, u, dn) = (
            dequantize(&w.gate_proj),
            dequantize(&w.up_proj),
            dequantize(&w.down_proj),
        );
        mlp_naive(&h, &g, &u, &dn, seq, d, ffn, &mut mlp);
        x.iter_mut().zip(&mlp).for_each(|(xi, mi)| *xi += mi);
    }
    rmsnorm_rows_naive(&x, &m.weights.norm.weight, eps, &mut h);
    Ok(linear(&h, m.head(), seq)) // [seq, vocab]
}
// ANCHOR_END: forward_naive
