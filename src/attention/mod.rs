//! Stage 2 · causal self-attention with grouped-query heads, over a KV-cache.
//!
//! For one query head `h` at absolute position `p`, with its KV head `g = h / (n_heads / n_kv_heads)`:
//!
//! ```text
//! s_j  = ⟨q_h(p), k_g(j)⟩ / sqrt(head_dim)      j = 0 ..= p    (causal: later positions masked)
//! a_j  = softmax(s)_j
//! o_h(p) = Σ_j a_j · v_g(j)
//! ```
//!
//! The keys and values of every position live in the [`KvCache`] (`kv_cache.rs`); the caller projects the new
//! tokens, rotates Q and K with RoPE, writes K and V into the cache, then calls [`attention`]
//! for the queries at positions `start_pos .. start_pos + seq`. The same function therefore
//! serves a whole prompt (prefill: `start_pos = 0, seq = prompt length`) and one new token
//! (decode: `seq = 1`). The cost is O(seq × (start_pos + seq) × head_dim) per head: quadratic in
//! the context for a prefill, linear per decoded token.
//!
//! Grouped-query attention (GQA): several query heads share one K/V head (SmolLM2: 9 query
//! heads, 3 KV heads, so groups of 3). Nothing is copied: the sharing is the index `h / group`.
//!
//! An encoder (BERT, chapter 14) uses the same attention without the mask, every token seeing
//! every token of its sentence: [`attention_bidirectional`] (`bidirectional.rs`), the same two
//! paths with the mask off.
//!
//! Reference: Vaswani et al. (2017); Ainslie et al., "GQA" (2023); PyTorch
//! `scaled_dot_product_attention(is_causal=True, enable_gqa=True)`.

mod bidirectional;
mod blocked;

pub use bidirectional::{attention_bidirectional, attention_bidirectional_naive};
use blocked::{attention_prefill_blocked, BLOCKED_MIN_SEQ};

use crate::kv_cache::KvCache;
use crate::matmul::dot; // the f32x8 FMA dot product (src/matmul/)
use crate::softmax::{softmax_inplace, softmax_naive};
use rayon::prelude::*;
use std::cell::RefCell;

/// Head counts and size. `n_kv_heads` must divide `n_heads`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionShape {
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
}

impl AttentionShape {
    /// Width of a query row: `n_heads × head_dim`.
    pub fn q_dim(&self) -> usize {
        self.n_heads * self.head_dim
    }
    /// Width of a key/value row: `n_kv_heads × head_dim`.
    pub fn kv_dim(&self) -> usize {
        self.n_kv_heads * self.head_dim
    }
    /// Query heads per KV head.
    pub fn group(&self) -> usize {
        self.n_heads / self.n_kv_heads
    }
}

/// Check the arguments shared by [`attention`] and [`attention_naive`]; returns the context
/// length `start_pos + seq`. Mismatches are programming errors, so they panic with the shapes.
fn check(
    q: &[f32],
    cache: &KvCache,
    layer: usize,
    start_pos: usize,
    s: &AttentionShape,
    out: &[f32],
) -> (usize, usize) {
    assert!(
        s.n_kv_heads > 0 && s.n_heads.is_multiple_of(s.n_kv_heads),
        "attention: n_kv_heads {} must divide n_heads {}",
        s.n_kv_heads,
        s.n_heads
    );
    assert!(s.head_dim > 0, "attention: head_dim is 0");
    assert_eq!(
        cache.kv_dim(),
        s.kv_dim(),
        "attention: cache kv_dim {} != n_kv_heads × head_dim {}",
        cache.kv_dim(),
        s.kv_dim()
    );
    assert!(
        q.len().is_multiple_of(s.q_dim()),
        "attention: q len {} is not [seq, {}]",
        q.len(),
        s.q_dim()
    );
    assert_eq!(
        out.len(),
        q.len(),
        "attention: out len {} != q len {}",
        out.len(),
        q.len()
    );
    assert!(
        layer < cache.n_layers(),
        "attention: layer {layer} >= {}",
        cache.n_layers()
    );
    let seq = q.len() / s.q_dim();
    let total = start_pos + seq;
    assert!(
        total <= cache.max_seq(),
        "attention: positions up to {total} exceed the cache ({})",
        cache.max_seq()
    );
    (seq, total)
}

