//! Comparing tensors: the one helper every numerical test in glassbox uses.
//!
//! "Looks right" is not a test. [`assert_close`] compares two `f32` slices element by element
//! and, when they disagree, prints what a person needs to debug it — the first values of both,
//! and the index and size of the largest difference — before it panics:
//!
//! ```text
//! rmsnorm vs LlamaRMSNorm: max |got - want| = 3.1e-2 at index 17 of 256 (tol 1e-5)
//!   got [0:8]  = [0.36515, 0.73030, ...]
//!   want[0:8]  = [0.36515, 0.73030, ...]
//!   at 17: got 1.20000, want 1.23100
//! ```
//!
//! The comparison is absolute: `|got[i] - want[i]| <= tol` for every `i`. Tests choose `tol`
//! as a named constant with a comment saying why that size. Kernels that add the same products
//! in another order are compared relative to the size of the terms instead
//! ([`assert_close_scaled`] with [`matmul_abs_scale`]). [`rand_vec`] makes the inputs. A NaN (or an infinity that the
//! other side does not have at the same place) is always a failure, and a length mismatch too.

/// How many leading values [`assert_close`] prints from each side.
const SHOW: usize = 8;

// ANCHOR: max_abs_diff
/// The largest absolute difference between `a` and `b` and where it is: `(index, |a - b|)`.
///
/// A NaN on either side, or an infinity on one side that the other does not share exactly,
/// counts as an infinite difference, so it is never hidden by a larger finite one.
/// For empty slices the answer is `(0, 0.0)`.
///
/// Panics if the lengths differ (comparing tensors of different shapes is a bug in the test).
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> (usize, f32) {
    assert_eq!(
        a.len(),
        b.len(),
        "max_abs_diff: lengths differ ({} vs {})",
        a.len(),
        b.len()
    );
    let mut worst = (0usize, 0.0f32);
    for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
        let d = if x == y {
            0.0 // also covers equal infinities (inf - inf would be NaN)
        } else if x.is_nan() || y.is_nan() || x.is_infinite() || y.is_infinite() {
            f32::INFINITY
        } else {
            (x - y).abs()
        };
        if d > worst.1 {
            worst = (i, d);
        }
    }
    worst
}
// ANCHOR_END: max_abs_diff

/// Format the first [`SHOW`] values of a slice, 5 decimals each.
fn head(x: &[f32]) -> String {
    let shown: Vec<String> = x.iter().take(SHOW).map(|v| format!("{v:.5}")).collect();
    let more = if x.len() > SHOW { ", ..." } else { "" };
    format!("[{}{more}]", shown.join(", "))
}

// ANCHOR: assert_close
/// Assert `|got[i] - want[i]| <= tol` for every `i`; on failure print the first values of both,
/// the index and size of the largest difference, then panic with `name` in the message.
pub fn assert_close(name: &str, got: &[f32], want: &[f32], tol: f32) {
    if got.len() != want.len() {
        eprintln!("{name}: got  = {}", head(got));
        eprintln!("{name}: want = {}", head(want));
        panic!(
            "{name}: length mismatch: got {} values, want {}",
            got.len(),
            want.len()
        );
    }
    let (i, diff) = max_abs_diff(got, want);
    if diff <= tol {
        return;
    }
    eprintln!(
        "{name}: max |got - want| = {diff:.3e} at index {i} of {} (tol {tol:.1e})",
        got.len()
    );
    eprintln!("  got [0:{SHOW}] = {}", head(got));
    eprintln!("  want[0:{SHOW}] = {}", head(want));
    eprintln!("  at {i}: got {:.6}, want {:.6}", got[i], want[i]);
    panic!("{name}: max |got - want| = {diff:.3e} at index {i} > tol {tol:.1e}");
}
// ANCHOR_END: assert_close

/// Assert `|got[i] - want[i]| <= rel · scale[i]` for every `i`: a tolerance that grows with the
/// size of what each value was computed from. For a dot product reordered (SIMD lanes, blocks),
/// `scale` is `Σ |a_p · b_p|` ([`matmul_abs_scale`]): the rounding of a sum is bounded by its
/// terms' magnitudes, not by the (possibly cancelling) result. On failure prints the worst
/// element (a NaN counts as infinitely far) and panics with `name`.
pub fn assert_close_scaled(name: &str, got: &[f32], want: &[f32], scale: &[f32], rel: f32) {
    assert_eq!(got.len(), want.len(), "{name}: length mismatch");
    assert_eq!(got.len(), scale.len(), "{name}: one scale per value");
    let mut worst = (0usize, 0.0f32, 0.0f32); // (index, |diff|, allowed)
    for (i, ((&g, &w), &s)) in got.iter().zip(want).zip(scale).enumerate() {
        let (_, diff) = max_abs_diff(&[g], &[w]);
        let allowed = rel * s + 1e-30;
        if diff / allowed > worst.1 / worst.2.max(1e-30) {
            worst = (i, diff, allowed);
        }
    }
    let (i, diff, allowed) = worst;
    if diff <= allowed {
        return;
    }
    eprintln!("  got [0:{SHOW}] = {}", head(got));
    eprintln!("  want[0:{SHOW}] = {}", head(want));
    panic!(
        "{name}: |got - want| = {diff:.3e} at index {i} (got {}, want {}) > {rel:.1e} × scale {:.3e}",
        got[i], want[i], scale[i]
    );
}

/// `scale[i][j] = Σ_p |x[i][p] · w[j][p]|` for `out = x · wᵀ` (x: [m, k], w: [n, k],
/// scale: [m, n]): the error scale of each output of a matrix product, for
/// [`assert_close_scaled`].
pub fn matmul_abs_scale(x: &[f32], w: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut scale = vec![0.0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            scale[i * n + j] = (0..k).map(|p| (x[i * k + p] * w[j * k + p]).abs()).sum();
        }
    }
    scale
}

/// Deterministic pseudo-random values in [-1, 1) (xorshift64 seeded by `seed`): test and
/// benchmark inputs that are the same on every run, so a failing case can be rerun.
pub fn rand_vec(seed: u64, len: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// Like [`assert_close`], but returns the max difference on success, so a test or a lesson can
/// print the "max diff" line the book shows.
pub fn check_close(name: &str, got: &[f32], want: &[f32], tol: f32) -> f32 {
    assert_close(name, got, want, tol);
    if got.is_empty() {
        0.0
    } else {
        max_abs_diff(got, want).1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_largest_difference() {
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [1.0, 2.5, 3.0, 3.0];
        assert_eq!(max_abs_diff(&a, &b), (3, 1.0));
    }

    #[test]
    fn nan_and_inf_are_failures_equal_inf_is_not() {
        assert_eq!(max_abs_diff(&[f32::NAN], &[0.0]).1, f32::INFINITY);
        assert_eq!(max_abs_diff(&[f32::INFINITY], &[1e30]).1, f32::INFINITY);
        assert_eq!(
            max_abs_diff(&[f32::NEG_INFINITY], &[f32::NEG_INFINITY]).1,
            0.0
        );
    }

    #[test]
    fn passes_within_tolerance() {
        assert_close("ok", &[1.0, 2.0], &[1.0 + 1e-6, 2.0], 1e-5);
    }

    #[test]
    #[should_panic(expected = "at index 1")]
    fn fails_outside_tolerance() {
        assert_close("bad", &[1.0, 2.0], &[1.0, 2.1], 1e-3);
    }

    #[test]
    #[should_panic(expected = "length mismatch")]
    fn fails_on_length_mismatch() {
        assert_close("len", &[1.0], &[1.0, 2.0], 1.0);
    }
}
