//! Stage 8 · next-token cross-entropy over the vocabulary, and its gradient.
//!
//! The model's logits at position `t` are a guess at token `t + 1`. The loss is the average, over
//! every position of every sequence, of minus the log-probability given to the true next token:
//!
//! ```text
//! loss = (1/N) Σ_t −log softmax(z_t)[y_t] = (1/N) Σ_t (logsumexp(z_t) − z_t[y_t])
//! perplexity = e^loss     (a uniform guess over V tokens has loss ln V, perplexity V)
//! ∂loss/∂z_t[c] = (softmax(z_t)[c] − [c = y_t]) / N
//! ```
//!
//! `logsumexp(z) = m + ln Σ_c e^(z_c − m)` with `m = max z` (no overflow, as in `softmax.rs`).
//! By hand, V = 2, z = [0, 0], y = 0: loss = ln 2 = 0.6931, gradient = [−½, ½] / N.

use rayon::prelude::*;

// ANCHOR: cross_entropy
/// Cross-entropy of `logits: [n, vocab]` against `targets: [n]`. Returns the sum of the `n`
/// per-position losses (f64) and, in place of the logits, `grad_scale · (softmax − onehot)`:
/// the gradient of `grad_scale · Σ loss` (the caller passes `1/N` for the mean over N tokens).
pub fn cross_entropy(logits: &mut [f32], targets: &[u32], vocab: usize, grad_scale: f32) -> f64 {
    assert_eq!(
        logits.len(),
        targets.len() * vocab,
        "cross_entropy: logits are not [n, vocab]"
    );
    logits
        .par_chunks_mut(vocab)
        .zip(targets.par_iter())
        .map(|(z, &y)| {
            let y = y as usize;
            assert!(
                y < vocab,
                "cross_entropy: target {y} outside the vocabulary {vocab}"
            );
            let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let loss_y = (m - z[y]) as f64; // − log softmax(z)[y] = ln Σ e^(z − m) + m − z[y]
                                            // one exp per logit, kept in place: e^(z − m) ∈ (0, 1], summed in f64
            let mut sum = 0.0f64;
            for v in z.iter_mut() {
                *v = (*v - m).exp();
                sum += *v as f64;
            }
            let scale = (grad_scale as f64 / sum) as f32;
            z.iter_mut().for_each(|v| *v *= scale); // grad_scale · softmax
            z[y] -= grad_scale; // − onehot
            sum.ln() + loss_y
        })
        .collect::<Vec<f64>>() // summed in position order: the same total on every run
        .iter()
        .sum()
}
// ANCHOR_END: cross_entropy

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hand_uniform() {
        let mut z = [0.0, 0.0];
        let loss = cross_entropy(&mut z, &[0], 2, 1.0);
        assert!((loss - 2f64.ln()).abs() < 1e-12);
        assert_eq!(z, [-0.5, 0.5]);
    }
}
