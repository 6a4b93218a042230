//! # Stage 4a: the sampler — from logits to one token id
//!
//! The model hands us `logits: [vocab]`, one unnormalised score per token. The sampler turns
//! them into one id. It is a chain of small steps, always applied in this order (the order of
//! Hugging Face `transformers`' `generate`):
//!
//! ```text
//! raw logits ─▶ 0. mask ─▶ 0. bias ─▶ 1. penalties ─▶ 2. temperature ─▶ 3. top-k ─▶ 4. top-p ─▶ 5. min-p ─▶ 6. draw
//!             (optional)                                  (T = 0: argmax here, steps 3–6 skipped)
//! ```
//!
//! 0. **Mask** (constrained decoding, `src/constrain/`): ids outside an allowed set get `−∞`,
//!    before anything else looks at the logits, so no later step can bring them back (a bias
//!    added to `−∞` stays `−∞`).
//! 0. **Logit bias** (OpenAI's `logit_bias`): `l[id] ← l[id] + b` for each given `(id, b)`,
//!    `b ∈ [−100, 100]`; −100 bans a token in practice, +100 forces it.
//! 1. **Penalties** over the ids already seen (`history`, the prompt and the generated ids):
//!    * repetition penalty `r` (Hugging Face, Keskar et al. 2019, CTRL):
//!      `l ← l / r` if `l > 0`, else `l ← l · r`, once per distinct seen id;
//!    * frequency `α_f` and presence `α_p` penalties (OpenAI API):
//!      `l ← l − count · α_f − [count > 0] · α_p`.
//! 2. **Temperature** `T`: `l ← l / T`. `T = 0` means greedy: the argmax of the penalised logits.
//! 3. **Top-k**: keep the `k` largest logits (`k = 0`: off).
//! 4. **Top-p** (nucleus, Holtzman et al. 2019, Hugging Face semantics): sort the survivors by
//!    probability, keep the smallest prefix whose probability mass reaches `p`; always ≥ 1 token.
//! 5. **Min-p**: keep tokens with `p ≥ min_p · p_max` (computed on the survivors of step 4).
//! 6. **Draw** from the renormalised softmax of what is left, with a seeded PCG32 generator.
//!
//! Each probability in steps 4–6 is the softmax over the *current* survivors, exactly as
//! `transformers` computes it after masking removed tokens with `−∞`. The order matters: with
//! logits `[0.1, 0.2, 0.3, 0.4]`, top-k 2 then top-p 0.5 keeps only id 3, while top-p 0.5 then
//! top-k 2 keeps ids {2, 3} with probabilities [0.4750, 0.5250] (see `tests/sampler_props.rs`).
//!
//! The log-probability reported with each id is `log_softmax(raw logits)[id]`: the model's own
//! belief, before penalties, temperature and filtering (what OpenAI's `logprobs` shows).
//!
//! This file holds the settings, the candidate list and the chain itself ([`Sampler`]); each
//! step is a function in `filters.rs`, the generator in `rng.rs`. A new step (constrained
//! decoding's mask) is one more function there and one more line in the chain.
//!
//! Speed: the vocabulary is 49,152 tokens, so nothing sorts the whole vector. Top-k uses
//! partial selection (`select_nth_unstable_by`, O(V)) and top-p sorts a growing prefix.

mod filters;
mod rng;

pub use filters::{
    apply_logit_bias, apply_mask, apply_penalties, apply_temperature, argmax, draw, largest, min_p,
    top_k, top_p,
};
pub use rng::Pcg32;

use crate::{Error, Result};

/// Every knob of the sampler. `Default` is greedy with no penalties.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplerConfig {
    /// Divide logits by this; 0 = greedy (argmax).
    pub temperature: f32,
    /// Keep the k most likely tokens; 0 = off.
    pub top_k: usize,
    /// Nucleus mass in (0, 1]; 1 = off.
    pub top_p: f32,
    /// Keep tokens with p ≥ min_p · p_max, in [0, 1]; 0 = off.
    pub min_p: f32,
    /// Hugging Face repetition penalty, > 0; 1 = off.
    pub repeat_penalty: f32,
    /// OpenAI frequency penalty (per occurrence); 0 = off.
    pub frequency_penalty: f32,
    /// OpenAI presence penalty (once per seen id); 0 = off.
    pub presence_penalty: f32,
    /// `(id, b)`: add `b` to the logit of `id` before anything else; empty = off.
    pub logit_bias: Vec<(u32, f32)>,
    /// Seed of the random generator; the same seed gives the same ids.
    pub seed: u64,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            repeat_penalty: 1.0,
            frequency_penalty: 0.0,
            presence_penalty: 0.0,
            logit_bias: Vec::new(),
            seed: 0,
        }
    }
}

impl SamplerConfig {
    /// Reject values that have no meaning (a negative temperature, top-p outside (0, 1], …).
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::invalid(what.to_string()));
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return bad(&format!(
                "temperature must be ≥ 0, got {}",
                self.temperature
            ));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return bad(&format!("top-p must be in (0, 1], got {}", self.top_p));
        }
        if !(0.0..=1.0).contains(&self.min_p) {
            return bad(&format!("min-p must be in [0, 1], got {}", self.min_p));
        }
        if !(self.repeat_penalty > 0.0 && self.repeat_penalty.is_finite()) {
            return bad(&format!(
                "repeat penalty must be > 0, got {}",
                self.repeat_penalty
            ));
        }
        if !self.frequency_penalty.is_finite() || !self.presence_penalty.is_finite() {
            return bad("frequency and presence penalties must be finite numbers");
        }
        if self.logit_bias.iter().any(|(_, b)| !b.is_finite()) {
            return bad("logit biases must be finite numbers");
        }
        Ok(())
    }
}

