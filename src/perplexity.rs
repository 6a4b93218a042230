//! # Perplexity, and how far a quantized model's predictions move from its base
//!
//! How good is a model at predicting text it has not seen? Feed it the text and ask, at each
//! position, what probability it gave the token that really came next:
//!
//! ```text
//! NLL  = −(1/N) Σᵢ ln p(tᵢ₊₁ | t₀ … tᵢ)           (mean negative log-likelihood, nats)
//! PPL  = exp(NLL)                                 ("as unsure as a fair choice among PPL tokens")
//! ±    = PPL · sd(nllᵢ) / √(N − 1)                (the standard error, through exp's slope)
//! ```
//!
//! As `llama-perplexity` does, the tokens are cut into **non-overlapping windows** of `ctx`
//! tokens, each run from an empty KV-cache, and only the second half of each window is scored
//! (positions `ctx/2 … ctx−2` predict tokens `ctx/2+1 … ctx−1`): every scored token then has at
//! least `ctx/2` tokens of context, so the number measures the model, not a cold start.
//!
//! Against a **base model** (the f32 weights a quantized file came from), perplexity alone hides
//! a lot: two models can have the same perplexity and disagree on many tokens. So, on the same
//! positions:
//!
//! ```text
//! KL(base ‖ model) = Σᵥ p_base(v) · (ln p_base(v) − ln p_model(v))    ≥ 0, 0 iff identical
//! top-1 agreement  = share of positions where both models' most likely token is the same
//! ```
//!
//! reported as the mean KL (± its standard error), the largest KL of any one token, and the
//! agreement.
//!
//! Reference: llama.cpp `tools/perplexity/perplexity.cpp` (`perplexity`, `kl_divergence`).

use crate::model::session::Session;
use crate::model::Llama;
use crate::rmsnorm::rmsnorm_rows;
use crate::{Error, Result};

/// The scored positions of a window of `ctx` tokens: `ctx/2 ..= ctx − 2`.
pub fn scored_positions(ctx: usize) -> std::ops::Range<usize> {
    ctx / 2..ctx.saturating_sub(1)
}

// ANCHOR: log_softmax
/// `ln softmax(logits)` in f64: `lᵢ − max − ln Σⱼ exp(lⱼ − max)` (shifting by the max keeps
/// every exp ≤ 1, so nothing overflows).
pub fn log_softmax(logits: &[f32], out: &mut [f64]) {
    let max = logits.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
    let sum: f64 = logits.iter().map(|&l| (l as f64 - max).exp()).sum();
    let log_z = max + sum.ln();
    for (o, &l) in out.iter_mut().zip(logits) {
        *o = l as f64 - log_z;
    }
}

/// KL(p ‖ q) = Σ p·(ln p − ln q) from log-probabilities.
pub fn kl_divergence(log_p: &[f64], log_q: &[f64]) -> f64 {
    log_p
        .iter()
        .zip(log_q)
        .map(|(&lp, &lq)| lp.exp() * (lp - lq))
        .sum()
}
// ANCHOR_END: log_softmax

/// The index of the largest value (the first on ties).
fn argmax(v: &[f64]) -> usize {
    v.iter()
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |(bi, bv), (i, &x)| {
            if x > bv {
                (i, x)
            } else {
                (bi, bv)
            }
        })
        .0
}

/// Running sums for one model over every scored token.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Scored tokens.
    pub n: usize,
    sum_nll: f64,
    sum_nll2: f64,
    /// Tokens compared with a base model, Σ KL, Σ KL², the largest KL, top-1 agreements.
    pub n_kl: usize,
    sum_kl: f64,
    sum_kl2: f64,
    pub max_kl: f64,
    pub same_top: usize,
}

/// mean and standard error of the mean from Σx, Σx², n.
fn mean_err(sum: f64, sum2: f64, n: usize) -> (f64, f64) {
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = sum / n as f64;
    let var = (sum2 / n as f64 - mean * mean).max(0.0);
    let err = if n > 1 {
        (var / (n - 1) as f64).sqrt()
    } else {
        f64::NAN
    };
    (mean, err)
}

