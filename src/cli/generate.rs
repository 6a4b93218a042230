//! `glassbox generate`: continue a prompt (or answer it as a chat turn), streamed to stdout.
//!
//! ```text
//! glassbox generate --prompt "The capital of France is" -n 32 --temperature 0
//! glassbox generate --chat --system "Answer in one word." --prompt "Capital of Italy?"
//! glassbox generate --prompt-file p.txt --json          # one JSON object, nothing else
//! glassbox generate --chat -p "Extract: ACME billed 120 EUR" --schema invoice.json
//! glassbox generate --chat -p "Describe Paris." --grammar json   # any JSON object
//! ```
//!
//! With `--schema` or `--grammar` the output is constrained (`src/constrain/`): every token
//! that would break the JSON gets probability zero, so the text parses and validates.
//!
//! Flag names follow llama.cpp (`-n`, `--top-k`, `--min-p`, `--repeat-penalty`, `--ctx-size`)
//! and the OpenAI API (`--frequency-penalty`, `--presence-penalty`, `--stop`); the model,
//! prompt and sampling flags are shared with the other commands (`cli/common.rs`).

use crate::chat::{stop_token_ids, Message};
use crate::cli::common::{chat_template, context_size, ModelArg, PromptArgs, SamplingArgs};
use crate::constrain::{compile, Grammar, JsonConstraint, Vocab};
use crate::generate::{generate_constrained, GenerateConfig, LlamaRunner, Output, TokenConstraint};
use crate::model::Llama;
use crate::sampler::SamplerConfig;
use crate::{Error, Result};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArg,
    #[command(flatten)]
    pub prompt: PromptArgs,
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
    /// Constrain the output to this JSON Schema (a .json file; the subset pydantic and OpenAI's
    /// strict mode write). The text is then guaranteed to parse and validate.
    #[arg(long, value_name = "FILE.json", conflicts_with_all = ["grammar", "stop"])]
    pub schema: Option<PathBuf>,
    /// Constrain the output to a built-in grammar: `json` (any JSON object).
    #[arg(long, value_name = "NAME", value_parser = ["json"], conflicts_with = "stop")]
    pub grammar: Option<String>,
}

/// The grammar asked for by `--schema FILE` or `--grammar json`, if any.
pub fn constraint_grammar(args: &Args) -> Result<Option<Grammar>> {
    if let Some(path) = &args.schema {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let schema: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::format(path, format!("not JSON: {e}")))?;
        let g = compile(&schema).map_err(|e| Error::format(path, e.to_string()))?;
        return Ok(Some(g));
    }
    Ok(args.grammar.as_ref().map(|_| Grammar::json_object()))
}

pub fn run(args: Args) -> Result<()> {
    let prompt = args.prompt.text()?;
    let sampler = args.sampling.config()?;
    let grammar = constraint_grammar(&args)?;
    let model = args.model.load()?;
    let tok = &model.tokenizer;
    let mut constraint = grammar.map(|g| {
        let vocab = Vocab::new(tok, &stop_token_ids(tok));
        JsonConstraint::new(Arc::new(g), Arc::new(vocab))
    });
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
        top_logprobs: 0,
        sampler: sampler.clone(),
    };
    let mut runner = LlamaRunner::new(&model, ctx)?;
    runner.session.set_activations(args.model.activations)?;
    let mut stdout = std::io::stdout().lock();
    let json = args.json;
    // Show the prompt, then the continuation after it, as llama.cpp does. It is written with
    // the first piece of text, so a prompt that `generate` refuses (too long for the context)
    // prints nothing but the error.
    let mut echo = (!json && !args.chat).then_some(prompt.as_str());
    let out = {
        let mut on_text = |piece: &str| {
            if !json {
                // A closed pipe (`| head`) is not an error worth a panic: stop printing.
                if let Some(p) = echo.take() {
                    let _ = stdout.write_all(p.as_bytes());
                }
                let _ = stdout.write_all(piece.as_bytes());
                let _ = stdout.flush();
            }
        };
        let c = constraint.as_mut().map(|c| c as &mut dyn TokenConstraint);
        generate_constrained(&mut runner, tok, &prompt_ids, &cfg, c, &mut on_text)?
    };
    if let Some(p) = echo {
        let _ = stdout.write_all(p.as_bytes()); // nothing was generated: still show the prompt
    }
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
    if constraint.is_some_and(|c| !c.is_complete()) {
        return Err(Error::invalid(format!(
            "the JSON value was cut off ({}) before it was complete: allow more tokens with -n \
             (-n -1: until it ends)",
            out.stop_reason.name()
        )));
    }
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
