//! Stage 8 · one optimizer step, and the configuration of a run.
//!
//! ```text
//! g = 0
//! for j in 0..accum:   g += (1/accum) · ∇ mean_loss(micro-batch j)      (gradient accumulation)
//! ‖g‖ ← clip(g, max_norm)
//! θ ← AdamW(θ, g, lr_at(step))
//! ```
//!
//! `accum` micro-batches of `batch` windows are one step of `accum · batch · ctx` tokens, with
//! the memory of one micro-batch: the gradient is the same as for one batch `accum` times
//! larger (up to rounding), which the tests check.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::rope::RopeTable;
use crate::tokenizer::Tokenizer;
use crate::train::data::sample_batch;
use crate::train::model::{loss_and_grad, loss_only, Batch, StepCost};
use crate::train::optim::{clip_grad_norm, lr_at, AdamConfig, AdamW};
use crate::train::params::Params;
use crate::weights::config::LlamaConfig;
use crate::Result;

/// Every setting of a run (saved in each checkpoint's `trainer_state.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    // the model
    pub layers: usize,
    pub d_model: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub ffn: usize,
    pub ctx: usize,
    pub rope_theta: f32,
    // the optimisation
    pub batch: usize,
    pub accum: usize,
    pub steps: usize,
    pub warmup: usize,
    pub lr: f64,
    pub min_lr: f64,
    pub weight_decay: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub clip: f64,
    pub seed: u64,
}

impl TrainConfig {
    /// The model's config: a Llama with tied embeddings, the vocabulary of `tok`.
    pub fn llama_config(&self, tok: &Tokenizer) -> Result<LlamaConfig> {
        let c = LlamaConfig {
            hidden_size: self.d_model,
            intermediate_size: self.ffn,
            num_attention_heads: self.heads,
            num_key_value_heads: self.kv_heads,
            num_hidden_layers: self.layers,
            rms_norm_eps: 1e-5,
            rope_theta: self.rope_theta,
            rope_scaling: None,
            tie_word_embeddings: true,
            vocab_size: tok.vocab_size(),
            max_position_embeddings: self.ctx,
            bos_token_id: tok.bos_id(),
            eos_token_ids: tok.eos_ids().to_vec(),
            family: crate::weights::family::Family::Llama, // training builds Llamas only
        };
        c.validate(std::path::Path::new(
            "the --layers/--d-model/--heads/--kv-heads/--ffn flags",
        ))?;
        Ok(c)
    }

    /// Tokens per optimizer step.
    pub fn tokens_per_step(&self) -> usize {
        self.batch * self.accum * self.ctx
    }

    pub fn adam(&self) -> AdamConfig {
        AdamConfig {
            beta1: self.beta1,
            beta2: self.beta2,
            eps: 1e-8,
            weight_decay: self.weight_decay,
        }
    }
}

/// What one step did.
#[derive(Clone, Copy, Debug, Default)]
pub struct StepReport {
    /// Mean loss over the step's tokens (before the update).
    pub loss: f64,
    pub lr: f64,
    /// Gradient norm before clipping.
    pub grad_norm: f64,
    pub cost: StepCost,
    /// Clipping and AdamW together (`clip_secs` of it in the clipping's norm and scaling).
    pub optimizer_secs: f64,
    pub clip_secs: f64,
    /// Zeroing the gradient buffers before the micro-batches add into them.
    pub zero_grads_secs: f64,
}

/// A model being trained: parameters, gradients, optimizer, and the step count.
pub struct Trainer {
    pub cfg: TrainConfig,
    pub config: LlamaConfig,
    pub params: Params,
    pub opt: AdamW,
    /// Steps completed.
    pub step: usize,
    pub rope: RopeTable,
    grads: Params,
}

impl Trainer {
    /// A new model, initialised from `cfg.seed`.
    pub fn new(cfg: TrainConfig, config: LlamaConfig) -> Result<Trainer> {
        Params::check_config(&config)?;
        let params = Params::init(&config, cfg.seed);
        Ok(Trainer::with_params(cfg, config, params))
    }