impl Tally {
    /// Add one position: the model's log-probabilities, the token that came next, and the
    /// base model's log-probabilities at the same position (when comparing).
    pub fn add(&mut self, log_p: &[f64], next: u32, base: Option<&[f64]>) {
        let nll = -log_p[next as usize];
        self.n += 1;
        self.sum_nll += nll;
        self.sum_nll2 += nll * nll;
        if let Some(b) = base {
            let kl = kl_divergence(b, log_p);
            self.n_kl += 1;
            self.sum_kl += kl;
            self.sum_kl2 += kl * kl;
            self.max_kl = self.max_kl.max(kl);
            self.same_top += (argmax(b) == argmax(log_p)) as usize;
        }
    }

    /// Mean negative log-likelihood (nats per token) and its standard error.
    pub fn nll(&self) -> (f64, f64) {
        mean_err(self.sum_nll, self.sum_nll2, self.n)
    }

    /// Perplexity and its ± (the standard error of the NLL through exp: d PPL = PPL · d NLL).
    pub fn perplexity(&self) -> (f64, f64) {
        let (nll, err) = self.nll();
        (nll.exp(), nll.exp() * err)
    }

    /// Mean KL divergence from the base and its standard error.
    pub fn mean_kl(&self) -> (f64, f64) {
        mean_err(self.sum_kl, self.sum_kl2, self.n_kl)
    }

    /// Share of positions where the model's top token is the base's.
    pub fn top1_agreement(&self) -> f64 {
        self.same_top as f64 / self.n_kl.max(1) as f64
    }
}

/// Positions run through the head at once (a `[batch, vocab]` logits buffer: 64 × 49152 f32 =
/// 12.6 MB for SmolLM2).
const HEAD_BATCH: usize = 64;

// ANCHOR: window
/// Run one window `ids` from an empty cache and call `each(i, logits)` with the logits at every
/// position `i` in `from..ids.len()` (`logits: [vocab]`, predicting `ids[i + 1]`).
///
/// The blocks run chunk by chunk as in `Llama::forward`; after each chunk the final norm and
/// the output head are applied to the rows at scored positions, `HEAD_BATCH` rows at a time
/// (one GEMM instead of a GEMV per position).
pub fn window_logits(
    m: &Llama,
    s: &mut Session,
    ids: &[u32],
    from: usize,
    mut each: impl FnMut(usize, &[f32]),
) -> Result<()> {
    let c = &m.config;
    let (d, vocab) = (c.hidden_size, c.vocab_size);
    if ids.len() > s.max_seq() {
        return Err(Error::invalid(format!(
            "a window of {} tokens does not fit a session of {}",
            ids.len(),
            s.max_seq()
        )));
    }
    if let Some((i, id)) = ids.iter().enumerate().find(|(_, &id)| id as usize >= vocab) {
        return Err(Error::invalid(format!(
            "token id {id} at index {i} is outside the vocabulary (size {vocab})"
        )));
    }
    s.reset();
    let mut normed = vec![0.0f32; HEAD_BATCH * d]; //   normed: [batch, d]
    let mut logits = vec![0.0f32; HEAD_BATCH * vocab]; // logits: [batch, vocab]
    let mut pos = 0;
    for chunk in ids.chunks(s.chunk_rows()) {
        m.run_chunk(s, chunk); // s.x[..chunk.len()·d]: the last block's output, [chunk, d]
        let lo = from.max(pos).min(pos + chunk.len()); // first scored position in this chunk
        for b0 in (lo..pos + chunk.len()).step_by(HEAD_BATCH) {
            let b1 = (b0 + HEAD_BATCH).min(pos + chunk.len());
            let n = b1 - b0;
            let rows = &s.x[(b0 - pos) * d..(b1 - pos) * d];
            rmsnorm_rows(
                rows,
                &m.weights.norm.weight,
                c.rms_norm_eps,
                &mut normed[..n * d],
            );
            m.head()
                .matmul(&normed[..n * d], n, &mut logits[..n * vocab]);
            for (k, row) in logits[..n * vocab].chunks_exact(vocab).enumerate() {
                each(b0 + k, row);
            }
        }
        pos += chunk.len();
    }
    Ok(())
}
// ANCHOR_END: window

