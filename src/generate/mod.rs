//! # Stage 4c: the generation loop — prefill once, then one token at a time
//!
//! ```text
//! prompt ids ──prefill (one wide forward, fills the KV-cache)──▶ logits ──sample──▶ id₁  ← time to first token
//! id₁ ──decode (one narrow forward over the cache)──▶ logits ──sample──▶ id₂ ──▶ … ──▶ stop
//! ```
//!
//! Every generated id is streamed through the tokenizer's UTF-8-safe [`StreamDecoder`], so the
//! caller's callback only ever sees whole characters. The loop stops on the first of:
//!
//! * an end-of-sequence id (several: `<|im_end|>`, `<|eot_id|>`, `<|endoftext|>`, …): the id is
//!   kept in `ids` but its text is not emitted;
//! * a user stop string: text that *could* be the start of a stop string is held back until it
//!   is known not to be one, and the stop string itself is never emitted;
//! * `max_new_tokens`;
//! * the context window, when no `max_new_tokens` is given (`ContextFull`, not a crash).
//!
//! The budget is checked before any work: `prompt + max_new_tokens ≤ context`, or a clear error.
//!
//! **Prefix caching**: the model keeps its KV-cache between calls. Before the prefill, the
//! cached positions whose ids equal the start of the new prompt are kept
//! ([`NextTokenModel::reuse_prefix`]) and only the rest of the prompt is run: turn 5 of a chat
//! prefills only the new turn (`Stats::cached_tokens` says how many were reused).
//!
//! [`generate_stream`] hands each piece of text to the caller together with the tokens it came
//! from (id, log-probability, the top alternatives when asked for); the caller answers
//! [`Flow::Stop`] to cancel (a client that went away), which ends the loop within one token.
//! [`generate`] is the same loop for callers that only want the text.
//!
//! The model is anything that implements [`NextTokenModel`] (`runner.rs`): the real Llama
//! session, or the [`ScriptedModel`] whose logits the tests write by hand. Holding back text
//! that may begin a stop string is `stop.rs`.

mod runner;
mod stop;

pub use runner::{LlamaRunner, NextTokenModel, ScriptedModel};
use stop::Emitter;

use crate::sampler::{top_logprobs, Sampler, SamplerConfig};
use crate::tokenizer::stream::StreamDecoder;
use crate::tokenizer::Tokenizer;
use crate::{Error, Result};
use std::time::{Duration, Instant};

/// A rule on which ids may come next (a JSON schema, a grammar): asked before every draw,
/// told the id drawn after it. The loop applies it as the sampler's step 0 (the mask).
pub trait TokenConstraint {
    /// The ids allowed next, as a bitset over the vocabulary (see `sampler::apply_mask`).
    fn allowed(&mut self) -> Result<&[u64]>;
    /// The sampler drew `id`.
    fn advance(&mut self, id: u32) -> Result<()>;
}

/// How to generate.
#[derive(Clone, Debug, Default)]
pub struct GenerateConfig {
    /// Most ids to generate; `None`: until an end token or the context is full.
    pub max_new_tokens: Option<usize>,
    /// End-of-sequence ids (see `chat::stop_token_ids`).
    pub stop_ids: Vec<u32>,
    /// Stop when the text contains one of these; it is not emitted.
    pub stop_strings: Vec<String>,
    /// Report this many most likely alternatives with each token (0: none).
    pub top_logprobs: usize,
    pub sampler: SamplerConfig,
}

/// Why generation ended.
#[derive(Clone, Debug, PartialEq)]
pub enum StopReason {
    /// The model emitted this end-of-sequence id.
    Eos(u32),
    /// The text reached this stop string.
    StopString(String),
    /// `max_new_tokens` ids were generated.
    MaxTokens,
    /// Prompt and generated ids fill the context window.
    ContextFull,
    /// The caller answered [`Flow::Stop`] (e.g. the client disconnected).
    Cancelled,
}

impl StopReason {
    /// A short machine-readable name: `eos`, `stop_string`, `max_tokens`, `context_full`,
    /// `cancelled`.
    pub fn name(&self) -> &'static str {
        match self {
            StopReason::Eos(_) => "eos",
            StopReason::StopString(_) => "stop_string",
            StopReason::MaxTokens => "max_tokens",
            StopReason::ContextFull => "context_full",
            StopReason::Cancelled => "cancelled",
        }
    }
}

/// Counts and timings of one run.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub prompt_tokens: usize,
    /// Prompt tokens whose KV-cache rows were kept from the previous call (not prefilled).
    pub cached_tokens: usize,
    pub generated_tokens: usize,
    /// From the start of the prefill to the first sampled id.
    pub time_to_first_token: Duration,
    /// The prompt's forward pass (of the tokens not cached).
    pub prefill: Duration,
    /// Every decode step (forward of one id + sampling) after the first id.
    pub decode: Duration,
    pub kv_cache_bytes: usize,
}