/// Below this many multiply-adds a call runs on one thread (rayon's hand-off costs more).
const PARALLEL_MIN_WORK: usize = 1 << 15;

thread_local! {
    /// Attention scores, then probabilities, for one (query row, KV head) pair: [group, n].
    static SCORES: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

// ANCHOR: attention_decode
/// One new token (a decode step): `q, out: [n_heads × head_dim]`, keys and values of positions
/// `0 .. n` in `k_all, v_all: [≥ n, kv_dim]`. The same sums as [`attention`], in the same order
/// (bit-identical), but every head in **one pass over the cached rows in position order**:
///
/// ```text
/// for j in 0..n:   k_j = K[j]  (all KV heads, kv_dim floats: the rows stream front to back)
///     s[h][j] = q_h · k_j[h / group] / √hd        for every query head h
/// p[h] = softmax(s[h])
/// for j in 0..n:   v_j = V[j];  o_h += p[h][j] · v_j[h / group]
/// ```
///
/// Reading one KV head at a time (256 bytes out of every 768-byte row) was a pattern the
/// hardware prefetcher did not follow; with the cache just pushed out of L3 by the weights,
/// that made attention 3–4× slower than these two plain streams.
fn attention_decode(
    q: &[f32],
    k_all: &[f32],
    v_all: &[f32],
    n: usize,
    shape: &AttentionShape,
    out: &mut [f32],
    s: &mut Vec<f32>,
) {
    let (nh, hd, kv_dim, group) = (shape.n_heads, shape.head_dim, shape.kv_dim(), shape.group());
    let scale = 1.0 / (hd as f32).sqrt();
    s.clear();
    s.resize(nh * n, 0.0); // s: [n_heads, n], scores then probabilities
    for (j, kj) in k_all[..n * kv_dim].chunks_exact(kv_dim).enumerate() {
        for (h, qh) in q.chunks_exact(hd).enumerate() {
            s[h * n + j] = dot(qh, &kj[h / group * hd..][..hd]) * scale;
        }
    }
    for row in s.chunks_exact_mut(n) {
        softmax_inplace(row);
    }
    out.fill(0.0);
    for (j, vj) in v_all[..n * kv_dim].chunks_exact(kv_dim).enumerate() {
        for (h, oh) in out.chunks_exact_mut(hd).enumerate() {
            let pj = s[h * n + j];
            for (od, &vd) in oh.iter_mut().zip(&vj[h / group * hd..][..hd]) {
                *od = pj.mul_add(vd, *od);
            }
        }
    }
}
// ANCHOR_END: attention_decode

// ANCHOR: attention
/// Causal GQA attention for queries at positions `start_pos .. start_pos + seq`.
///
/// `q, out: [seq, n_heads × head_dim]` (Q already rotated); K/V for positions
/// `0 .. start_pos + seq` must already be in `cache` at `layer`. If `weights_out` is given it is
/// resized to `[n_heads, seq, start_pos + seq]` and filled with the attention probabilities
/// (0 where masked). Parallel over (query row, KV head) pairs; a prompt of `BLOCKED_MIN_SEQ`
/// or more queries with no weights asked for goes through `attention_prefill_blocked` instead
/// (the same sums as matrix products, equal within rounding).
pub fn attention(
    q: &[f32],
    cache: &KvCache,
    layer: usize,
    start_pos: usize,
    shape: &AttentionShape,
    out: &mut [f32],
    weights_out: Option<&mut Vec<f32>>,
) {
    let (seq, total) = check(q, cache, layer, start_pos, shape, out);
    let (nh, nkv, hd, kv_dim, group) = (
        shape.n_heads,
        shape.n_kv_heads,
        shape.head_dim,
        shape.kv_dim(),
        shape.group(),
    );
    let scale = 1.0 / (hd as f32).sqrt();
    let (k_all, v_all) = (cache.k_layer(layer), cache.v_layer(layer)); // [max_seq, kv_dim]

    // One (query row t, KV head g) pair and the `group` query heads that share g (see
    // `attend_group`). `idx = t × n_kv_heads + g` is also the index of the chunk of `out`
    // holding those heads (heads g·group .. (g+1)·group are contiguous in row t).
    let one = |idx: usize, o: &mut [f32], p: &mut Vec<f32>| {
        let (t, g) = (idx / nkv, idx % nkv);
        let qg = &q[t * nh * hd + g * group * hd..][..group * hd]; // qg: [group, hd]
        let n = start_pos + t + 1; // causal: keys 0..=pos, the rest never computed
        attend_group(qg, k_all, v_all, kv_dim, g * hd, n, hd, scale, o, p);
    };

    // The score buffer is per thread and lives as long as the thread (rayon's workers live for
    // the whole process), so once it has grown to the context length, decoding a token
    // allocates nothing here.
    let with_scores = |idx: usize, o: &mut [f32]| {
        SCORES.with(|p| one(idx, o, &mut p.borrow_mut()));
    };
    let (work, chunk) = (seq * nh * total * hd, group * hd);
    match weights_out {
        None if seq == 1 => SCORES
            .with(|p| attention_decode(q, k_all, v_all, total, shape, out, &mut p.borrow_mut())),
        None if seq >= BLOCKED_MIN_SEQ => {
            attention_prefill_blocked(q, k_all, v_all, start_pos, seq, shape, out, true)
        }
        None if work < PARALLEL_MIN_WORK => {
            for (idx, o) in out.chunks_exact_mut(chunk).enumerate() {
                with_scores(idx, o);
            }
        }
        None => out
            .par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(idx, o)| with_scores(idx, o)),
        Some(w) => {
            // probs: [seq, n_heads, total], then transposed to [n_heads, seq, total]
            let mut probs = vec![0.0f32; seq * nh * total];
            out.par_chunks_mut(chunk)
                .zip(probs.par_chunks_mut(group * total))
                .enumerate()
                .for_each_init(
                    || Vec::with_capacity(group * total),
                    |p, (idx, (o, rows))| {
                        one(idx, o, p);
                        let n = p.len() / group;
                        for (r, row) in rows.chunks_exact_mut(total).enumerate() {
                            row[..n].copy_from_slice(&p[r * n..(r + 1) * n]);
                        }
                    },
                );
            w.clear();
            w.resize(nh * seq * total, 0.0);
            for t in 0..seq {
                for h in 0..nh {
                    let src = &probs[(t * nh + h) * total..][..total];
                    w[(h * seq + t) * total..][..total].copy_from_slice(src);
                }
            }
        }
    }
}
// ANCHOR_END: attention