/// Score a token sequence: perplexity of every model (and, with `base`, their KL to it) over
/// `n_windows` windows of `ctx` tokens. The base's log-probabilities are computed once per
/// window and shared by all models. `progress(window)` is called after each window.
pub fn evaluate(
    models: &[&Llama],
    base: Option<&Llama>,
    tokens: &[u32],
    ctx: usize,
    n_windows: usize,
    mut progress: impl FnMut(usize, &[Tally]),
) -> Result<Vec<Tally>> {
    if ctx < 4 {
        return Err(Error::invalid(format!(
            "--ctx {ctx}: a window needs at least 4 tokens (half of it is context)"
        )));
    }
    if n_windows == 0 || tokens.len() < ctx * n_windows {
        return Err(Error::invalid(format!(
            "{} tokens make {} windows of {ctx}; need at least one (use a longer text or a smaller --ctx)",
            tokens.len(),
            tokens.len() / ctx
        )));
    }
    let all: Vec<&Llama> = models.iter().copied().chain(base).collect();
    let vocab = all[0].config.vocab_size;
    if let Some(other) = all.iter().find(|m| m.config.vocab_size != vocab) {
        return Err(Error::invalid(format!(
            "{} has a vocabulary of {} tokens, {} has {vocab}: KL needs the same vocabulary",
            other.path.display(),
            other.config.vocab_size,
            all[0].path.display()
        )));
    }
    let mut sessions = all
        .iter()
        .map(|m| Session::new(&m.config, ctx))
        .collect::<Result<Vec<_>>>()?;
    let scored = scored_positions(ctx);
    let mut tallies = vec![Tally::default(); models.len()];
    let mut base_lp: Vec<Vec<f64>> = Vec::new(); // [scored positions][vocab]
    let mut lp = vec![0.0f64; vocab];
    for w in 0..n_windows {
        let ids = &tokens[w * ctx..(w + 1) * ctx];
        if let Some(b) = base {
            base_lp.clear();
            let s = sessions.last_mut().expect("the base has a session");
            window_logits(b, s, &ids[..ctx - 1], scored.start, |_, logits| {
                let mut row = vec![0.0f64; vocab];
                log_softmax(logits, &mut row);
                base_lp.push(row);
            })?;
        }
        for (k, (m, s)) in models.iter().zip(sessions.iter_mut()).enumerate() {
            let t = &mut tallies[k];
            window_logits(m, s, &ids[..ctx - 1], scored.start, |i, logits| {
                log_softmax(logits, &mut lp);
                let b = base.map(|_| base_lp[i - scored.start].as_slice());
                t.add(&lp, ids[i + 1], b);
            })?;
        }
        progress(w, &tallies);
    }
    Ok(tallies)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// By hand: logits [0, ln 3] → p = [1/4, 3/4]; KL([1/4, 3/4] ‖ [1/2, 1/2])
    /// = 1/4·ln(1/2) + 3/4·ln(3/2) = 0.130812…
    #[test]
    fn log_softmax_and_kl_by_hand() {
        let mut p = [0.0; 2];
        log_softmax(&[0.0, 3f32.ln()], &mut p);
        assert!((p[0].exp() - 0.25).abs() < 1e-7 && (p[1].exp() - 0.75).abs() < 1e-7);
        let mut q = [0.0; 2];
        log_softmax(&[5.0, 5.0], &mut q);
        let kl = kl_divergence(&p, &q);
        assert!((kl - 0.130_812_035_941).abs() < 1e-7, "{kl}");
        assert_eq!(kl_divergence(&p, &p), 0.0);
    }

    /// Two tokens with p = 1/2 and 1/8: NLL = (ln 2 + ln 8)/2 = 2 ln 2 → PPL = 4.
    #[test]
    fn perplexity_by_hand() {
        let mut t = Tally::default();
        t.add(&[0.5f64.ln(), 0.5f64.ln()], 0, None);
        t.add(&[0.875f64.ln(), 0.125f64.ln()], 1, None);
        let (ppl, err) = t.perplexity();
        assert!((ppl - 4.0).abs() < 1e-12, "{ppl}");
        // nll = [ln 2, ln 8]: sd over n = ln 2, standard error = ln 2 / √1 → ± = 4 ln 2
        assert!((err - 4.0 * 2f64.ln()).abs() < 1e-12, "{err}");
    }

    #[test]
    fn scored_half() {
        assert_eq!(scored_positions(512), 256..511);
        assert_eq!(scored_positions(4), 2..3);
    }
}
