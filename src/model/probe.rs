//! Looking inside the real model: the logit lens and the attention maps of one prompt.
//!
//! **The logit lens** (nostalgebraist, 2020) reads the residual stream of the last position
//! after every layer as if it were the last one: the final RMSNorm and the output head turn it
//! into next-token logits.
//!
//! ```text
//! x_l: [d]  (the last position after layer l; l = -1 is the embedding)
//! logits_l = RMSNorm(x_l; norm) · W_headᵀ      logits_l: [vocab]
//! p_l = softmax(logits_l)                      the model's guess, had it stopped after layer l
//! ```
//!
//! After the last layer this *is* the model's output: the same norm and head on the same
//! vector, so `logits_{L-1}` equals [`Llama::forward`]'s logits exactly. Earlier rows show
//! what the model "thought" on the way there.
//!
//! **Attention maps**: the softmax probabilities of every query head of one layer,
//! `[n_heads, T, T]` for a prompt of `T` tokens, masked entries 0, each row summing to 1.
//!
//! Both read what one forward pass leaves behind through the session's two hooks
//! ([`Session::set_capture`](crate::model::Session::set_capture) for the residuals,
//! [`Session::set_attention_probe`](crate::model::Session::set_attention_probe) for one
//! layer's weights); the forward pass itself is the one that generates text.

use crate::model::Llama;
use crate::rmsnorm::rmsnorm;
use crate::sampler::largest;
use crate::{Error, Result};

/// A token the lens follows: its rank among all tokens (1 = the model's top choice) and its
/// probability, after one layer.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetAt {
    pub id: u32,
    pub rank: usize,
    pub prob: f32,
}

/// What the lens reads after one layer (or after the embedding).
#[derive(Clone, Debug)]
pub struct LensRow {
    /// `None` for the embedding, `Some(l)` after layer `l`.
    pub layer: Option<usize>,
    /// The `top` most likely next tokens, best first: `(id, probability)`.
    pub top: Vec<(u32, f32)>,
    /// The followed tokens, in the order asked for.
    pub targets: Vec<TargetAt>,
    /// All logits `[vocab]`.
    pub logits: Vec<f32>,
}

/// Run `ids` once and read the last position through the final norm and head after the
/// embedding and after every layer: `n_layers + 1` rows.
pub fn logit_lens(model: &Llama, ids: &[u32], top: usize, targets: &[u32]) -> Result<Vec<LensRow>> {
    let c = &model.config;
    if let Some(&bad) = targets.iter().find(|&&t| t as usize >= c.vocab_size) {
        return Err(Error::invalid(format!(
            "lens target id {bad} is outside the vocabulary (size {})",
            c.vocab_size
        )));
    }
    let mut s = model.new_session(ids.len().max(1))?;
    s.set_capture(c.num_hidden_layers, true);
    model.forward(&mut s, ids)?;
    let captured = s.captured().expect("capture is on");
    let mut normed = vec![0.0f32; c.hidden_size];
    // rows 0 ..= n_layers of the capture: after the embedding, after each layer
    let rows = captured[..=c.num_hidden_layers].iter().enumerate();
    let lens = rows.map(|(i, x)| {
        rmsnorm(x, &model.weights.norm.weight, c.rms_norm_eps, &mut normed);
        let mut logits = vec![0.0f32; c.vocab_size];
        model.head().matvec(&normed, &mut logits); // logits: [vocab]
        let (max, z) = softmax_norm(&logits);
        let prob = |l: f32| (((l - max) as f64).exp() / z) as f32;
        LensRow {
            layer: i.checked_sub(1),
            top: largest(&logits, top)
                .iter()
                .map(|c| (c.id, prob(c.logit)))
                .collect(),
            targets: targets
                .iter()
                .map(|&id| TargetAt {
                    id,
                    rank: rank_of(&logits, id),
                    prob: prob(logits[id as usize]),
                })
                .collect(),
            logits,
        }
    });
    Ok(lens.collect())
}

/// 1 + the number of tokens with a strictly larger logit (ties share the better rank).
pub fn rank_of(logits: &[f32], id: u32) -> usize {
    let l = logits[id as usize];
    1 + logits.iter().filter(|&&x| x > l).count()
}

/// `(max, Σ exp(l − max))` in f64: `p_i = exp(l_i − max) / Σ`.
fn softmax_norm(logits: &[f32]) -> (f32, f64) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let z = logits.iter().map(|&l| ((l - max) as f64).exp()).sum();
    (max, z)
}

/// The attention probabilities of every query head of `layer` for the prompt `ids`:
/// `[n_heads, T, T]`, row `t` of head `h` = how query position `t` weighs keys `0 ..= t`
/// (0 above the diagonal).
pub fn attention_map(model: &Llama, ids: &[u32], layer: usize) -> Result<Vec<f32>> {
    let c = &model.config;
    if layer >= c.num_hidden_layers {
        return Err(Error::invalid(format!(
            "layer {layer} does not exist: this model has layers 0 to {}",
            c.num_hidden_layers - 1
        )));
    }
    let t = ids.len().max(1);
    // one chunk for the whole prompt, so the probe sees every query row
    let mut s = crate::model::Session::with_chunk(c, t, t)?;
    s.set_attention_probe(Some(layer));
    model.forward(&mut s, ids)?;
    let w = s.attention_probe().expect("the probe is on");
    debug_assert_eq!(w.len(), c.num_attention_heads * t * t);
    Ok(w.to_vec())
}