/// Attention for the `group` query heads that share one KV head, at one query position, over
/// the first `n` keys: for each head r, `o_r = Σ_j softmax(q_r·k_j / √hd)_j v_j`, j < n.
/// `qg, o: [group, hd]`; K/V rows are read in place from `k_all, v_all: [.., kv_dim]` at column
/// `kv_off` (GQA: the KV head's slice), each loaded once for the whole group. `p` is scratch
/// (`[group, n]`: scores, then probabilities).
fn attend_group(
    qg: &[f32],
    k_all: &[f32],
    v_all: &[f32],
    kv_dim: usize,
    kv_off: usize,
    n: usize,
    hd: usize,
    scale: f32,
    o: &mut [f32],
    p: &mut Vec<f32>,
) {
    let group = qg.len() / hd;
    p.clear();
    p.resize(group * n, 0.0);
    for j in 0..n {
        let kj = &k_all[j * kv_dim + kv_off..][..hd];
        for r in 0..group {
            p[r * n + j] = dot(&qg[r * hd..][..hd], kj) * scale;
        }
    }
    for row in p.chunks_exact_mut(n) {
        softmax_inplace(row);
    }
    o.fill(0.0);
    for j in 0..n {
        let vj = &v_all[j * kv_dim + kv_off..][..hd];
        for (r, or) in o.chunks_exact_mut(hd).enumerate() {
            let pj = p[r * n + j];
            for (od, &vd) in or.iter_mut().zip(vj) {
                *od = pj.mul_add(vd, *od);
            }
        }
    }
}

