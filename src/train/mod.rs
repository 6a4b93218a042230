//! # Stage 8 · where the weights come from: training a tiny Llama from scratch
//!
//! Every earlier stage runs weights someone else trained. This one finds them: the same
//! forward modules (`matmul`, `rmsnorm`, `rope`, `attention`, `swiglu`) run a batch of text,
//! a hand-written backward pass (no autograd) computes the gradient of the next-token
//! cross-entropy with respect to every weight, and AdamW moves the weights a little downhill.
//!
//! ```text
//! corpus ──tokenizer──▶ ids ──windows──▶ batch [B, T]                       (data.rs)
//!   ──forward, saving activations──▶ logits [B·T, V] ──cross-entropy──▶ loss (model.rs, loss.rs)
//!   ──backward: each module's gradient, top to bottom──▶ ∂loss/∂θ           (model.rs and
//!        loss → tied head → final norm → per layer, last to first:            linear, norm,
//!        down · swiglu · gate/up · norm │ o · attention · rope · q/k/v · norm   rope, attention,
//!        → embedding rows                                                     swiglu .rs)
//!   ──accumulate, clip, AdamW with warmup + cosine──▶ θ'                    (trainer.rs, optim.rs)
//!   ──every N steps: validation loss, checkpoint (HF directory), samples     (run.rs, checkpoint.rs)
//! ```
//!
//! Each backward has its math written above it, is checked against finite differences
//! (`tests/backprop_fd.rs`), and the whole step against PyTorch autograd
//! (`tests/backprop_torch.rs`, fixture from `scripts/fixtures_train.py`).

pub mod params;

pub mod linear;

pub mod norm;

pub mod rope;

pub mod attention;

pub mod swiglu;

pub mod loss;

pub mod model;

pub mod optim;

pub mod data;

pub mod trainer;

pub mod checkpoint;

pub mod run;
