//! `glassbox train`: train a tiny Llama from scratch on text files.
//!
//! ```text
//! glassbox train-bpe --vocab-size 4096 --special '<|endoftext|>' --out tok.json brown.txt
//! glassbox train --data brown.txt --tokenizer tok.json --out brown-llama
//! glassbox generate --model brown-llama --prompt "The jury said"
//! ```

use std::path::PathBuf;

use crate::train::run::{run as run_training, RunOptions};
use crate::train::trainer::TrainConfig;
use crate::{Error, Result};

/// The defaults train the book's demo model (≈ 3.4 M parameters with a 4096-token vocabulary)
/// on the Brown corpus in about 20 minutes on 2 cores.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// UTF-8 text files to train on (tokenized whole; an end-of-text id between files).
    #[arg(long, required = true, num_args = 1.., value_name = "FILE")]
    pub data: Vec<PathBuf>,
    /// A tokenizer.json (e.g. from `glassbox train-bpe`); its size is the model's vocabulary.
    #[arg(long, value_name = "TOK.json")]
    pub tokenizer: PathBuf,
    /// Output directory: checkpoint-NNNNNN/ subdirectories, the newest model at the top
    /// (a Hugging Face directory), log.jsonl with the loss curve and the samples.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Transformer blocks.
    #[arg(long, default_value_t = 4)]
    pub layers: usize,
    /// Width of the residual stream.
    #[arg(long, default_value_t = 256)]
    pub d_model: usize,
    /// Query heads (head_dim = d_model / heads).
    #[arg(long, default_value_t = 4)]
    pub heads: usize,
    /// Key/value heads (grouped-query attention; must divide --heads).
    #[arg(long, default_value_t = 2)]
    pub kv_heads: usize,
    /// Hidden width of the SwiGLU MLP.
    #[arg(long, default_value_t = 704)]
    pub ffn: usize,
    /// Tokens per training window (also the model's maximum context).
    #[arg(long, default_value_t = 128)]
    pub ctx: usize,
    /// Windows per micro-batch.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Micro-batches per optimizer step (gradient accumulation).
    #[arg(long, default_value_t = 1)]
    pub accum: usize,
    /// Optimizer steps.
    #[arg(long, default_value_t = 1500)]
    pub steps: usize,
    /// Peak learning rate (after warmup).
    #[arg(long, default_value_t = 3e-3)]
    pub lr: f64,
    /// Final learning rate of the cosine (default: --lr / 10).
    #[arg(long)]
    pub min_lr: Option<f64>,
    /// Steps of linear warmup.
    #[arg(long, default_value_t = 100)]
    pub warmup: usize,
    /// AdamW's decoupled weight decay (matrices only).
    #[arg(long, default_value_t = 0.1)]
    pub weight_decay: f32,
    /// Clip the global gradient norm to this.
    #[arg(long, default_value_t = 1.0)]
    pub clip: f64,
    /// Seed of the initial weights and of the batches (same seed, same run).
    #[arg(long, default_value_t = 1337)]
    pub seed: u64,
    /// Fraction of the corpus held out for validation.
    #[arg(long, default_value_t = 0.05)]
    pub val_fraction: f64,
    /// Validation loss and perplexity every N steps (0: only at the start and end).
    #[arg(long, default_value_t = 100)]
    pub eval_every: usize,
    /// Validation batches per evaluation.
    #[arg(long, default_value_t = 8)]
    pub eval_batches: usize,
    /// Checkpoint (and samples) every N steps, and always at the end.
    #[arg(long, default_value_t = 250)]
    pub save_every: usize,
    /// Checkpoint directories to keep.
    #[arg(long, default_value_t = 2)]
    pub keep: usize,
    /// Prompt for the samples written at each checkpoint (repeat for more).
    #[arg(long = "sample-prompt", default_values_t = ["The".to_string()])]
    pub sample_prompts: Vec<String>,
    /// Tokens per sample.
    #[arg(long, default_value_t = 40)]
    pub sample_tokens: usize,
    /// Continue the run in --out from its newest checkpoint, with its saved settings (the
    /// model and optimizer flags are then ignored); the result equals an uninterrupted run.
    #[arg(long)]
    pub resume: bool,
    /// Stop after this many steps (with a checkpoint); continue later with --resume.
    #[arg(long, value_name = "STEP")]
    pub stop_after: Option<usize>,
    /// No progress bar or messages, only the summary.
    #[arg(long, short)]
    pub quiet: bool,
    /// Also print where the steps' time went, part by part: the GEMMs, attention, the loss and
    /// the rest of the forward and backward, zeroing the gradients, clipping, AdamW (every line
    /// of log.jsonl carries the same split as "parts").
    #[arg(long)]
    pub profile: bool,
}

