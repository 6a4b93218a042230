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
//! Sliding-window attention (Gemma 3's local layers): a layer whose cache has a window `w`
//! only lets position `p` see `j = p + 1 − w ..= p`, a band under the diagonal instead of the
//! whole triangle ([`KvCache::first_visible`]); its cache is a ring of rows, and position `j`
//! is read from row `j mod rows`. The window is a property of the layer's cache, so the same
//! call serves both kinds of layer.
//!
//! ```text
//!            full causal (global layer)        window w = 3 (local layer)
//!   keys j:  0 1 2 3 4 5                       0 1 2 3 4 5
//!   p = 3    ■ ■ ■ ■ · ·                       · ■ ■ ■ · ·
//!   p = 5    ■ ■ ■ ■ ■ ■                       · · · ■ ■ ■
//! ```
//!
//! Reference: Vaswani et al. (2017); Ainslie et al., "GQA" (2023); PyTorch
//! `scaled_dot_product_attention(is_causal=True, enable_gqa=True)`.

mod bidirectional;
mod blocked;

pub use bidirectional::{attention_bidirectional, attention_bidirectional_naive};
use blocked::{attention_prefill_blocked, Band, BLOCKED_MIN_SEQ};

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
    // every key this call reads must still be in the layer's rows (a ring forgets old ones)
    let keys = total - cache.first_visible(layer, start_pos);
    assert!(
        keys <= cache.layer_rows(layer),
        "attention: {keys} keys do not fit layer {layer}'s {} cached rows",
        cache.layer_rows(layer)
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
/// `0 .. start_pos + seq` must already be in `cache` at `layer` (for a sliding-window layer,
/// the last `window` before each query). If `weights_out` is given it is
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
    let (k_all, v_all) = (cache.k_layer(layer), cache.v_layer(layer)); // [rows, kv_dim]
    let rows = cache.layer_rows(layer); // max_seq, or a sliding-window layer's ring

    // One (query row t, KV head g) pair and the `group` query heads that share g (see
    // `attend_group`), over keys lo ..= start_pos + t. `idx = t × n_kv_heads + g` is also the
    // index of the chunk of `out` holding those heads (heads g·group .. (g+1)·group are
    // contiguous in row t).
    let one = |idx: usize, o: &mut [f32], p: &mut Vec<f32>| {
        let (t, g) = (idx / nkv, idx % nkv);
        let qg = &q[t * nh * hd + g * group * hd..][..group * hd]; // qg: [group, hd]
        let pos = start_pos + t;
        let lo = cache.first_visible(layer, pos); // 0, or the window's first position
        let n = pos + 1 - lo; // causal: keys lo..=pos, the rest never computed
        let kv = KvRows {
            k_all,
            v_all,
            kv_dim,
            first: lo % rows,
            rows,
        };
        attend_group(qg, &kv, g * hd, n, hd, scale, o, p);
    };

    // The score buffer is per thread and lives as long as the thread (rayon's workers live for
    // the whole process), so once it has grown to the context length, decoding a token
    // allocates nothing here.
    let with_scores = |idx: usize, o: &mut [f32]| {
        SCORES.with(|p| one(idx, o, &mut p.borrow_mut()));
    };
    let (work, chunk) = (seq * nh * total * hd, group * hd);
    match weights_out {
        None if seq == 1 && cache.first_visible(layer, start_pos) == 0 => SCORES
            .with(|p| attention_decode(q, k_all, v_all, total, shape, out, &mut p.borrow_mut())),
        None if seq >= BLOCKED_MIN_SEQ => attention_prefill_blocked(
            q,
            k_all,
            v_all,
            Band::Causal(cache, layer),
            start_pos,
            seq,
            shape,
            out,
        ),
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
                    |p, (idx, (o, w_rows))| {
                        one(idx, o, p);
                        let n = p.len() / group; // keys lo ..= pos
                        let lo = start_pos + idx / nkv + 1 - n;
                        for (r, row) in w_rows.chunks_exact_mut(total).enumerate() {
                            row[lo..lo + n].copy_from_slice(&p[r * n..(r + 1) * n]);
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

/// One layer's stored keys and values, `k_all, v_all: [rows, kv_dim]`, as one call reads them:
/// its key i is row `(first + i) mod rows` (rows in position order from `first`; a sliding-window
/// layer's ring wraps back to row 0).
pub(super) struct KvRows<'a> {
    pub k_all: &'a [f32],
    pub v_all: &'a [f32],
    pub kv_dim: usize,
    pub first: usize,
    pub rows: usize,
}

/// Attention for the `group` query heads that share one KV head, at one query position, over
/// `n` keys: for each head r, `o_r = Σ_i softmax(q_r·k_i / √hd)_i v_i`, i < n.
/// `qg, o: [group, hd]`; K/V rows are read in place from `kv` at column `kv_off` (GQA: the KV
/// head's slice), each loaded once for the whole group. `p` is scratch (`[group, n]`: scores,
/// then probabilities).
fn attend_group(
    qg: &[f32],
    kv: &KvRows,
    kv_off: usize,
    n: usize,
    hd: usize,
    scale: f32,
    o: &mut [f32],
    p: &mut Vec<f32>,
) {
    let (group, kv_dim) = (qg.len() / hd, kv.kv_dim);
    let next = |row: usize| if row + 1 == kv.rows { 0 } else { row + 1 };
    p.clear();
    p.resize(group * n, 0.0);
    let mut row = kv.first;
    for i in 0..n {
        let ki = &kv.k_all[row * kv_dim + kv_off..][..hd];
        for r in 0..group {
            p[r * n + i] = dot(&qg[r * hd..][..hd], ki) * scale;
        }
        row = next(row);
    }
    for scores in p.chunks_exact_mut(n) {
        softmax_inplace(scores);
    }
    o.fill(0.0);
    let mut row = kv.first;
    for i in 0..n {
        let vi = &kv.v_all[row * kv_dim + kv_off..][..hd];
        for (r, or) in o.chunks_exact_mut(hd).enumerate() {
            let pi = p[r * n + i];
            for (od, &vd) in or.iter_mut().zip(vi) {
                *od = pi.mul_add(vd, *od);
            }
        }
        row = next(row);
    }
}

// ANCHOR: attention_naive
/// The reference: K/V explicitly repeated to every query head, full score matrix with an
/// additive `-inf` mask above the diagonal (and, in a sliding-window layer, below the band),
/// one head and one row at a time. Same contract.
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
    // positions before the first query's window are masked for every query (and may be gone)
    for j in cache.first_visible(layer, start_pos)..total {
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
            // scores over every key, masked (additive -inf) after the query's own position and
            // before its window
            let lo = cache.first_visible(layer, pos);
            let mut s = vec![0.0f32; total];
            for (j, sj) in s.iter_mut().enumerate() {
                if j > pos || j < lo {
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
