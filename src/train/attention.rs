//! Stage 8 · causal attention for a batch of sequences, forward (saving the probabilities) and
//! backward, with grouped-query heads.
//!
//! The forward is the inference kernel, `attention::attention`, run on each sequence over a
//! one-layer KV-cache, asking it for its probabilities `P` (which the backward needs). For one
//! query head `h` reading KV head `g = h / group`, with `scale = 1/√hd`:
//!
//! ```text
//! S = scale · Q Kᵀ  (+ −∞ above the diagonal)     Q: [T, hd], K, V: [T, hd], S, P: [T, T]
//! P = softmax(S) row by row
//! O = P V                                        O: [T, hd]
//! ```
//!
//! Backward, given `dO`:
//!
//! ```text
//! dV  = Pᵀ dO                 dV[j] = Σ_i P[i,j] · dO[i]
//! dP  = dO Vᵀ                 dP[i,j] = ⟨dO[i], V[j]⟩                      (j ≤ i only)
//! dS  = P ⊙ (dP − rowsum(P ⊙ dP))     the softmax backward: ∂p_j/∂s_k = p_j (δ_jk − p_k)
//! dQ  = scale · dS K          dK = scale · dSᵀ Q
//! ```
//!
//! Masked entries have `P = 0`, so they get `dS = 0`: the mask needs no code in the backward.
//! GQA: the `group` query heads that share KV head `g` each add their `dK`, `dV` into the same
//! rows of that head (the repeat of K/V in the forward becomes a sum in the backward).

use rayon::prelude::*;

use crate::attention::{attention, AttentionShape};
use crate::kv_cache::KvCache;
use crate::matmul::dot;

/// Causal GQA attention of `batch` sequences of `seq` tokens each.
/// `q: [batch·seq, n_heads·hd]` and `k, v: [batch·seq, n_kv·hd]` (Q and K already rotated);
/// returns `att: [batch·seq, n_heads·hd]` and `probs: [batch, n_heads, seq, seq]` (0 where masked).
pub fn attention_forward(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    batch: usize,
    seq: usize,
    shape: &AttentionShape,
) -> (Vec<f32>, Vec<f32>) {
    let (q_dim, kv_dim, nh) = (shape.q_dim(), shape.kv_dim(), shape.n_heads);
    let mut att = vec![0.0f32; batch * seq * q_dim];
    let mut probs = vec![0.0f32; batch * nh * seq * seq];
    att.par_chunks_mut(seq * q_dim)
        .zip(probs.par_chunks_mut(nh * seq * seq))
        .enumerate()
        .for_each(|(b, (att_b, probs_b))| {
            let rows = b * seq..(b + 1) * seq;
            let mut cache = KvCache::new(1, seq, kv_dim);
            cache.write_rows(
                0,
                0,
                &k[rows.start * kv_dim..rows.end * kv_dim],
                &v[rows.start * kv_dim..rows.end * kv_dim],
            );
            cache.set_len(seq);
            let mut w = Vec::new(); // [n_heads, seq, seq]
            let q_b = &q[rows.start * q_dim..rows.end * q_dim];
            attention(q_b, &cache, 0, 0, shape, att_b, Some(&mut w));
            probs_b.copy_from_slice(&w);
        });
    (att, probs)
}

// ANCHOR: attention_backward
/// Gradients of [`attention_forward`]: from `datt: [batch·seq, n_heads·hd]` to `dq` and
/// `dk, dv` (added into, same shapes as q, k, v). One parallel task per sequence.
pub fn attention_backward(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    probs: &[f32],
    datt: &[f32],
    seq: usize,
    shape: &AttentionShape,
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
) {
    let (q_dim, kv_dim, nh, hd) = (shape.q_dim(), shape.kv_dim(), shape.n_heads, shape.head_dim);
    let group = shape.group();
    let scale = 1.0 / (hd as f32).sqrt();
    let per_seq = |b: usize, (dq, dk, dv): (&mut [f32], &mut [f32], &mut [f32])| {
        let (q, datt) = (&q[b * seq * q_dim..], &datt[b * seq * q_dim..]);
        let (k, v) = (&k[b * seq * kv_dim..], &v[b * seq * kv_dim..]);
        let mut dp = vec![0.0f32; seq];
        for h in 0..nh {
            let g = h / group; // GQA: the KV head this query head reads
            let p_h = &probs[(b * nh + h) * seq * seq..][..seq * seq]; // [seq, seq]
            let (qo, ko) = (h * hd, g * hd);
            for i in 0..seq {
                let p = &p_h[i * seq..][..i + 1]; // row i, keys 0..=i
                let do_i = &datt[i * q_dim + qo..][..hd];
                // dP[i,j] = ⟨dO[i], V[j]⟩ and its P-weighted mean over the row
                let mut mean = 0.0f32;
                for j in 0..=i {
                    dp[j] = dot(do_i, &v[j * kv_dim + ko..][..hd]);
                    mean += p[j] * dp[j];
                }
                for j in 0..=i {
                    // dV[j] += P[i,j] · dO[i]
                    let dv_j = &mut dv[j * kv_dim + ko..][..hd];
                    dv_j.iter_mut().zip(do_i).for_each(|(a, &o)| *a += p[j] * o);
                    // dS[i,j] = P[i,j] (dP[i,j] − mean), then dQ[i] += scale·dS·K[j], dK[j] += scale·dS·Q[i]
                    let ds = scale * p[j] * (dp[j] - mean);
                    if ds == 0.0 {
                        continue;
                    }
                    let (k_j, q_i) = (&k[j * kv_dim + ko..][..hd], &q[i * q_dim + qo..][..hd]);
                    let dq_i = &mut dq[i * q_dim + qo..][..hd];
                    dq_i.iter_mut().zip(k_j).for_each(|(a, &kk)| *a += ds * kk);
                    let dk_j = &mut dk[j * kv_dim + ko..][..hd];
                    dk_j.iter_mut().zip(q_i).for_each(|(a, &qq)| *a += ds * qq);
                }
            }
        }
    };
    dq.par_chunks_mut(seq * q_dim)
        .zip(dk.par_chunks_mut(seq * kv_dim))
        .zip(dv.par_chunks_mut(seq * kv_dim))
        .enumerate()
        .for_each(|(b, ((dq, dk), dv))| per_seq(b, (dq, dk, dv)));
}
// ANCHOR_END: attention_backward
