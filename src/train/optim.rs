//! Stage 8 · the optimizer: gradient clipping, the learning-rate schedule, AdamW.
//!
//! **Clipping** (`torch.nn.utils.clip_grad_norm_`): if the global norm `‖g‖ = sqrt(Σ g²)` over
//! every parameter exceeds `max_norm`, scale every gradient by `max_norm / (‖g‖ + 1e-6)`.
//! One bad batch then moves the weights no further than a normal one.
//!
//! **Schedule**: linear warmup from `lr/warmup` to `lr` over the first `warmup` steps (Adam's
//! moment estimates are noisy at first), then a cosine from `lr` down to `min_lr` at the last step:
//!
//! ```text
//! step s (0-based) < warmup:  lr · (s + 1) / warmup
//! otherwise:                  min_lr + ½ (1 + cos(π · (s − warmup) / (steps − warmup))) · (lr − min_lr)
//! ```
//!
//! **AdamW** (Loshchilov & Hutter 2019; exactly `torch.optim.AdamW`), at step `t = s + 1`:
//!
//! ```text
//! θ ← θ · (1 − lr · λ)                          decoupled weight decay (matrices only, not norms)
//! m ← β₁ m + (1 − β₁) g                          v ← β₂ v + (1 − β₂) g²
//! θ ← θ − (lr / (1 − β₁ᵗ)) · m / (sqrt(v) / sqrt(1 − β₂ᵗ) + ε)
//! ```

use rayon::prelude::*;

use crate::train::params::{Params, CHUNK};

/// AdamW's constants (PyTorch's defaults for β and ε; GPT-style weight decay 0.1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            weight_decay: 0.1,
        }
    }
}

// ANCHOR: schedule
/// Learning rate at step `s` (0-based) of `steps`: warmup, then cosine down to `min_lr`.
pub fn lr_at(s: usize, steps: usize, warmup: usize, lr: f64, min_lr: f64) -> f64 {
    if s < warmup {
        return lr * (s + 1) as f64 / warmup as f64;
    }
    let span = steps.saturating_sub(warmup).max(1) as f64;
    let progress = ((s - warmup) as f64 / span).min(1.0);
    min_lr + 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()) * (lr - min_lr)
}
// ANCHOR_END: schedule

/// Scale `g` so its global norm is at most `max_norm`; returns the norm before clipping.
pub fn clip_grad_norm(g: &mut Params, max_norm: f64) -> f64 {
    let norm = g.global_norm();
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        // every tensor's chunks in one parallel pass
        let mut chunks: Vec<&mut [f32]> = g
            .tensors_mut()
            .into_iter()
            .flat_map(|t| t.chunks_mut(CHUNK))
            .collect();
        chunks
            .par_iter_mut()
            .for_each(|c| c.iter_mut().for_each(|v| *v = (*v as f64 * coef) as f32));
    }
    norm
}

/// AdamW's state: the two moments and the number of steps taken.
#[derive(Clone, Debug, PartialEq)]
pub struct AdamW {
    pub cfg: AdamConfig,
    pub m: Params,
    pub v: Params,
    pub t: u64,
}

// ANCHOR: adamw
impl AdamW {
    /// Zero moments for parameters shaped as `p`.
    pub fn new(cfg: AdamConfig, p: &Params) -> AdamW {
        let zero = |t: &Vec<f32>| vec![0.0f32; t.len()];
        let mut m = p.clone();
        for (dst, src) in m.tensors_mut().into_iter().zip(p.tensors()) {
            *dst = zero(src);
        }
        AdamW {
            cfg,
            v: m.clone(),
            m,
            t: 0,
        }
    }

    /// One update of every parameter with gradient `g` and learning rate `lr`. Norm weights
    /// (vectors) get no weight decay: shrinking them toward 0 would fight the normalisation.
    pub fn step(&mut self, p: &mut Params, g: &Params, lr: f32) {
        self.t += 1;
        let AdamConfig {
            beta1: b1,
            beta2: b2,
            eps,
            weight_decay,
        } = self.cfg;
        // the bias corrections in f64, as PyTorch computes them (Python floats)
        let bc1 = 1.0 - (b1 as f64).powi(self.t as i32);
        let bc2_sqrt = (1.0 - (b2 as f64).powi(self.t as i32)).sqrt() as f32;
        let step_size = (lr as f64 / bc1) as f32;
        let matrices = p.is_matrix();
        let tensors = p.tensors_mut().into_iter().zip(g.tensors());
        let moments = self.m.tensors_mut().into_iter().zip(self.v.tensors_mut());
        for (((w, gr), (m, v)), is_matrix) in tensors.zip(moments).zip(matrices) {
            let decay = if is_matrix { weight_decay } else { 0.0 };
            w.par_chunks_mut(4096)
                .zip(gr.par_chunks(4096))
                .zip(m.par_chunks_mut(4096).zip(v.par_chunks_mut(4096)))
                .for_each(|((w, gr), (m, v))| {
                    for i in 0..w.len() {
                        w[i] *= 1.0 - lr * decay;
                        m[i] = b1 * m[i] + (1.0 - b1) * gr[i];
                        v[i] = b2 * v[i] + (1.0 - b2) * gr[i] * gr[i];
                        let denom = v[i].sqrt() / bc2_sqrt + eps;
                        w[i] -= step_size * m[i] / denom;
                    }
                });
        }
    }
}
// ANCHOR_END: adamw
