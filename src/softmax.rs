//! Stage 2 · softmax: turn a row of scores into probabilities.
//!
//! ```text
//! softmax(x)_i = exp(x_i - m) / Σ_j exp(x_j - m),   m = max_j x_j
//! ```
//!
//! Subtracting the maximum changes nothing mathematically (the factor `exp(-m)` cancels) but
//! keeps every exponent `<= 0`, so `exp` never overflows for large logits (`exp(100.0)` is
//! `inf` in f32; `exp(100.0 - 100.0)` is 1) and the largest term is exactly 1, so the sum is
//! at least 1 and never underflows to 0.
//!
//! ## Masked entries and the edge cases, decided once
//!
//! * `-inf` entries (the causal mask is additive `-inf` above the diagonal) get probability 0.
//! * **A row where every entry is `-inf`** has no mathematically defined softmax (0/0). We return
//!   **all zeros**: "attends to nothing, contributes nothing". PyTorch's `softmax` would return
//!   NaN here; we never produce a NaN from a fully masked row. (Causal attention never builds such
//!   a row — position `i` always sees itself — so this only matters for callers with odd masks.)
//! * `+inf` entries share the whole probability mass equally; finite entries get 0.
//! * A NaN anywhere in the input makes the whole row NaN: garbage in is reported, not hidden.
//! * An empty row stays empty.
//!
//! Reference: the definition above; PyTorch `torch.softmax` for finite inputs.

use wide::f32x16;

// ANCHOR: softmax_naive
/// The reference: the formula, with f64 accumulation, returning a new vector.
pub fn softmax_naive(x: &[f32]) -> Vec<f32> {
    if x.iter().any(|v| v.is_nan()) {
        return vec![f32::NAN; x.len()];
    }
    let m = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if m == f32::NEG_INFINITY {
        return vec![0.0; x.len()]; // fully masked row: all zeros (see the module docs)
    }
    if m == f32::INFINITY {
        let n_inf = x.iter().filter(|&&v| v == f32::INFINITY).count() as f32;
        return x
            .iter()
            .map(|&v| if v == f32::INFINITY { 1.0 / n_inf } else { 0.0 })
            .collect();
    }
    let e: Vec<f64> = x.iter().map(|&v| ((v - m) as f64).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|&v| (v / sum) as f32).collect()
}
// ANCHOR_END: softmax_naive

// ANCHOR: softmax_inplace
/// Softmax of one row, in place, in f32: max, then `exp(x - max)` and its sum, then scale.
/// Steps 1 and 2 run 16 lanes at a time, with `wide`'s vector `exp` (a few ulp of libm's)
/// instead of one libm call per score: the attention of a prefill exponentiates
/// `seq² / 2` scores per head and layer.
pub fn softmax_inplace(x: &mut [f32]) {
    let (x16, tail) = x.as_chunks_mut::<16>();
    // the last len mod 16 entries, padded with -inf: ignored by the max, exp(-inf) = 0
    let mut t16 = [f32::NEG_INFINITY; 16];
    t16[..tail.len()].copy_from_slice(tail);
    // 1. the maximum. Like f32::max, wide's max skips NaN, so a NaN entry reaches step 2 and
    //    makes the sum NaN; rows whose max is ±inf (all masked, +inf entries, all NaN, empty)
    //    take the slow path.
    let lanes = x16
        .iter()
        .fold(f32x16::new(t16), |m, c| m.max(f32x16::new(*c)));
    let m = lanes
        .to_array()
        .into_iter()
        .fold(f32::NEG_INFINITY, f32::max);
    if !m.is_finite() {
        return softmax_special(x, m);
    }
    // 2. exponentiate the shifted values and sum them (16 running sums); every exponent is <= 0
    let mv = f32x16::splat(m);
    let mut sum16 = f32x16::ZERO;
    for c in x16.iter_mut() {
        let e = (f32x16::new(*c) - mv).exp();
        sum16 += e;
        *c = e.to_array();
    }
    let e = (f32x16::new(t16) - mv).exp();
    sum16 += e;
    tail.copy_from_slice(&e.to_array()[..tail.len()]);
    // 3. normalise; sum >= 1 because the max entry contributes exp(0) = 1 (NaN input → NaN sum)
    let inv = 1.0 / sum16.reduce_add();
    for v in x.iter_mut() {
        *v *= inv;
    }
}
// ANCHOR_END: softmax_inplace

/// The rare rows: empty, all `-inf`, some `+inf`. Kept out of the hot path above.
fn softmax_special(x: &mut [f32], m: f32) {
    if x.iter().any(|v| v.is_nan()) {
        x.fill(f32::NAN);
    } else if m == f32::INFINITY {
        let n_inf = x.iter().filter(|&&v| v == f32::INFINITY).count() as f32;
        for v in x.iter_mut() {
            *v = if *v == f32::INFINITY {
                1.0 / n_inf
            } else {
                0.0
            };
        }
    } else {
        x.fill(0.0); // all -inf (or empty): attends to nothing
    }
}

/// Softmax of every row of `x: [rows, cols]`, in place.
pub fn softmax_rows(x: &mut [f32], cols: usize) {
    assert!(
        cols > 0 && x.len().is_multiple_of(cols),
        "softmax_rows: len {} is not rows × {cols}",
        x.len()
    );
    for row in x.chunks_exact_mut(cols) {
        softmax_inplace(row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hand() {
        // [0, ln 3] → [1/4, 3/4]
        let mut x = [0.0f32, 3.0f32.ln()];
        softmax_inplace(&mut x);
        assert!(
            (x[0] - 0.25).abs() < 1e-7 && (x[1] - 0.75).abs() < 1e-7,
            "{x:?}"
        );
    }

    #[test]
    fn large_logits_and_masks() {
        let mut x = [1000.0f32, 1000.0, f32::NEG_INFINITY];
        softmax_inplace(&mut x);
        assert_eq!(x, [0.5, 0.5, 0.0]);
        let mut all_masked = [f32::NEG_INFINITY; 3];
        softmax_inplace(&mut all_masked);
        assert_eq!(all_masked, [0.0; 3]);
        assert_eq!(softmax_naive(&[f32::NEG_INFINITY; 2]), vec![0.0; 2]);
        let mut inf = [f32::INFINITY, 0.0, f32::INFINITY];
        softmax_inplace(&mut inf);
        assert_eq!(inf, [0.5, 0.0, 0.5]);
        let mut nan = [0.0, f32::NAN];
        softmax_inplace(&mut nan);
        assert!(nan.iter().all(|v| v.is_nan()));
    }
}
