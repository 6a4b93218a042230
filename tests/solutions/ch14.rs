//! Chapter 14, reference solutions (included in the book's appendix; checked by
//! `cargo test --test ch14_exercises --features solutions`).

// ANCHOR: ex1
/// cos(q, x) = q·x / (‖q‖ ‖x‖), with ‖q‖ = √2:
/// a: 1 / (√2 · 1) = 0.7071;  b: 1 / (√2 · √2) = 0.5;  c: 4 / (√2 · 3) = 0.9428.
/// c points almost the same way as q (its length does not count): c, a, b.
#[allow(clippy::approx_constant)] // 1/√2 written as a reader writes it, to 4 decimals
pub fn ranking() -> ([&'static str; 3], [f32; 3]) {
    (["c", "a", "b"], [0.9428, 0.7071, 0.5])
}
// ANCHOR_END: ex1

// ANCHOR: ex2
/// Masked mean, then the library's normalisation (the mean's length cancels out anyway).
pub fn mean_pool(states: &[f32], mask: &[bool], d: usize) -> Vec<f32> {
    let rows: Vec<&[f32]> = states
        .chunks_exact(d)
        .zip(mask)
        .filter(|(_, &m)| m)
        .map(|(r, _)| r)
        .collect();
    let mut v: Vec<f32> = (0..d)
        .map(|i| rows.iter().map(|r| r[i]).sum::<f32>() / rows.len() as f32)
        .collect();
    glassbox::model::bert::l2_normalize(&mut v);
    v
}
// ANCHOR_END: ex2
