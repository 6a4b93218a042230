//! Stage 2 (encoder) · LayerNorm: centre each token's vector, scale it to unit variance, then
//! weight and shift it.
//!
//! ```text
//! μ  = mean_j(x_j)          σ² = mean_j((x_j − μ)²)            (biased variance, as PyTorch)
//! y_i = (x_i − μ) / sqrt(σ² + eps) · w_i + b_i                  x, w, b, y: [d_model]
//! ```
//!
//! BERT uses it where Llama uses RMSNorm (chapter 4): RMSNorm drops the mean subtraction and
//! the bias `b`. By hand, unit weight, zero bias, eps ≈ 0: x = [1, 2, 3, 4], μ = 2.5,
//! σ² = (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25, y = [−1.34164, −0.44721, 0.44721, 1.34164].
//!
//! Two passes over the row (mean, then variance of the centred values): the one-pass
//! `E[x²] − E[x]²` loses every digit when the mean is large next to the spread. In f32, always.
//!
//! Reference: Ba, Kiros & Hinton, "Layer Normalization" (2016); `torch.nn.LayerNorm`.

// ANCHOR: layernorm_naive
/// The reference: the formula, one row, sums in f64.
pub fn layernorm_naive(x: &[f32], weight: &[f32], bias: &[f32], eps: f32, out: &mut [f32]) {
    check(x, weight, bias, out);
    let n = x.len() as f64;
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    let inv = 1.0 / (var + eps as f64).sqrt();
    for i in 0..x.len() {
        out[i] = ((x[i] as f64 - mean) * inv * weight[i] as f64 + bias[i] as f64) as f32;
    }
}
// ANCHOR_END: layernorm_naive

fn check(x: &[f32], weight: &[f32], bias: &[f32], out: &[f32]) {
    assert!(
        x.len() == weight.len() && x.len() == bias.len() && x.len() == out.len(),
        "layernorm: x {}, weight {}, bias {}, out {} differ in length",
        x.len(),
        weight.len(),
        bias.len(),
        out.len()
    );
}

/// Σ x with eight independent accumulators (one SIMD register; see `rmsnorm::sum_squares`).
fn sum8(x: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0.0f32; 8];
    let mut chunks = x.chunks_exact(8);
    for c in &mut chunks {
        for l in 0..8 {
            acc[l] += f(c[l]);
        }
    }
    let tail: f32 = chunks.remainder().iter().map(|&v| f(v)).sum();
    acc.iter().sum::<f32>() + tail
}

// ANCHOR: layernorm
/// LayerNorm of one row in f32: `x, weight, bias, out: [d]`.
pub fn layernorm(x: &[f32], weight: &[f32], bias: &[f32], eps: f32, out: &mut [f32]) {
    check(x, weight, bias, out);
    let n = x.len() as f32;
    // 1. the mean
    let mean = sum8(x, |v| v) / n;
    // 2. the variance of the centred values (second pass: no cancellation)
    let var = sum8(x, |v| (v - mean) * (v - mean)) / n;
    // 3. normalise, weight, shift
    let inv = 1.0 / (var + eps).sqrt();
    for (((o, &xi), &wi), &bi) in out.iter_mut().zip(x).zip(weight).zip(bias) {
        *o = (xi - mean) * inv * wi + bi;
    }
}
// ANCHOR_END: layernorm

/// LayerNorm of every row of `x: [seq, d]` in place, `d = weight.len()`.
pub fn layernorm_rows_inplace(x: &mut [f32], weight: &[f32], bias: &[f32], eps: f32) {
    let d = weight.len();
    assert!(
        d > 0 && x.len().is_multiple_of(d),
        "layernorm_rows: len {} is not seq × {d}",
        x.len()
    );
    let mut row = vec![0.0f32; d];
    for xr in x.chunks_exact_mut(d) {
        layernorm(xr, weight, bias, eps, &mut row);
        xr.copy_from_slice(&row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hand_1234() {
        let want = [-1.34164, -0.44721, 0.44721, 1.34164];
        for f in [layernorm, layernorm_naive] {
            let mut y = [0.0; 4];
            f(&[1.0, 2.0, 3.0, 4.0], &[1.0; 4], &[0.0; 4], 0.0, &mut y);
            for (a, b) in y.iter().zip(want) {
                assert!((a - b).abs() < 1e-5, "{y:?}");
            }
        }
    }

    /// A large mean next to a small spread: the two-pass variance keeps it.
    #[test]
    fn large_offset() {
        let x: Vec<f32> = (0..16).map(|i| 1000.0 + i as f32 * 0.01).collect();
        let (w, b) = (vec![1.0; 16], vec![0.5; 16]);
        let (mut fast, mut slow) = (vec![0.0; 16], vec![0.0; 16]);
        layernorm(&x, &w, &b, 1e-12, &mut fast);
        layernorm_naive(&x, &w, &b, 1e-12, &mut slow);
        crate::compare::assert_close("layernorm", &fast, &slow, 2e-3);
    }
}
