//! Chapter 4, reference solutions (included in the book's appendix; checked by
//! `cargo test --test ch04_exercises --features solutions`).

// ANCHOR: ex1
/// mean(x²) = (1 + 4 + 9 + 16) / 4 = 7.5, √7.5 = 2.738613, y = x / 2.738613
/// = [0.36515, 0.73030, 1.09544, 1.46059].
pub fn rmsnorm_1234() -> [f32; 4] {
    let rms = 7.5f32.sqrt();
    [1.0 / rms, 2.0 / rms, 3.0 / rms, 4.0 / rms]
}
// ANCHOR_END: ex1

// ANCHOR: ex2
/// silu(1) = 1 / (1 + e⁻¹) = 0.7310586, times up = 2: 1.46212.
pub fn swiglu_1_2() -> f32 {
    2.0 * (1.0 / (1.0 + (-1.0f32).exp()))
}
// ANCHOR_END: ex2

// ANCHOR: ex3
/// q, o: 576·576 each; k, v: 192·576 each; gate, up, down: 1536·576 each; two norms: 576 each.
/// 884,736 + 2,654,208 + 1,152 = 3,540,096.
pub fn params_per_block() -> usize {
    2 * 576 * 576 + 2 * 192 * 576 + 3 * 1536 * 576 + 2 * 576
}
// ANCHOR_END: ex3

// ANCHOR: ex4
/// The sum of squares in f64 (no overflow, little rounding), then one scale per row.
pub fn rmsnorm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    let mean_sq = x.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>() / x.len() as f64;
    let scale = (1.0 / (mean_sq + eps as f64).sqrt()) as f32;
    for ((o, &v), &wi) in out.iter_mut().zip(x).zip(w) {
        *o = v * scale * wi;
    }
}
// ANCHOR_END: ex4
