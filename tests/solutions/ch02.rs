//! Chapter 2, reference solutions (included in the book's appendix; checked by
//! `cargo test --test ch02_exercises --features solutions`).

// ANCHOR: ex1
/// A rotation keeps lengths: ‖[3, 4, 0, 0]‖ = √(9 + 16) = 5 at every position.
pub fn norm_after_rope() -> f32 {
    (3.0f32 * 3.0 + 4.0 * 4.0).sqrt()
}
// ANCHOR_END: ex1

// ANCHOR: ex2
/// ⟨rope(q, m), rope(k, n)⟩ depends only on m − n = 10 − 7 = 3, so n = 25 − 3 = 22.
pub fn same_score_key_position() -> usize {
    25 - (10 - 7)
}
// ANCHOR_END: ex2

// ANCHOR: ex3
/// (a, b) as the complex number a + ib, times e^{i·angle}; in f64, rounded once at the end.
pub fn rotate_pair(a: f32, b: f32, angle: f32) -> (f32, f32) {
    let (s, c) = (angle as f64).sin_cos();
    let (a, b) = (a as f64, b as f64);
    ((a * c - b * s) as f32, (b * c + a * s) as f32)
}
// ANCHOR_END: ex3