// ANCHOR: attention_naive
/// The reference: K/V explicitly repeated to every query head, full score matrix with an
/// additive `-inf` mask above the diagonal, one head and one row at a time. Same contract.
pub fn attention_naive(
    q: &[f32],
    cache: &KvCache,
    layer: usize,
    start_pos: usize,
    shape: &AttentionShape,
    out: &mut [f32],
    weights_out: Option<&mut Vec<f32>>,
) {
    let (seq, total) = check(q, cache, layer, start_pos, shape, out);
    let (nh, hd, group) = (shape.n_heads, shape.head_dim, shape.group());
    let q_dim = nh * hd;
    // k_rep, v_rep: [total, n_heads × head_dim] — KV head h / group copied into head h
    let mut k_rep = vec![0.0f32; total * q_dim];
    let mut v_rep = vec![0.0f32; total * q_dim];
    for j in 0..total {
        let (kr, vr) = (cache.k_row(layer, j), cache.v_row(layer, j));
        for h in 0..nh {
            let g = h / group;
            k_rep[j * q_dim + h * hd..][..hd].copy_from_slice(&kr[g * hd..][..hd]);
            v_rep[j * q_dim + h * hd..][..hd].copy_from_slice(&vr[g * hd..][..hd]);
        }
    }
    let scale = 1.0 / (hd as f32).sqrt();
    let mut weights = vec![0.0f32; nh * seq * total]; // [n_heads, seq, total]
    for h in 0..nh {
        for t in 0..seq {
            let pos = start_pos + t;
            // scores over every key, masked (additive -inf) after the query's own position
            let mut s = vec![0.0f32; total];
            for (j, sj) in s.iter_mut().enumerate() {
                if j > pos {
                    *sj = f32::NEG_INFINITY;
                } else {
                    let mut acc = 0.0f32;
                    for d in 0..hd {
                        acc += q[t * q_dim + h * hd + d] * k_rep[j * q_dim + h * hd + d];
                    }
                    *sj = acc * scale;
                }
            }
            let p = softmax_naive(&s);
            for d in 0..hd {
                let mut acc = 0.0f32;
                for j in 0..total {
                    acc += p[j] * v_rep[j * q_dim + h * hd + d];
                }
                out[t * q_dim + h * hd + d] = acc;
            }
            weights[(h * seq + t) * total..][..total].copy_from_slice(&p);
        }
    }
    if let Some(w) = weights_out {
        *w = weights;
    }
}
// ANCHOR_END: attention_naive

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_zero_is_v0() {
        let s = AttentionShape {
            n_heads: 2,
            n_kv_heads: 1,
            head_dim: 2,
        };
        let mut c = KvCache::new(1, 2, 2);
        c.write_rows(0, 0, &[1.0, 0.0, 0.0, 1.0], &[5.0, 6.0, 7.0, 8.0]);
        let q = [1.0, 2.0, 3.0, 4.0, 0.5, 0.5, 0.5, 0.5];
        let mut out = [0.0; 8];
        attention(&q, &c, 0, 0, &s, &mut out, None);
        assert_eq!(&out[..4], &[5.0, 6.0, 5.0, 6.0]);
    }
}