/// One surviving token: its id and its (penalised, temperature-scaled) logit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    pub id: u32,
    pub logit: f32,
}

/// Every token as a candidate, in id order: the list the filter steps shrink.
pub fn candidates(logits: &[f32]) -> Vec<Candidate> {
    logits
        .iter()
        .enumerate()
        .map(|(i, &l)| Candidate {
            id: i as u32,
            logit: l,
        })
        .collect()
}

/// The sampler's choice.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampled {
    pub id: u32,
    /// `log_softmax(raw logits)[id]`, natural log.
    pub logprob: f32,
}

/// A configured sampler with its own random generator.
pub struct Sampler {
    cfg: SamplerConfig,
    rng: Pcg32,
}

/// Descending by logit; NaN sorts last; ties broken by the smaller id (deterministic).
/// `log_softmax(logits)[id]`, computed in f64 for a stable log-sum-exp.
pub fn log_softmax_at(logits: &[f32], id: u32) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let lse: f64 = logits
        .iter()
        .map(|&l| ((l - max) as f64).exp())
        .sum::<f64>()
        .ln();
    ((logits[id as usize] - max) as f64 - lse) as f32
}

// ANCHOR: top_logprobs
/// The `k` most likely tokens under `log_softmax(logits)`: `(id, log p)`, most likely first
/// (ties: the smaller id first). What OpenAI's `top_logprobs` reports at each step.
/// [`largest`] finds them by partial selection: O(V), then O(k log k) to sort them.
pub fn top_logprobs(logits: &[f32], k: usize) -> Vec<(u32, f32)> {
    if k == 0 || logits.is_empty() {
        return Vec::new();
    }
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let lse = logits
        .iter()
        .map(|&l| ((l - max) as f64).exp())
        .sum::<f64>()
        .ln();
    largest(logits, k)
        .iter()
        .map(|c| (c.id, ((c.logit - max) as f64 - lse) as f32))
        .collect()
}

/// [`top_logprobs`] the slow way: every log-probability, a full sort. The reference in tests.
pub fn top_logprobs_naive(logits: &[f32], k: usize) -> Vec<(u32, f32)> {
    let mut all: Vec<(u32, f32)> = (0..logits.len() as u32)
        .map(|i| (i, log_softmax_at(logits, i)))
        .collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    all.truncate(k);
    all
}
// ANCHOR_END: top_logprobs

impl Sampler {
    /// A sampler; fails on a meaningless config (see [`SamplerConfig::validate`]).
    pub fn new(cfg: SamplerConfig) -> Result<Sampler> {
        cfg.validate()?;
        let rng = Pcg32::new(cfg.seed);
        Ok(Sampler { cfg, rng })
    }

    pub fn config(&self) -> &SamplerConfig {
        &self.cfg
    }

    // ANCHOR: chain
    /// Steps 1–5: the candidates that may still be drawn, most likely first when a filter
    /// sorted them. `logits` is modified in place (penalties, temperature).
    pub fn candidates(&self, logits: &mut [f32], history: &[u32]) -> Vec<Candidate> {
        let c = &self.cfg;
        apply_logit_bias(logits, &c.logit_bias);
        apply_penalties(
            logits,
            history,
            c.repeat_penalty,
            c.frequency_penalty,
            c.presence_penalty,
        );
        if c.temperature == 0.0 {
            let id = argmax(logits);
            return vec![Candidate {
                id,
                logit: logits[id as usize],
            }];
        }
        apply_temperature(logits, c.temperature);
        let mut cands = candidates(logits);
        top_k(&mut cands, c.top_k);
        top_p(&mut cands, c.top_p);
        min_p(&mut cands, c.min_p);
        cands
    }

    /// The whole chain: one id and its log-probability under the raw logits.
    pub fn sample_with_logprob(&mut self, logits: &mut [f32], history: &[u32]) -> Sampled {
        self.sample_masked(logits, history, None)
    }

    /// The whole chain after step 0: only ids in `allowed` (a bitset, see [`apply_mask`]) can
    /// be drawn. The log-probability is still the model's own, before the mask.
    pub fn sample_masked(
        &mut self,
        logits: &mut [f32],
        history: &[u32],
        allowed: Option<&[u64]>,
    ) -> Sampled {
        assert!(!logits.is_empty(), "sampler: empty logits");
        let raw_logprob = |logits: &[f32], id| log_softmax_at(logits, id);
        let raw: Vec<f32> = logits.to_vec(); // the model's own distribution, for the log-prob
        if let Some(allowed) = allowed {
            apply_mask(logits, allowed);
        }
        let cands = self.candidates(logits, history);
        let id = if cands.len() == 1 {
            cands[0].id
        } else {
            draw(&cands, self.rng.next_f64())
        };
        Sampled {
            id,
            logprob: raw_logprob(&raw, id),
        }
    }
    // ANCHOR_END: chain

    /// The whole chain; returns only the id.
    pub fn sample(&mut self, logits: &mut [f32], history: &[u32]) -> u32 {
        self.sample_with_logprob(logits, history).id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largest_is_sorted_and_breaks_ties_by_id() {
        let l = [0.5, 2.0, -1.0, 2.0, 1.0];
        let ids = |c: Vec<Candidate>| c.iter().map(|c| (c.id, c.logit)).collect::<Vec<_>>();
        assert_eq!(ids(largest(&l, 3)), vec![(1, 2.0), (3, 2.0), (4, 1.0)]);
        assert_eq!(largest(&l, 10).len(), 5);
        assert!(largest(&l, 0).is_empty());
    }
}
