//! Chapter 10b, reference solutions (included in the book's appendix; checked by
//! `cargo test --test ch10b_exercises --features solutions`).

// ANCHOR: ex1
/// Per layer: q_proj and o_proj 576×576, k_proj and v_proj 192×576, gate_proj and up_proj
/// 1536×576, down_proj 576×1536: 2,433,024 weights, in Q4_1 at 20 bytes per 32. Thirty layers,
/// plus the tied head read whole once: 49,152 × 576 weights in Q8_0 at 34 bytes per 32.
pub fn bytes_per_token() -> usize {
    let per_layer = 2 * 576 * 576 + 2 * 192 * 576 + 3 * 1536 * 576;
    30 * per_layer * 20 / 32 + 49152 * 576 * 34 / 32
}
// ANCHOR_END: ex1

// ANCHOR: ex2
/// Every byte is read once per token, so tokens/s ≤ bandwidth ÷ bytes per token:
/// 20e9 / 96,436,224 = 207.4, rounded down.
pub fn max_tokens_per_second() -> u64 {
    20_000_000_000 / bytes_per_token() as u64
}
// ANCHOR_END: ex2
