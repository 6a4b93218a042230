//! `glassbox generate`: continue a prompt (or answer it as a chat turn), streamed to stdout.
//!
//! ```text
//! glassbox generate --prompt "The capital of France is" -n 32 --temperature 0
//! glassbox generate --chat --system "Answer in one word." --prompt "Capital of Italy?"
//! glassbox generate --prompt-file p.txt --json          # one JSON object, nothing else
//! ```
//!
//! Flag names follow llama.cpp (`-n`, `--top-k`, `--min-p`, `--repeat-penalty`, `--ctx-size`)
//! and the OpenAI API (`--frequency-penalty`, `--presence-penalty`, `--stop`).

use crate::chat::{stop_token_ids, ChatTemplate, Message};
use crate::generate::{generate, GenerateConfig, LlamaRunner, Output};
use crate::model::Llama;
use crate::sampler::SamplerConfig;
use crate::{Error, Result};
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};

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
    pub fn config(&self) -> SamplerConfig {
        let seed = self.seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0)
        });
        SamplerConfig {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
            repeat_penalty: self.repeat_penalty,
            frequency_penalty: self.frequency_penalty,
            presence_penalty: self.presence_penalty,
            seed,
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A .gguf file or a Hugging Face directory (default: SmolLM2-135M-Instruct, fetched once).
    #[arg(long, short = 'm')]
    pub model: Option<PathBuf>,
    /// The prompt text.
    #[arg(
        long,
        short = 'p',
        conflicts_with = "prompt_file",
        required_unless_present = "prompt_file"
    )]
    pub prompt: Option<String>,
    /// Read the prompt from this file.
    #[arg(long, short = 'f')]
    pub prompt_file: Option<PathBuf>,
    /// Most new tokens (-1: until an end token or the context is full).
    #[arg(
        long = "n-predict",
        short = 'n',
        default_value_t = 128,
        allow_negative_numbers = true
    )]
    pub n: i64,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    /// Stop when the text contains this string (not printed); may be repeated.
    #[arg(long)]
    pub stop: Vec<String>,
    /// Wrap the prompt as a user turn with the model's chat template.
    #[arg(long)]
    pub chat: bool,
    /// System prompt for --chat (default: the template's own, if any).
    #[arg(long, requires = "chat")]
    pub system: Option<String>,
    /// Print one JSON object (ids, text, log-probabilities, stop reason, stats) and nothing else.
    #[arg(long)]
    pub json: bool,
    /// Context window in tokens (default: the model's, at most 4096).
    #[arg(long, short = 'c')]
    pub ctx_size: Option<usize>,
}

/// Load `--model` or the default model (fetched on first use).
pub fn load_model(path: Option<&Path>) -> Result<Llama> {
    let path = match path {
        Some(p) => p.to_path_buf(),
        None => crate::data::default_model()?,
    };
    Llama::load(&path)
}

/// The context to allocate: the flag, else the model's maximum capped at 4096.
pub fn context_size(model: &Llama, flag: Option<usize>) -> Result<usize> {
    let max = model.config.max_position_embeddings;
    match flag {
        Some(0) => Err(Error::invalid("--ctx-size must be at least 1")),
        Some(c) if c > max => Err(Error::invalid(format!(
            "--ctx-size {c} is larger than the model's maximum of {max} positions"
        ))),
        Some(c) => Ok(c),
        None => Ok(max.min(4096)),
    }
}

/// The chat template of the model (its own, else ChatML).
pub fn chat_template(model: &Llama) -> Result<ChatTemplate> {
    ChatTemplate::for_model(model.chat_template.as_deref(), &model.tokenizer)
}