pub fn run(a: Args) -> Result<()> {
    if a.steps == 0 || a.batch == 0 || a.accum == 0 || a.ctx < 2 {
        return Err(Error::invalid(
            "--steps, --batch and --accum must be at least 1, --ctx at least 2",
        ));
    }
    if !(a.lr > 0.0 && a.lr.is_finite()) {
        return Err(Error::invalid(format!(
            "--lr {}: must be a positive number",
            a.lr
        )));
    }
    let opts = RunOptions {
        cfg: TrainConfig {
            layers: a.layers,
            d_model: a.d_model,
            heads: a.heads,
            kv_heads: a.kv_heads,
            ffn: a.ffn,
            ctx: a.ctx,
            rope_theta: 10000.0,
            batch: a.batch,
            accum: a.accum,
            steps: a.steps,
            warmup: a.warmup.min(a.steps),
            lr: a.lr,
            min_lr: a.min_lr.unwrap_or(a.lr / 10.0),
            weight_decay: a.weight_decay,
            beta1: 0.9,
            beta2: 0.95,
            clip: a.clip,
            seed: a.seed,
        },
        data: a.data,
        tokenizer: a.tokenizer,
        val_fraction: a.val_fraction,
        eval_every: a.eval_every,
        eval_batches: a.eval_batches,
        save_every: a.save_every,
        keep: a.keep,
        sample_prompts: a.sample_prompts,
        sample_tokens: a.sample_tokens,
        out: a.out,
        resume: a.resume,
        stop_after: a.stop_after,
        quiet: a.quiet,
    };
    let a_profile = a.profile;
    let s = run_training(&opts)?;
    let [f, b, o] = s.split_secs;
    let total = (f + b + o).max(1e-9);
    println!(
        "steps       {} ({} parameters, {} training tokens)",
        s.steps_done, s.params, s.train_tokens
    );
    println!("train loss  {:.4} (last step)", s.last_loss);
    if let Some(v) = s.val_loss {
        println!("val loss    {v:.4} (perplexity {:.1})", v.exp());
    }
    println!(
        "speed       {:.0} tokens/s overall; step time: forward {:.0}%, backward {:.0}%, optimizer {:.0}%",
        s.tokens_per_sec,
        100.0 * f / total,
        100.0 * b / total,
        100.0 * o / total
    );
    println!(
        "memory      {:.1} MB of activations per micro-batch + {:.1} MB of weights, gradients \
         and AdamW moments = {:.1} MB per step",
        s.activation_bytes as f64 / 1e6,
        s.state_bytes as f64 / 1e6,
        (s.activation_bytes + s.state_bytes) as f64 / 1e6
    );
    if a_profile {
        let total: f64 = s.parts_secs.iter().map(|(_, v)| v).sum::<f64>().max(1e-9);
        println!("profile     seconds over the steps of this run, share of the step:");
        for (name, secs) in &s.parts_secs {
            println!("  {name:<14} {secs:>9.3} s {:>5.1}%", 100.0 * secs / total);
        }
    }
    println!(
        "saved       {} (and the newest model in {})",
        s.checkpoint.display(),
        opts.out.display()
    );
    Ok(())
}
