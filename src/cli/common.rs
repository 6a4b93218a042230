//! What the model commands share: which model, the prompt, the sampling flags, the context
//! window, the threads. `generate`, `chat`, `logits`, `inspect` and `bench` take these; a
//! server command would too.
//!
//! Flag names follow llama.cpp (`-m`, `-p`, `-f`, `-c`, `-t`, `--top-k`, `--min-p`,
//! `--repeat-penalty`) and the OpenAI API (`--frequency-penalty`, `--presence-penalty`).

use std::path::PathBuf;

use crate::chat::ChatTemplate;
use crate::model::Llama;
use crate::quant::q8act::Activations;
use crate::sampler::SamplerConfig;
use crate::{Error, Result};

/// Without `--ctx-size`, the context allocated is the model's own maximum, but at most this
/// many positions (SmolLM2 allows 8192; 4096 keeps the KV-cache at 189 MB).
pub const DEFAULT_CONTEXT_CAP: usize = 4096;

/// `--model`: which model to run.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArg {
    /// A .gguf file or a Hugging Face directory (default: SmolLM2-135M-Instruct, fetched on first use).
    ///
    /// Memory bounds on a model file: every count in it (layers, tensors, vocabulary, array
    /// lengths) must fit in the file's own bytes before anything is allocated for it; a GGUF's
    /// metadata holds at most 8388608 array elements in all (256 MiB in memory); a chat template
    /// renders within 10000000 steps and 16 MiB of text.
    #[arg(long = "model", short = 'm', value_name = "MODEL")]
    pub path: Option<PathBuf>,
    /// Activations of the one-token products: f32 (the default: exact) or q8 (x rounded to
    /// 8-bit blocks, integer dot products for Q4_0/Q4_1/Q8_0 weights: faster, moves the logits).
    #[arg(long, value_enum, default_value_t = Activations::F32)]
    pub activations: Activations,
}

impl ModelArg {
    /// The path given, or the default model's (fetched on first use).
    pub fn path(&self) -> Result<PathBuf> {
        model_path(self.path.clone())
    }

    /// Load the model.
    pub fn load(&self) -> Result<Llama> {
        Llama::load(self.path()?)
    }
}

/// A model path from the command line, or the default model (fetched on first use).
pub fn model_path(given: Option<PathBuf>) -> Result<PathBuf> {
    match given {
        Some(p) => Ok(p),
        None => crate::data::default_model(),
    }
}

/// `--prompt TEXT` or `--prompt-file PATH` (exactly one).
#[derive(clap::Args, Debug, Clone)]
pub struct PromptArgs {
    /// The prompt text (special-token text such as <|im_start|> is recognised).
    #[arg(
        long,
        short = 'p',
        value_name = "TEXT",
        conflicts_with = "prompt_file",
        required_unless_present = "prompt_file"
    )]
    pub prompt: Option<String>,
    /// Read the prompt from this file (UTF-8).
    #[arg(long, short = 'f', value_name = "PATH")]
    pub prompt_file: Option<PathBuf>,
}

impl PromptArgs {
    /// The prompt text.
    pub fn text(&self) -> Result<String> {
        match (&self.prompt, &self.prompt_file) {
            (Some(p), _) => Ok(p.clone()),
            (None, Some(f)) => std::fs::read_to_string(f).map_err(|e| Error::io(f, e)),
            (None, None) => Err(Error::invalid("give --prompt TEXT or --prompt-file PATH")),
        }
    }
}

/// Sampling flags shared by `generate` and `chat`.
#[derive(clap::Args, Debug, Clone)]
pub struct SamplingArgs {
    /// Temperature; 0 = greedy (always the most likely token).
    #[arg(long, default_value_t = 0.8)]
    pub temperature: f32,
    /// Keep only the K most likely tokens (0 = off).
    #[arg(long, default_value_t = 40)]
    pub top_k: usize,
    /// Nucleus sampling: keep the smallest set of tokens with this much probability (1 = off).
    #[arg(long, default_value_t = 0.95)]
    pub top_p: f32,
    /// Keep tokens at least this fraction as likely as the best one (0 = off).
    #[arg(long, default_value_t = 0.05)]
    pub min_p: f32,
    /// Repetition penalty (Hugging Face definition; 1 = off).
    #[arg(long, default_value_t = 1.0)]
    pub repeat_penalty: f32,
    /// Frequency penalty (OpenAI definition; 0 = off).
    #[arg(long, default_value_t = 0.0)]
    pub frequency_penalty: f32,
    /// Presence penalty (OpenAI definition; 0 = off).
    #[arg(long, default_value_t = 0.0)]
    pub presence_penalty: f32,
    /// Random seed (default: from the clock; printed so a run can be repeated).
    #[arg(long)]
    pub seed: Option<u64>,
}

impl SamplingArgs {
    /// The sampler settings, checked (a bad value is an error naming the flag's rule).
    pub fn config(&self) -> Result<SamplerConfig> {
        let seed = self.seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0)
        });
        let cfg = SamplerConfig {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
            repeat_penalty: self.repeat_penalty,
            frequency_penalty: self.frequency_penalty,
            presence_penalty: self.presence_penalty,
            logit_bias: Vec::new(),
            seed,
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

/// The context to allocate: `--ctx-size`, else the model's maximum capped at
/// [`DEFAULT_CONTEXT_CAP`].
pub fn context_size(model: &Llama, flag: Option<usize>) -> Result<usize> {
    let max = model.config.max_position_embeddings;
    match flag {
        Some(0) => Err(Error::invalid("--ctx-size must be at least 1")),
        Some(c) if c > max => Err(Error::invalid(format!(
            "--ctx-size {c} is larger than the model's maximum of {max} positions"
        ))),
        Some(c) => Ok(c),
        None => Ok(max.min(DEFAULT_CONTEXT_CAP)),
    }
}

/// The chat template of the model (its own, else ChatML).
pub fn chat_template(model: &Llama) -> Result<ChatTemplate> {
    ChatTemplate::for_model(model.chat_template.as_deref(), &model.tokenizer)
}

/// A chat template read from `path` (`--chat-template-file`), in place of the model's own, with
/// the model's BOS/EOS texts.
pub fn chat_template_file(path: &std::path::Path, model: &Llama) -> Result<ChatTemplate> {
    let source = std::fs::read_to_string(path).map_err(|e| {
        Error::invalid(format!(
            "--chat-template-file {}: cannot read it: {e}",
            path.display()
        ))
    })?;
    ChatTemplate::for_model(Some(&source), &model.tokenizer)
        .map_err(|e| Error::invalid(format!("--chat-template-file {}: {e}", path.display())))
}

/// `-t/--threads`: size rayon's global pool (the matrix kernels' threads) before anything
/// uses it. `None` leaves rayon's default (all cores, or `RAYON_NUM_THREADS`).
pub fn set_threads(n: Option<usize>) -> Result<()> {
    match n {
        None => Ok(()),
        Some(0) => Err(Error::invalid("--threads must be at least 1")),
        Some(n) => {
            // The global pool can only be built once; nothing has touched rayon yet.
            let _ = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build_global();
            Ok(())
        }
    }
}
