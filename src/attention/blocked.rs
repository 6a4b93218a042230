//! Stage 2 · attention for a prompt as matrix products: the same sums as `attention`, at GEMM
//! speed (chapter 3, "a faster prefill").

use rayon::prelude::*;

use super::AttentionShape;
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
/// S = qb · Kgᵀ / √hd            Kg: [n, hd], n = keys the block's last token sees
/// P = softmax of each row of S over its own causal prefix, 0 after it      P: [rows, n]
/// O = P · Vg  (= P · (Vgᵀ)ᵀ)     Vgᵀ: [hd, n], so O: [rows, hd]
/// ```
/// Masked entries are computed and then set to exactly 0, so a row never depends on later
/// tokens. K and Vᵀ of each KV head are gathered once per call. With `causal` false nothing is
/// masked and every block sees all `start_pos + seq` keys: the encoder's attention.
pub(super) fn attention_prefill_blocked(
    q: &[f32],
    k_all: &[f32],
    v_all: &[f32],
    start_pos: usize,
    seq: usize,
    s: &AttentionShape,
    out: &mut [f32],
    causal: bool,
) {
    let (nh, nkv, hd, kv_dim, group) = (s.n_heads, s.n_kv_heads, s.head_dim, s.kv_dim(), s.group());
    let total = start_pos + seq;
    let scale = 1.0 / (hd as f32).sqrt();
    let blocks = seq.div_ceil(PREFILL_BLOCK);
    // per KV head g: kg: [total, hd] and vt: [hd, total], gathered from the cache's [pos, kv_dim]
    let heads: Vec<(Vec<f32>, Vec<f32>)> = (0..nkv)
        .into_par_iter()
        .map(|g| {
            let mut kg = Vec::with_capacity(total * hd);
            let mut vt = vec![0.0f32; hd * total];
            for j in 0..total {
                kg.extend_from_slice(&k_all[j * kv_dim + g * hd..][..hd]);
                for (d, v) in v_all[j * kv_dim + g * hd..][..hd].iter().enumerate() {
                    vt[d * total + j] = *v;
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
            let n = if causal { start_pos + t1 } else { total };
            // qb: [rows, hd], row (t − t0)·group + r = query head g·group + r of token t
            let mut qb = Vec::with_capacity(rows * hd);
            for t in t0..t1 {
                qb.extend_from_slice(&q[t * nh * hd + g * group * hd..][..group * hd]);
            }
            let mut p = vec![0.0f32; rows * n]; // p: [rows, n], scores then probabilities
            matmul_simd(&qb, &kg[..n * hd], &mut p, rows, hd, n);
            for (i, row) in p.chunks_exact_mut(n).enumerate() {
                // causal: keys 0..=position of this token; bidirectional: all of them
                let valid = if causal {
                    start_pos + t0 + i / group + 1
                } else {
                    n
                };
                for x in &mut row[..valid] {
                    *x *= scale;
                }
                softmax_inplace(&mut row[..valid]);
                row[valid..].fill(0.0);
            }
            let mut vb = Vec::with_capacity(hd * n); // vb: [hd, n], the first n columns of vt
            for d in 0..hd {
                vb.extend_from_slice(&vt[d * total..][..n]);
            }
            let mut ob = vec![0.0f32; rows * hd]; // ob: [rows, hd]
            matmul_simd(&p, &vb, &mut ob, rows, n, hd);
            for (o, src) in outs.iter_mut().zip(ob.chunks_exact(group * hd)) {
                o.copy_from_slice(src);
            }
        });
}
// ANCHOR_END: blocked
