//! RAG · the semantic cache: the same question asked in other words gets the stored answer.
//!
//! An exact-text cache misses "How does the KV-cache work?" after "how does the kv cache
//! work": the strings differ. Their embeddings do not (cosine ≈ 0.99). So the cache is keyed by
//! the question's vector: the nearest earlier question, if it is within `threshold`, answers
//! without retrieval or a single step of the chat model.
//!
//! The threshold is the whole design. Too low and "What is top-k sampling?" returns the answer
//! to "What is top-p sampling?" (MiniLM puts those ≈ 0.85 apart); 0.95 keeps only rewordings.
//! The store clears the cache whenever a document changes, since the answers may be stale.

use crate::rag::search::top_k;
use crate::rag::store::CachedAnswer;

/// Questions at least this similar share an answer.
pub const DEFAULT_THRESHOLD: f32 = 0.95;

/// A cache hit: the earlier answer and how similar its question was.
#[derive(Clone, Debug, PartialEq)]
pub struct CacheHit<'a> {
    pub earlier: &'a CachedAnswer,
    pub similarity: f32,
}

// ANCHOR: lookup
/// The earlier answer whose question is most similar to `query` (a unit vector), if that
/// similarity is at least `threshold`.
pub fn lookup<'a>(
    answers: &'a [CachedAnswer],
    query: &[f32],
    threshold: f32,
) -> Option<CacheHit<'a>> {
    let vectors: Vec<f32> = answers
        .iter()
        .flat_map(|a| a.embedding.iter().copied())
        .collect();
    let best = top_k(&vectors, query, 1).into_iter().next()?;
    (best.score >= threshold).then(|| CacheHit {
        earlier: &answers[best.index],
        similarity: best.score,
    })
}
// ANCHOR_END: lookup