impl Stats {
    /// Prompt tokens run per second (the cached ones were not run).
    pub fn prefill_tok_s(&self) -> f64 {
        (self.prompt_tokens - self.cached_tokens) as f64 / self.prefill.as_secs_f64().max(1e-9)
    }
    /// Decode steps per second: the first id comes from the prefill, so `n − 1` steps.
    pub fn decode_tok_s(&self) -> f64 {
        self.generated_tokens.saturating_sub(1) as f64 / self.decode.as_secs_f64().max(1e-9)
    }
    /// One human-readable line.
    pub fn summary(&self) -> String {
        format!(
            "prompt {} tok ({} cached), generated {} tok | TTFT {:.0} ms | prefill {:.1} tok/s | decode {:.1} tok/s | KV-cache {:.1} MiB",
            self.prompt_tokens,
            self.cached_tokens,
            self.generated_tokens,
            self.time_to_first_token.as_secs_f64() * 1e3,
            self.prefill_tok_s(),
            self.decode_tok_s(),
            self.kv_cache_bytes as f64 / (1024.0 * 1024.0)
        )
    }
}

/// One generated token as the caller sees it: its id, `log p(id)` under the model's raw
/// distribution, and the `top_logprobs` most likely `(id, log p)` at that step.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenLogprob {
    pub id: u32,
    pub logprob: f32,
    pub top: Vec<(u32, f32)>,
}

/// The caller's answer to each piece: go on, or stop now.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Flow {
    Continue,
    Stop,
}

/// Everything one run produced.
#[derive(Clone, Debug)]
pub struct Output {
    pub prompt_ids: Vec<u32>,
    /// Generated ids, including a final end-of-sequence id.
    pub ids: Vec<u32>,
    /// `log p(id)` under the model's raw distribution, one per generated id.
    pub logprobs: Vec<f32>,
    /// The emitted text (no end token, no stop string).
    pub text: String,
    pub stop_reason: StopReason,
    pub stats: Stats,
}

/// Refuse before any work a prompt that cannot fit.
pub fn check_budget(prompt: usize, max_new: Option<usize>, context: usize) -> Result<()> {
    if prompt == 0 {
        return Err(Error::invalid(
            "the prompt is empty: nothing to continue from",
        ));
    }
    if prompt >= context {
        return Err(Error::invalid(format!(
            "the prompt is {prompt} tokens but the context holds {context}: shorten the prompt or raise --ctx-size"
        )));
    }
    if let Some(n) = max_new {
        if prompt + n > context {
            return Err(Error::invalid(format!(
                "prompt {prompt} tokens + {n} new tokens > context {context}: use fewer new tokens (-n {}), \
                 a shorter prompt, or a larger --ctx-size",
                context - prompt
            )));
        }
    }
    Ok(())
}

// ANCHOR: generate
/// Generate from `prompt_ids`, calling `on_text` with each new piece of text.
pub fn generate(
    model: &mut dyn NextTokenModel,
    tokenizer: &Tokenizer,
    prompt_ids: &[u32],
    cfg: &GenerateConfig,
    on_text: &mut dyn FnMut(&str),
) -> Result<Output> {
    generate_stream(model, tokenizer, prompt_ids, cfg, &mut |text, _| {
        on_text(text);
        Flow::Continue
    })
}

/// [`generate`] where a constraint, if given, decides which ids each draw may pick.
pub fn generate_constrained(
    model: &mut dyn NextTokenModel,
    tokenizer: &Tokenizer,
    prompt_ids: &[u32],
    cfg: &GenerateConfig,
    constraint: Option<&mut dyn TokenConstraint>,
    on_text: &mut dyn FnMut(&str),
) -> Result<Output> {
    generate_stream_constrained(
        model,
        tokenizer,
        prompt_ids,
        cfg,
        constraint,
        &mut |text, _| {
            on_text(text);
            Flow::Continue
        },
    )
}

/// Generate from `prompt_ids`, calling `on_piece` with each new piece of text and the tokens
/// it came from; `Flow::Stop` ends the loop (`StopReason::Cancelled`).
pub fn generate_stream(
    model: &mut dyn NextTokenModel,
    tokenizer: &Tokenizer,
    prompt_ids: &[u32],
    cfg: &GenerateConfig,
    on_piece: &mut dyn FnMut(&str, &[TokenLogprob]) -> Flow,
) -> Result<Output> {
    generate_stream_constrained(model, tokenizer, prompt_ids, cfg, None, on_piece)
}

