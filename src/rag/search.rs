//! RAG, step 4 · retrieval: the k stored vectors most similar to the question's.
//!
//! Every stored vector has length 1, so cosine similarity is a plain dot product, and scoring
//! every chunk is one matrix–vector product over the store: `scores = V · q`,
//! `V: [n, dim]`, `q: [dim]`. For 100,000 chunks of MiniLM (384 dimensions) that is 154 MB of
//! f32 read once: memory-bound, so a single core with f32x8 FMAs (`matmul::dot`) reads it about
//! as fast as the memory delivers. Then only k of the n scores matter: `select_nth_unstable`
//! moves the k best to the front in O(n) (no full sort), and those k are sorted.
//!
//! An exact scan, no index: below a few million vectors it is fast enough (benches/embed.rs
//! times it), and it is never wrong. Approximate indexes (HNSW, IVF) trade recall for speed
//! past that.

use crate::matmul::dot;

/// One retrieved row: its index in the matrix and its score (cosine similarity).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    pub index: usize,
    pub score: f32,
}

/// Best first; equal scores by index, so the order never depends on the sort. `+ 0.0` turns a
/// −0 score into +0 (`total_cmp` would put −0 below +0, and two sums of the same zero products
/// may differ in sign: a f64 `sum` starts from −0, an FMA chain from +0).
fn order(a: &Hit, b: &Hit) -> std::cmp::Ordering {
    (b.score + 0.0)
        .total_cmp(&(a.score + 0.0))
        .then(a.index.cmp(&b.index))
}

// ANCHOR: top_k_naive
/// The reference: every score in f64, the whole list sorted, the first k kept.
/// `vectors: [n, dim]` row-major, `query: [dim]`.
pub fn top_k_naive(vectors: &[f32], query: &[f32], k: usize) -> Vec<Hit> {
    let dim = query.len();
    let mut hits: Vec<Hit> = vectors
        .chunks_exact(dim.max(1))
        .enumerate()
        .map(|(index, v)| {
            let s: f64 = v
                .iter()
                .zip(query)
                .map(|(&a, &b)| a as f64 * b as f64)
                .sum();
            Hit {
                index,
                score: s as f32,
            }
        })
        .collect();
    hits.sort_by(order);
    hits.truncate(k);
    hits
}
// ANCHOR_END: top_k_naive

// ANCHOR: top_k
/// The scan: one SIMD dot product per row on this thread, then partial selection of the k best.
pub fn top_k(vectors: &[f32], query: &[f32], k: usize) -> Vec<Hit> {
    let dim = query.len();
    assert!(
        dim > 0 && vectors.len().is_multiple_of(dim),
        "top_k: vectors are not [n, {dim}]"
    );
    let mut hits: Vec<Hit> = vectors
        .chunks_exact(dim)
        .enumerate()
        .map(|(index, v)| Hit {
            index,
            score: dot(v, query),
        })
        .collect();
    let k = k.min(hits.len());
    if k == 0 {
        return Vec::new();
    }
    if k < hits.len() {
        hits.select_nth_unstable_by(k - 1, order); // the k best are now in front, unordered
        hits.truncate(k);
    }
    hits.sort_by(order);
    hits
}
// ANCHOR_END: top_k
