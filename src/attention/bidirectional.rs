//! Stage 2 (encoder) · bidirectional attention: every token of a sentence sees every token of
//! it, before and after. An encoder (BERT, chapter 14) reads its whole input at once, so there
//! is no mask and no cache:
//!
//! ```text
//! s_j    = ⟨q_h(t), k_g(j)⟩ / sqrt(head_dim)      j = 0 .. seq      (every key, before and after t)
//! o_h(t) = Σ_j softmax(s)_j · v_g(j)
//! ```
//!
//! The same two paths as the causal kernel in `mod.rs`, with the mask off.

use rayon::prelude::*;

use super::blocked::{attention_prefill_blocked, Band, BLOCKED_MIN_SEQ};
use super::{attend_group, AttentionShape, KvRows, PARALLEL_MIN_WORK, SCORES};
use crate::softmax::softmax_naive;

// ANCHOR: bidirectional
/// Bidirectional attention, an encoder's (chapter 14): every query of one sequence sees every
/// key of it, before and after. `q, out: [seq, n_heads·hd]`, `k, v: [seq, n_kv·hd]` (no cache:
/// an encoder reads the whole input at once). The same two paths as the causal kernel with the
/// mask off: row by row (`attend_group` over all `seq` keys) below `BLOCKED_MIN_SEQ` tokens, the
/// blocked GEMMs from there on (measured for 12 heads of 32: at 9 tokens the blocked kernel took
/// 540 µs gathering and packing, the rows 15 µs; from 16 tokens on the blocked one is as fast or
/// faster).
pub fn attention_bidirectional(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    s: &AttentionShape,
    out: &mut [f32],
) {
    let seq = check_bidirectional(q, k, v, s, out);
    if seq >= BLOCKED_MIN_SEQ {
        return attention_prefill_blocked(q, k, v, Band::All, 0, seq, s, out);
    }
    // a short sentence: one (query row, KV head) pair at a time, every key visible
    let (nh, nkv, hd, group) = (s.n_heads, s.n_kv_heads, s.head_dim, s.group());
    let scale = 1.0 / (hd as f32).sqrt();
    let one = |idx: usize, o: &mut [f32]| {
        let (t, g) = (idx / nkv, idx % nkv);
        let qg = &q[t * nh * hd + g * group * hd..][..group * hd];
        SCORES.with(|p| {
            let kv = KvRows {
                k_all: k,
                v_all: v,
                kv_dim: s.kv_dim(),
                first: 0,
                rows: seq,
            };
            attend_group(qg, &kv, g * hd, seq, hd, scale, o, &mut p.borrow_mut())
        });
    };
    if seq * seq * nh * hd < PARALLEL_MIN_WORK {
        out.chunks_exact_mut(group * hd)
            .enumerate()
            .for_each(|(idx, o)| one(idx, o));
    } else {
        out.par_chunks_mut(group * hd)
            .enumerate()
            .for_each(|(idx, o)| one(idx, o));
    }
}
// ANCHOR_END: bidirectional

/// Shapes for the bidirectional pair (programming errors panic with the sizes); returns `seq`.
fn check_bidirectional(q: &[f32], k: &[f32], v: &[f32], s: &AttentionShape, out: &[f32]) -> usize {
    assert!(
        s.head_dim > 0 && s.n_kv_heads > 0 && s.n_heads.is_multiple_of(s.n_kv_heads),
        "attention: {} heads, {} KV heads of {}",
        s.n_heads,
        s.n_kv_heads,
        s.head_dim
    );
    let seq = q.len() / s.q_dim();
    assert!(
        q.len() == seq * s.q_dim()
            && k.len() == seq * s.kv_dim()
            && v.len() == k.len()
            && out.len() == q.len(),
        "attention: q {}, k {}, v {}, out {} are not [seq, {}] / [seq, {}]",
        q.len(),
        k.len(),
        v.len(),
        out.len(),
        s.q_dim(),
        s.kv_dim()
    );
    seq
}

// ANCHOR: bidirectional_naive
/// The reference for [`attention_bidirectional`]: one head and one query at a time, scores
/// over every key, no mask.
pub fn attention_bidirectional_naive(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    s: &AttentionShape,
    out: &mut [f32],
) {
    let seq = check_bidirectional(q, k, v, s, out);
    let (nh, hd, kv_dim, group) = (s.n_heads, s.head_dim, s.kv_dim(), s.group());
    let scale = 1.0 / (hd as f32).sqrt();
    for h in 0..nh {
        let g = h / group; // the KV head this query head reads
        for t in 0..seq {
            let scores: Vec<f32> = (0..seq)
                .map(|j| {
                    (0..hd)
                        .map(|d| q[t * nh * hd + h * hd + d] * k[j * kv_dim + g * hd + d])
                        .sum::<f32>()
                        * scale
                })
                .collect();
            let p = softmax_naive(&scores);
            for d in 0..hd {
                out[t * nh * hd + h * hd + d] =
                    (0..seq).map(|j| p[j] * v[j * kv_dim + g * hd + d]).sum();
            }
        }
    }
}
// ANCHOR_END: bidirectional_naive
