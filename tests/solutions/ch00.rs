//! Chapter 0, reference solutions (included in the book's appendix; checked by
//! `cargo test --test ch00_exercises --features solutions`).

use super::Shapes;

// ANCHOR: ex1
/// Only the blocks grow: 28,311,552 (embedding) + 60 × 3,540,096 (one block) + 576 (final norm).
pub fn params_60_layers() -> usize {
    let embedding = 49152 * 576;
    let block = (576 * 576 + 2 * 192 * 576 + 576 * 576) + 3 * 576 * 1536 + 2 * 576;
    embedding + 60 * block + 576 // = 240,717,888
}
// ANCHOR_END: ex1

// ANCHOR: ex2
/// Embedding `V × d` (also the head: tied), per layer q and o `d × d`, k and v `kv × d`,
/// gate, up and down `ffn × d`, two norms `d`; then the final norm `d`.
pub fn param_count(s: &Shapes) -> usize {
    let d = s.d_model;
    let attention = 2 * d * d + 2 * s.kv_dim * d;
    let mlp = 3 * s.ffn * d;
    let norms = 2 * d;
    s.vocab * d + s.layers * (attention + mlp + norms) + d
}
// ANCHOR_END: ex2
