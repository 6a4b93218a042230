//! Stage 2 · RMSNorm: rescale each token's vector to unit root-mean-square, then weight it.
//!
//! ```text
//! y_i = x_i / sqrt(mean_j(x_j²) + eps) * w_i          x, w, y: [d_model]
//! ```
//!
//! Unlike LayerNorm there is no mean subtraction and no bias: only the scale of the vector is
//! normalised. By hand, with unit weight and eps ≈ 0: x = [1, 2, 3, 4], mean(x²) = 30/4 = 7.5,
//! sqrt(7.5) = 2.738613, y = [0.36515, 0.73030, 1.09544, 1.46059].
//!
//! Always computed in f32 (never in f16): the sum of squares of a 2048-wide activation with
//! outliers overflows f16. The order of operations follows Hugging Face's `LlamaRMSNorm`:
//! `x * rsqrt(mean(x²) + eps)` first, then `* weight`.
//!
//! Reference: Zhang & Sennrich, "Root Mean Square Layer Normalization" (2019);
//! `transformers.models.llama.modeling_llama.LlamaRMSNorm`.

// ANCHOR: rmsnorm_naive
/// The reference: the formula, one row, sum of squares accumulated in f64.
pub fn rmsnorm_naive(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    assert_eq!(
        x.len(),
        weight.len(),
        "rmsnorm: x and weight lengths differ"
    );
    assert_eq!(x.len(), out.len(), "rmsnorm: x and out lengths differ");
    let mean_sq = x.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>() / x.len() as f64;
    let inv_rms = 1.0 / (mean_sq + eps as f64).sqrt();
    for i in 0..x.len() {
        out[i] = ((x[i] as f64 * inv_rms) as f32) * weight[i];
    }
}
// ANCHOR_END: rmsnorm_naive

/// Σ x² with eight independent f32 accumulators, so the compiler can keep them in one SIMD
/// register (a single running sum is a serial dependency chain it may not reorder).
fn sum_squares(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let mut chunks = x.chunks_exact(8);
    for c in &mut chunks {
        for l in 0..8 {
            acc[l] += c[l] * c[l];
        }
    }
    let tail: f32 = chunks.remainder().iter().map(|v| v * v).sum();
    acc.iter().sum::<f32>() + tail
}

// ANCHOR: rmsnorm
/// RMSNorm of one row: `x, weight, out: [d]`.
pub fn rmsnorm(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    assert_eq!(
        x.len(),
        weight.len(),
        "rmsnorm: x and weight lengths differ"
    );
    assert_eq!(x.len(), out.len(), "rmsnorm: x and out lengths differ");
    // 1. mean of squares, in f32
    let mean_sq = sum_squares(x) / x.len() as f32;
    // 2. one reciprocal square root per row
    let inv_rms = 1.0 / (mean_sq + eps).sqrt();
    // 3. scale, then weight (HF's order)
    for ((o, &xi), &wi) in out.iter_mut().zip(x).zip(weight) {
        *o = (xi * inv_rms) * wi;
    }
}
// ANCHOR_END: rmsnorm

/// RMSNorm of every row: `x, out: [seq, d]`, `weight: [d]` with `d = weight.len()`.
pub fn rmsnorm_rows(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    let d = weight.len();
    assert!(
        d > 0 && x.len().is_multiple_of(d),
        "rmsnorm_rows: len {} is not seq × {d}",
        x.len()
    );
    assert_eq!(x.len(), out.len(), "rmsnorm_rows: x and out lengths differ");
    for (xr, or) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
        rmsnorm(xr, weight, eps, or);
    }
}

/// RMSNorm of every row in place: `x: [seq, d]` ← RMSNorm(x), `weight: [d]`. With a weight
/// of one head's width it normalises each head of `[seq, n_heads·hd]` on its own (Gemma 3's
/// QK-norm); with `d_model` it is a sandwich norm on a branch's output.
pub fn rmsnorm_rows_inplace(x: &mut [f32], weight: &[f32], eps: f32) {
    let d = weight.len();
    assert!(
        d > 0 && x.len().is_multiple_of(d),
        "rmsnorm_rows_inplace: len {} is not seq × {d}",
        x.len()
    );
    for row in x.chunks_exact_mut(d) {
        let inv_rms = 1.0 / (sum_squares(row) / d as f32 + eps).sqrt();
        for (xi, &wi) in row.iter_mut().zip(weight) {
            *xi = (*xi * inv_rms) * wi; // the same order as `rmsnorm`
        }
    }
}

/// [`rmsnorm_rows`] with the naive row function (the reference for tests).
pub fn rmsnorm_rows_naive(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    let d = weight.len();
    assert!(
        d > 0 && x.len().is_multiple_of(d),
        "rmsnorm_rows: len {} is not seq × {d}",
        x.len()
    );
    for (xr, or) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
        rmsnorm_naive(xr, weight, eps, or);
    }
}

/// Root mean square of a vector, `sqrt(mean(x²))`: what the lessons print for the residual.
pub fn rms(x: &[f32]) -> f32 {
    if x.is_empty() {
        return 0.0;
    }
    (sum_squares(x) / x.len() as f32).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hand_1234() {
        let mut y = [0.0; 4];
        rmsnorm(&[1.0, 2.0, 3.0, 4.0], &[1.0; 4], 0.0, &mut y);
        let want = [0.36515, 0.73030, 1.09544, 1.46059];
        for (a, b) in y.iter().zip(want) {
            assert!((a - b).abs() < 1e-5, "{y:?}");
        }
    }
}