    /// Start from given parameters (tests load PyTorch's initial weights this way).
    pub fn with_params(cfg: TrainConfig, config: LlamaConfig, params: Params) -> Trainer {
        let rope = RopeTable::new(config.head_dim(), cfg.ctx, config.rope_theta, None);
        Trainer {
            opt: AdamW::new(cfg.adam(), &params),
            grads: Params::zeros(&config),
            cfg,
            config,
            params,
            step: 0,
            rope,
        }
    }

    /// The gradient of the last step (after clipping).
    pub fn grads(&self) -> &Params {
        &self.grads
    }

    /// Mean loss and gradient over `batches` (each weighted by its tokens), into `grads`.
    pub fn accumulate(&mut self, batches: &[Batch]) -> (f64, StepCost) {
        self.grads.fill_zero();
        self.accumulate_into(batches)
    }

    /// [`Trainer::accumulate`] without zeroing `grads` first.
    fn accumulate_into(&mut self, batches: &[Batch]) -> (f64, StepCost) {
        let tokens: usize = batches.iter().map(|b| b.batch * b.seq).sum();
        let scale = 1.0 / tokens as f32;
        let (mut loss, mut cost) = (0.0, StepCost::default());
        for b in batches {
            let (l, c) = loss_and_grad(
                &self.params,
                &self.config,
                &self.rope,
                b,
                scale,
                &mut self.grads,
            );
            loss += l;
            cost.forward_secs += c.forward_secs;
            cost.backward_secs += c.backward_secs;
            cost.activation_bytes = cost.activation_bytes.max(c.activation_bytes);
            cost.parts.add(&c.parts);
        }
        (loss / tokens as f64, cost)
    }

    // ANCHOR: step
    /// One optimizer step on the given micro-batches: accumulate, clip, AdamW.
    pub fn step_on(&mut self, batches: &[Batch]) -> StepReport {
        // the whole step on a thread of rayon's pool: every parallel part of it then starts
        // from inside the pool, instead of this thread handing it over and sleeping until the
        // pool wakes it (hundreds of hand-offs a step)
        rayon::scope(|_| self.step_on_pool(batches))
    }

    fn step_on_pool(&mut self, batches: &[Batch]) -> StepReport {
        let t_zero = Instant::now();
        self.grads.fill_zero();
        let zero_grads_secs = t_zero.elapsed().as_secs_f64();
        let (loss, cost) = self.accumulate_into(batches);
        let t0 = Instant::now();
        let grad_norm = clip_grad_norm(&mut self.grads, self.cfg.clip);
        let clip_secs = t0.elapsed().as_secs_f64();
        let lr = lr_at(
            self.step,
            self.cfg.steps,
            self.cfg.warmup,
            self.cfg.lr,
            self.cfg.min_lr,
        );
        self.opt.step(&mut self.params, &self.grads, lr as f32);
        self.step += 1;
        StepReport {
            loss,
            lr,
            grad_norm,
            cost,
            optimizer_secs: t0.elapsed().as_secs_f64(),
            clip_secs,
            zero_grads_secs,
        }
    }
    // ANCHOR_END: step

    /// The next step on the training ids: `accum` micro-batches drawn for this step number.
    pub fn train_step(&mut self, train: &[u32]) -> StepReport {
        let c = &self.cfg;
        let batches: Vec<Batch> = (0..c.accum)
            .map(|j| sample_batch(train, c.batch, c.ctx, c.seed, self.step as u64, j as u64))
            .collect();
        self.step_on(&batches)
    }

    /// Mean loss per token over `batches` (no gradient).
    pub fn evaluate(&self, batches: &[Batch]) -> f64 {
        let tokens: usize = batches.iter().map(|b| b.batch * b.seq).sum();
        let sum: f64 = batches
            .iter()
            .map(|b| loss_only(&self.params, &self.config, &self.rope, b))
            .sum();
        sum / tokens.max(1) as f64
    }
}