pub fn run(args: Args) -> Result<()> {
    let prompt = match (&args.prompt, &args.prompt_file) {
        (Some(p), _) => p.clone(),
        (None, Some(f)) => std::fs::read_to_string(f).map_err(|e| Error::io(f, e))?,
        (None, None) => return Err(Error::invalid("give --prompt TEXT or --prompt-file PATH")),
    };
    let sampler = args.sampling.config();
    sampler.validate()?;
    let model = load_model(args.model.as_deref())?;
    let tok = &model.tokenizer;
    let prompt_ids = if args.chat {
        let mut messages = Vec::new();
        if let Some(s) = &args.system {
            messages.push(Message::system(s));
        }
        messages.push(Message::user(&prompt));
        chat_template(&model)?.encode(tok, &messages, true)?
    } else {
        // Special-token text in a raw prompt is honoured, as llama.cpp does: hand-written
        // ChatML works.
        tok.encode_with_special(&prompt)
    };
    let ctx = context_size(&model, args.ctx_size)?;
    let cfg = GenerateConfig {
        max_new_tokens: if args.n < 0 {
            None
        } else {
            Some(args.n as usize)
        },
        stop_ids: stop_token_ids(tok),
        stop_strings: args.stop.clone(),
        sampler: sampler.clone(),
    };
    crate::generate::check_budget(prompt_ids.len(), cfg.max_new_tokens, ctx)?;
    let mut runner = LlamaRunner::new(&model, ctx)?;
    let mut stdout = std::io::stdout().lock();
    let json = args.json;
    if !json && !args.chat {
        // Show the prompt, then the continuation after it, as llama.cpp does.
        let _ = stdout.write_all(prompt.as_bytes());
    }
    let mut on_text = |piece: &str| {
        if !json {
            // A closed pipe (`| head`) is not an error worth a panic: stop printing.
            let _ = stdout.write_all(piece.as_bytes());
            let _ = stdout.flush();
        }
    };
    let out = generate(&mut runner, tok, &prompt_ids, &cfg, &mut on_text)?;
    if json {
        let v = output_json(&model, &out, &sampler);
        writeln!(stdout, "{}", serde_json::to_string(&v).unwrap_or_default())
            .map_err(|e| Error::io("<stdout>", e))?;
    } else {
        let _ = writeln!(stdout);
    }
    eprintln!(
        "[{}] stop: {} | seed {}",
        out.stats.summary(),
        out.stop_reason.name(),
        sampler.seed
    );
    Ok(())
}

/// The `--json` object.
pub fn output_json(model: &Llama, out: &Output, sampler: &SamplerConfig) -> serde_json::Value {
    let tok = &model.tokenizer;
    let tokens: Vec<serde_json::Value> = out
        .ids
        .iter()
        .zip(&out.logprobs)
        .map(|(&id, &lp)| {
            let bytes = tok.token_bytes(id).unwrap_or(&[]);
            json!({ "id": id, "token": String::from_utf8_lossy(bytes), "logprob": lp })
        })
        .collect();
    let s = &out.stats;
    json!({
        "model": model.path.display().to_string(),
        "prompt_ids": out.prompt_ids,
        "ids": out.ids,
        "text": out.text,
        "logprobs": out.logprobs,
        "tokens": tokens,
        "stop_reason": out.stop_reason.name(),
        "stop": match &out.stop_reason {
            crate::generate::StopReason::Eos(id) => json!({ "eos_id": id }),
            crate::generate::StopReason::StopString(s) => json!({ "string": s }),
            _ => serde_json::Value::Null,
        },
        "sampler": {
            "temperature": sampler.temperature, "top_k": sampler.top_k, "top_p": sampler.top_p,
            "min_p": sampler.min_p, "repeat_penalty": sampler.repeat_penalty,
            "frequency_penalty": sampler.frequency_penalty, "presence_penalty": sampler.presence_penalty,
            "seed": sampler.seed,
        },
        "stats": {
            "prompt_tokens": s.prompt_tokens,
            "generated_tokens": s.generated_tokens,
            "time_to_first_token_ms": s.time_to_first_token.as_secs_f64() * 1e3,
            "prefill_ms": s.prefill.as_secs_f64() * 1e3,
            "decode_ms": s.decode.as_secs_f64() * 1e3,
            "prefill_tok_s": s.prefill_tok_s(),
            "decode_tok_s": s.decode_tok_s(),
            "kv_cache_bytes": s.kv_cache_bytes,
        },
    })
}