/// [`generate_stream`] with an optional constraint (the sampler's step 0, the mask).
pub fn generate_stream_constrained(
    model: &mut dyn NextTokenModel,
    tokenizer: &Tokenizer,
    prompt_ids: &[u32],
    cfg: &GenerateConfig,
    mut constraint: Option<&mut dyn TokenConstraint>,
    on_piece: &mut dyn FnMut(&str, &[TokenLogprob]) -> Flow,
) -> Result<Output> {
    let context = model.context_size();
    check_budget(prompt_ids.len(), cfg.max_new_tokens, context)?;
    let mut sampler = Sampler::new(cfg.sampler.clone())?;
    let mut decoder: StreamDecoder = tokenizer.stream_decoder();
    let mut out = Emitter {
        pending: String::new(),
        text: String::new(),
        tokens: Vec::new(),
        flow: Flow::Continue,
        on_piece,
    };
    let mut history = prompt_ids.to_vec(); // prompt + generated: what the penalties look at
    let (mut ids, mut logprobs) = (Vec::new(), Vec::new());
    let mut stats = Stats {
        prompt_tokens: prompt_ids.len(),
        kv_cache_bytes: model.kv_cache_bytes(),
        ..Stats::default()
    };

    if cfg.max_new_tokens == Some(0) {
        // nothing asked for: no prefill, no sampled id (`-n 0` once generated one)
        return finish(
            prompt_ids,
            ids,
            logprobs,
            String::new(),
            StopReason::MaxTokens,
            stats,
        );
    }

    // 1. prefill: the prompt in one forward pass, after the prefix the cache already holds
    let start = Instant::now();
    stats.cached_tokens = model.reuse_prefix(prompt_ids);
    let mut logits = model.forward(&prompt_ids[stats.cached_tokens..])?.to_vec(); // logits: [vocab]
    stats.prefill = start.elapsed();
    let mut step_start = Instant::now();
    let stop_reason = loop {
        // 2. sample the next id (the sampler may rewrite `logits`: mask, bias, penalties,
        //    temperature)
        let top = top_logprobs(&logits, cfg.top_logprobs); // of the raw logits, before the sampler
        let s = match constraint.as_deref_mut() {
            Some(c) => {
                let s = sampler.sample_masked(&mut logits, &history, Some(c.allowed()?));
                c.advance(s.id)?;
                s
            }
            None => sampler.sample_with_logprob(&mut logits, &history),
        };
        ids.push(s.id);
        logprobs.push(s.logprob);
        history.push(s.id);
        if ids.len() == 1 {
            stats.time_to_first_token = start.elapsed();
        } else {
            stats.decode += step_start.elapsed();
        }
        // 3. stop conditions, then stream the text
        if cfg.stop_ids.contains(&s.id) {
            break StopReason::Eos(s.id);
        }
        out.tokens.push(TokenLogprob {
            id: s.id,
            logprob: s.logprob,
            top,
        });
        let piece = decoder.push(s.id)?;
        if let Some(stop) = out.push(&piece, &cfg.stop_strings) {
            break StopReason::StopString(stop);
        }
        if out.flow == Flow::Stop {
            break StopReason::Cancelled;
        }
        if cfg.max_new_tokens.is_some_and(|n| ids.len() >= n) {
            break StopReason::MaxTokens;
        }
        if prompt_ids.len() + ids.len() >= context {
            break StopReason::ContextFull;
        }
        // 4. decode: one id through the model, reusing the KV-cache
        step_start = Instant::now();
        logits.clear();
        logits.extend_from_slice(model.forward(&[s.id])?);
    };
    if !matches!(
        stop_reason,
        StopReason::StopString(_) | StopReason::Cancelled
    ) {
        let tail = decoder.flush();
        if let Some(stop) = out.push(&tail, &cfg.stop_strings) {
            return finish(
                prompt_ids,
                ids,
                logprobs,
                out.text,
                StopReason::StopString(stop),
                stats,
            );
        }
        let rest = std::mem::take(&mut out.pending);
        out.emit(&rest);
    }
    finish(prompt_ids, ids, logprobs, out.text, stop_reason, stats)
}
// ANCHOR_END: generate

fn finish(
    prompt: &[u32],
    ids: Vec<u32>,
    logprobs: Vec<f32>,
    text: String,
    stop_reason: StopReason,
    mut stats: Stats,
) -> Result<Output> {
    stats.generated_tokens = ids.len();
    Ok(Output {
        prompt_ids: prompt.to_vec(),
        ids,
        logprobs,
        text,
        stop_reason,
        stats,
    })
}
