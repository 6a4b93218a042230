//! Chapter 7, reference solutions (included in the book's appendix; checked by
//! `cargo test --test ch07_exercises --features solutions`).

// ANCHOR: ex1
/// `glassbox tokenize --json " Paris"` → [7042]; `glassbox logits` puts it first (p ≈ 0.77),
/// and the transformers fixture's top-1 says the same.
pub fn next_id() -> u32 {
    7042
}
// ANCHOR_END: ex1

// ANCHOR: ex2
/// Tied head: logits = h · Eᵀ, so one logit is the dot product of h with row `id` of E.
pub fn logit_of(final_normed: &[f32], embedding_row: &[f32]) -> f32 {
    final_normed
        .iter()
        .zip(embedding_row)
        .map(|(a, b)| a * b)
        .sum()
}
// ANCHOR_END: ex2
