//! Stage 2 · attention for a prompt as matrix products: the same sums as `attention`, at GEMM
//! speed (chapter 3, "a faster prefill").

use rayon::prelude::*;

use super::AttentionShape;
use crate::kv_cache::KvCache;
use crate::matmul::matmul_simd;
use crate::softmax::softmax_inplace;

// ANCHOR: blocked
/// From this many new tokens on, `attention` takes the blocked path below.
pub(super) const BLOCKED_MIN_SEQ: usize = 16;
/// Tokens per block of the blocked prefill: one block of one KV head is `32 × group` query rows.
const PREFILL_BLOCK: usize = 32;

/// The same attention for a prompt, as two matrix products per (KV head, block of 32 tokens), so
/// that it runs at GEMM speed instead of one 64-float `dot` per (query, key) pair:
///
/// ```text
/// qb: [rows, hd]  the block's queries of the heads that share KV head g   (rows = 32 · group)
/// S = qb · Kgᵀ / √hd            Kg: [n, hd], the n keys the block's tokens see
/// P = softmax of each row of S over its own keys (causal prefix, or window band), 0 elsewhere
/// O = P · Vg  (= P · (Vgᵀ)ᵀ)     Vgᵀ: [hd, n], so O: [rows, hd]
/// ```
/// Masked entries are computed and then set to exactly 0, so a row never depends on keys it
/// may not see. K and Vᵀ of each KV head are gathered once per call, from the first position
/// any query of the call sees (0, or the first query's window start in a sliding-window layer).
/// With `Band::All` nothing is masked and every block sees all `start_pos + seq` keys: the
/// encoder's attention.
pub(super) fn attention_prefill_blocked(
    q: &[f32],
    k_all: &[f32],
    v_all: &[f32],
    band: Band,
    start_pos: usize,
    seq: usize,
    s: &AttentionShape,
    out: &mut [f32],
) {
    let (nh, nkv, hd, kv_dim, group) = (s.n_heads, s.n_kv_heads, s.head_dim, s.kv_dim(), s.group());
    let total = start_pos + seq;
    let k0 = band.first(start_pos); // the first key any query here sees
    let n_keys = total - k0;
    let scale = 1.0 / (hd as f32).sqrt();
    let blocks = seq.div_ceil(PREFILL_BLOCK);
    // per KV head g: kg: [n_keys, hd] and vt: [hd, n_keys] for positions k0 .. total, gathered
    // from the cache's rows (a ring's rows wrap)
    let heads: Vec<(Vec<f32>, Vec<f32>)> = (0..nkv)
        .into_par_iter()
        .map(|g| {
            let mut kg = Vec::with_capacity(n_keys * hd);
            let mut vt = vec![0.0f32; hd * n_keys];
            for (c, j) in (k0..total).enumerate() {
                let row = band.row_of(j);
                kg.extend_from_slice(&k_all[row * kv_dim + g * hd..][..hd]);
                for (d, v) in v_all[row * kv_dim + g * hd..][..hd].iter().enumerate() {
                    vt[d * n_keys + c] = *v;
                }
            }
            (kg, vt)
        })
        .collect();
    // task (g, b) writes, for each token t of block b, the heads g·group .. (g+1)·group of
    // out row t: chunk t·n_kv_heads + g of `out` (disjoint &mut pieces, as in matmul)
    let mut tasks: Vec<Vec<&mut [f32]>> = (0..nkv * blocks).map(|_| Vec::new()).collect();
    for (idx, chunk) in out.chunks_mut(group * hd).enumerate() {
        let (t, g) = (idx / nkv, idx % nkv);
        tasks[g * blocks + t / PREFILL_BLOCK].push(chunk);
    }
    tasks
        .into_par_iter()
        .enumerate()
        .for_each(|(task, mut outs)| {
            let (g, b) = (task / blocks, task % blocks);
            let (kg, vt) = &heads[g];
            let (t0, t1) = (b * PREFILL_BLOCK, ((b + 1) * PREFILL_BLOCK).min(seq));
            let rows = (t1 - t0) * group;
            // the block's keys: columns c0 .. c1 of kg (positions k0 + c0 .. start_pos + t1)
            let c0 = band.first(start_pos + t0) - k0;
            let c1 = band.end(start_pos + t1 - 1, total) - k0;
            let n = c1 - c0;
            // qb: [rows, hd], row (t − t0)·group + r = query head g·group + r of token t
            let mut qb = Vec::with_capacity(rows * hd);
            for t in t0..t1 {
                qb.extend_from_slice(&q[t * nh * hd + g * group * hd..][..group * hd]);
            }
            let mut p = vec![0.0f32; rows * n]; // p: [rows, n], scores then probabilities
            matmul_simd(&qb, &kg[c0 * hd..c1 * hd], &mut p, rows, hd, n);
            for (i, row) in p.chunks_exact_mut(n).enumerate() {
                let pos = start_pos + t0 + i / group; // this query's position
                let lo = band.first(pos) - k0 - c0; // its keys: lo .. hi
                let hi = band.end(pos, total) - k0 - c0;
                for x in &mut row[lo..hi] {
                    *x *= scale;
                }
                softmax_inplace(&mut row[lo..hi]);
                row[..lo].fill(0.0);
                row[hi..].fill(0.0);
            }
            let mut vb = Vec::with_capacity(hd * n); // vb: [hd, n], columns c0 .. c1 of vt
            for d in 0..hd {
                vb.extend_from_slice(&vt[d * n_keys + c0..][..n]);
            }
            let mut ob = vec![0.0f32; rows * hd]; // ob: [rows, hd]
            matmul_simd(&p, &vb, &mut ob, rows, n, hd);
            for (o, src) in outs.iter_mut().zip(ob.chunks_exact(group * hd)) {
                o.copy_from_slice(src);
            }
        });
}
// ANCHOR_END: blocked

/// The keys each query of a blocked call sees.
#[derive(Clone, Copy)]
pub(super) enum Band<'a> {
    /// Every key `0 .. start_pos + seq`, stored at rows 0, 1, .. (an encoder: no mask).
    All,
    /// The causal keys of one cache layer: position p sees `first_visible(p) ..= p` (the whole
    /// prefix, or a sliding window's band), key j stored at the layer's row `row_of(j)`.
    Causal(&'a KvCache, usize),
}

impl Band<'_> {
    /// The first key the query at position `pos` sees.
    fn first(self, pos: usize) -> usize {
        match self {
            Band::All => 0,
            Band::Causal(cache, layer) => cache.first_visible(layer, pos),
        }
    }
    /// One past the last key the query at position `pos` sees (`total` keys in all).
    fn end(self, pos: usize, total: usize) -> usize {
        match self {
            Band::All => total,
            Band::Causal(..) => pos + 1,
        }
    }
    /// The row holding key `j`.
    fn row_of(self, j: usize) -> usize {
        match self {
            Band::All => j,
            Band::Causal(cache, layer) => cache.row_of(layer, j),
        }
    }
}
