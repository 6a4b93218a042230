//! Stage 2 (encoder) · GELU: BERT's activation, where Llama has SwiGLU.
//!
//! ```text
//! gelu(x) = x · Φ(x) = ½ · x · (1 + erf(x / √2))       Φ = the standard normal CDF
//! BERT's MLP: out = W_2 · gelu(W_1 · x + b_1) + b_2     x: [d_model], W_1: [ffn, d_model]
//! ```
//!
//! A smooth ReLU: about 0 for x ≪ 0, about x for x ≫ 0, and a small dip (minimum −0.17 near
//! x = −0.75) in between. "gelu" in a Hugging Face config means this exact (erf) form; the tanh
//! approximation is a different function (`gelu_new`), off by up to 4.7e-4 (at x ≈ −2.7).
//!
//! Rust's standard library has no `erf`, so it is written here twice: [`erf_naive`], the Taylor
//! series in f64 (the reference), and [`erf`], Abramowitz & Stegun's formula 7.1.26 in f32
//! (|error| ≤ 1.5e-7, the formula PyTorch's vectorised CPU `erf` also uses), which runs eight
//! lanes at a time in [`gelu_inplace`].
//!
//! Reference: Hendrycks & Gimpel, "Gaussian Error Linear Units" (2016); Abramowitz & Stegun,
//! *Handbook of Mathematical Functions* (1964), 7.1.26; `torch.nn.functional.gelu`.

use wide::f32x8;

// ANCHOR: erf_naive
/// erf in f64, two textbook expansions (A&S 7.1.5 and 7.1.14), accurate to ~1e-15:
/// * |x| < 2.5: the Taylor series erf(x) = 2/√π · Σ_n (−1)ⁿ x^(2n+1) / (n! (2n+1)) (its terms
///   grow to ~e^(x²) before they shrink, so past 2.5 it would lose digits to cancellation);
/// * beyond: 1 − erfc(x), with erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))),
///   the continued fraction evaluated from its 80th term back.
pub fn erf_naive(x: f64) -> f64 {
    let z = x.abs();
    if z < 2.5 {
        let (mut term, mut sum, mut n) = (x, x, 0.0f64); // term = (−1)ⁿ x^(2n+1) / n!
        while term.abs() > 1e-17 * sum.abs().max(1e-300) {
            n += 1.0;
            term *= -x * x / n;
            sum += term / (2.0 * n + 1.0);
        }
        return sum * 2.0 / std::f64::consts::PI.sqrt();
    }
    let mut k = z;
    for n in (1..=80).rev() {
        k = z + (n as f64 / 2.0) / k;
    }
    let erfc = (-z * z).exp() / std::f64::consts::PI.sqrt() / k;
    (1.0 - erfc).copysign(x)
}

/// The reference GELU, through [`erf_naive`].
pub fn gelu_naive(x: f32) -> f32 {
    let x = x as f64;
    (0.5 * x * (1.0 + erf_naive(x / std::f64::consts::SQRT_2))) as f32
}
// ANCHOR_END: erf_naive

// ANCHOR: erf
/// Abramowitz & Stegun 7.1.26: for z ≥ 0, with t = 1 / (1 + p·z),
/// erf(z) ≈ 1 − (a₁t + a₂t² + a₃t³ + a₄t⁴ + a₅t⁵) · e^(−z²); erf(−z) = −erf(z).
const P: f32 = 0.327_591_1;
const A: [f32; 5] = [
    0.254_829_6,
    -0.284_496_74,
    1.421_413_8,
    -1.453_152_1,
    1.061_405_4,
];

/// erf in f32, |error| ≤ 1.5e-7 (plus f32 rounding).
pub fn erf(x: f32) -> f32 {
    let z = x.abs();
    let t = 1.0 / (1.0 + P * z);
    let poly = ((((A[4] * t + A[3]) * t + A[2]) * t + A[1]) * t + A[0]) * t;
    (1.0 - poly * (-z * z).exp()).copysign(x)
}

/// GELU with [`erf`].
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// The same formula on eight lanes.
fn gelu8(x: f32x8) -> f32x8 {
    let u = x * f32x8::splat(std::f32::consts::FRAC_1_SQRT_2);
    let z = u.abs();
    let t = f32x8::ONE / (f32x8::ONE + f32x8::splat(P) * z);
    let mut poly = f32x8::splat(A[4]);
    for a in [A[3], A[2], A[1], A[0]] {
        poly = poly.mul_add(t, f32x8::splat(a));
    }
    let e = f32x8::ONE - poly * t * (-(z * z)).exp(); // erf(|u|)
    let erf_u = e.flip_signs(u); // erf(u) = sign(u) · erf(|u|)
    f32x8::splat(0.5) * x * (f32x8::ONE + erf_u)
}

/// `x ← gelu(x)` over a whole buffer (`[seq, ffn]`: it is element-wise), eight at a time.
pub fn gelu_inplace(x: &mut [f32]) {
    let mut chunks = x.chunks_exact_mut(8);
    for c in &mut chunks {
        let v: [f32; 8] = (&*c).try_into().expect("chunk of 8");
        c.copy_from_slice(&gelu8(f32x8::new(v)).to_array());
    }
    for v in chunks.into_remainder() {
        *v = gelu(*v);
    }
}
// ANCHOR_END: erf

#[cfg(test)]
mod tests {
    use super::*;

    /// Values from a table of erf (and the definition of Φ): erf(0.5) = 0.5204998778,
    /// erf(1) = 0.8427007929, erf(2) = 0.9953222650; gelu(1) = Φ(1) = 0.8413447461.
    #[test]
    fn known_values() {
        for (x, want) in [
            (0.5, 0.5204998778),
            (1.0, 0.8427007929),
            (2.0, 0.9953222650),
        ] {
            assert!((erf_naive(x) - want).abs() < 1e-9, "erf_naive({x})");
            assert!((erf(x as f32) as f64 - want).abs() < 3e-7, "erf({x})");
            assert!((erf_naive(-x) + want).abs() < 1e-9, "odd");
        }
        assert!((gelu_naive(1.0) as f64 - 0.841_344_746_1).abs() < 1e-7);
        assert_eq!(gelu(0.0), 0.0);
    }

    /// The fast kernels against the series on a grid over [−10, 10]: |Δ| ≤ 1.5e-7 · |x| / 2 from
    /// the formula, plus a few f32 roundings of values up to 10.
    #[test]
    fn fast_matches_naive() {
        let xs: Vec<f32> = (-2000..=2000).map(|i| i as f32 * 0.005).collect();
        let mut v = xs.clone();
        gelu_inplace(&mut v);
        for (&x, &g) in xs.iter().zip(&v) {
            let want = gelu_naive(x);
            let tol = 2e-7 * x.abs().max(1.0) + 2.0 * f32::EPSILON * want.abs();
            assert!((g - want).abs() <= tol, "gelu({x}) = {g}, naive {want}");
            assert!((gelu(x) - want).abs() <= tol, "scalar gelu({x})");
        }
    }
}
