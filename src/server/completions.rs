//! `POST /v1/chat/completions` and `POST /v1/completions`: one request's whole path, top-down.
//!
//! ```text
//! bytes ─parse─▶ request ─model?─▶ plan + template + encode ─budget─▶ GenerateConfig ─queue─▶ worker
//!                                     (tools/: schema, mask)                                │ events
//!           JSON body (collect) or SSE frames (stream) ◀────── split into content / tool calls ┘
//! ```
//!
//! Structured output and tool calls add two things to this path: [`tools::plan`] turns
//! `response_format` / `tools` into the messages the template sees and the schema the mask
//! follows (compiled here, before the queue), and under tools the reply is split back into
//! `content` or `tool_calls` ([`Splitter`]) as it streams.
//!
//! Every check that can fail because of what the client sent happens *before* the request is
//! queued, so it gets a real status code (400/404); once a stream has begun (status 200 and
//! the first frame are out), a failure can only be reported as a `data: {"error": …}` event.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::mpsc;

use super::request::{parse_chat, parse_completion, Params, Prompt};
use super::wire::{self, Api, ApiError, Meta, TokenLogprob};
use super::worker::{Event, Job, EVENT_BUFFER};
use super::{json_headers, unix_time, AppState, Loaded};
use crate::chat::{Message, ToolCall};
use crate::constrain::{compile, JsonConstraint, Vocab};
use crate::generate::{GenerateConfig, StopReason};
use crate::sampler::SamplerConfig;
use crate::tools::{self, Delta, Reply, Shape, Splitter};

/// A request both APIs reduce to: the prompt's ids, the knobs, the mask (structured output)
/// and how to split the reply (tools).
struct Prepared {
    prompt_ids: Vec<u32>,
    params: Params,
    constraint: Option<JsonConstraint>,
    shape: Option<Shape>,
}

pub async fn chat(State(s): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    respond(s, Api::Chat, body)
        .await
        .unwrap_or_else(|e| e.into_response())
}

pub async fn text(State(s): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    respond(s, Api::Text, body)
        .await
        .unwrap_or_else(|e| e.into_response())
}

/// A body the router refused (too large, not readable) as an API error.
pub fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| ApiError {
        status: e.status().as_u16(),
        ..ApiError::bad_request(format!(
            "the request body could not be read: {e} (at most {} bytes)",
            super::request::MAX_BODY_BYTES
        ))
    })
}

// ANCHOR: respond
async fn respond(
    s: Arc<AppState>,
    api: Api,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    // 1. parse and validate the JSON (pure; 400 naming the field)
    let body = body_bytes(body)?;
    let (model, input) = match api {
        Api::Chat => {
            parse_chat(&body).map(|r| (r.model, Input::Messages(r.messages, r.params, r.reply)))?
        }
        Api::Text => parse_completion(&body)
            .map(|r| (r.model, Input::Prompt(r.prompt, r.params, r.format)))?,
    };
    // 2. the model must be loaded (503) and be the one asked for (404)
    let loaded = s.loaded()?;
    if let Some(m) = model.filter(|m| *m != loaded.name) {
        return Err(ApiError::model_not_found(&m, &loaded.name));
    }
    // 3. template and tokenizer, off the async threads (a long prompt takes milliseconds)
    let state = s.clone();
    let prepared = tokio::task::spawn_blocking(move || prepare(state.loaded()?, input))
        .await
        .map_err(|e| ApiError::internal(format!("prompt preparation failed: {e}")))??;
    // 4. everything the model will be asked is valid: queue it (503 when full)
    let cfg = generate_config(&prepared.params, loaded);
    let (tx, rx) = mpsc::channel(EVENT_BUFFER);
    let meta = Meta {
        id: s.new_id(if api == Api::Chat { "chatcmpl" } else { "cmpl" }),
        created: unix_time(),
        model: loaded.name.clone(),
    };
    loaded.queue.submit(Job {
        prompt_ids: prepared.prompt_ids,
        cfg,
        constraint: prepared.constraint,
        events: tx,
        enqueued: Instant::now(),
    })?;
    // 5. the answer: SSE frames as tokens come, or one JSON body at the end
    let out = Output {
        api,
        meta,
        params: prepared.params,
        shape: prepared.shape,
        state: s.clone(),
    };
    if out.params.stream {
        Ok(out.stream(rx, s.opts.keepalive))
    } else {
        out.collect(rx).await
    }
}
// ANCHOR_END: respond

enum Input {
    Messages(Vec<Message>, Params, Reply),
    /// A completion prompt and `response_format`'s schema.
    Prompt(Prompt, Params, Option<Value>),
}

/// Template (chat) or encode (text), compile the mask's schema, then check ids and budget
/// against the model.
fn prepare(loaded: &Loaded, input: Input) -> Result<Prepared, ApiError> {
    let tok = &loaded.model.tokenizer;
    let (prompt_ids, params, schema, shape) = match input {
        Input::Messages(messages, params, reply) => {
            let plan = tools::plan(&reply, &messages, loaded.template.reads_tools());
            let ids = loaded
                .template
                .encode_with_tools(tok, &plan.messages, plan.tools.as_ref(), true)
                .map_err(|e| {
                    ApiError::bad_param(
                        "messages",
                        format!("the chat template refused these messages: {e}"),
                    )
                })?;
            (ids, params, plan.schema, plan.shape)
        }
        // Special-token text in a raw prompt is honoured (as `glassbox generate` does), and BOS
        // goes first when the model's file says so.
        Input::Prompt(Prompt::Text(t), params, format) => {
            (tok.encode_prompt(&t), params, format, None)
        }
        Input::Prompt(Prompt::Ids(ids), params, format) => (ids, params, format, None),
    };
    let vocab = tok.vocab_size();
    if let Some(&bad) = prompt_ids.iter().find(|&&id| id as usize >= vocab) {
        return Err(ApiError::bad_param(
            "prompt",
            format!("token id {bad} is outside the vocabulary (0..{vocab})"),
        ));
    }
    if let Some(&(bad, _)) = params
        .logit_bias
        .iter()
        .find(|(id, _)| *id as usize >= vocab)
    {
        return Err(ApiError::bad_param(
            "logit_bias",
            format!("token id {bad} is outside the vocabulary (0..{vocab})"),
        ));
    }
    let (n, ctx) = (prompt_ids.len(), loaded.ctx);
    if n == 0 {
        return Err(ApiError::bad_param(
            "prompt",
            "the prompt is empty: nothing to continue from",
        ));
    }
    if n >= ctx {
        return Err(ApiError::context_exceeded(format!(
            "the prompt has {n} tokens but the context holds {ctx}: at most {} prompt tokens fit (with one token of answer)",
            ctx - 1
        )));
    }
    if let Some(m) = params.max_tokens.filter(|&m| n + m > ctx) {
        return Err(ApiError::context_exceeded(format!(
            "the prompt has {n} tokens and max_tokens asks for {m}, but the context holds {ctx}: \
             ask for at most {} tokens, or send a shorter prompt",
            ctx - n
        )));
    }
    let constraint = match schema {
        None => None,
        Some(schema) => Some(constraint(loaded, &schema, shape.is_some())?),
    };
    Ok(Prepared {
        prompt_ids,
        params,
        constraint,
        shape,
    })
}

// ANCHOR: constraint
/// The mask for `schema`. Each part was compiled alone when the request was parsed (so a bad
/// schema was already a 400 naming its field); the whole is compiled here. The vocabulary's
/// tries are built once per model, by the first request that needs them.
fn constraint(loaded: &Loaded, schema: &Value, tools: bool) -> Result<JsonConstraint, ApiError> {
    let grammar = compile(schema).map_err(|e| {
        let field = if tools { "tools" } else { "response_format" };
        ApiError::bad_param(field, format!("`{field}`: {e}"))
    })?;
    let vocab = loaded
        .vocab
        .get_or_init(|| Arc::new(Vocab::new(&loaded.model.tokenizer, &loaded.stop_ids)))
        .clone();
    Ok(JsonConstraint::new(Arc::new(grammar), vocab))
}
// ANCHOR_END: constraint

// ANCHOR: config
/// The one place where a request's knobs become the loop's config (constrained decoding will
/// add its mask here).
fn generate_config(p: &Params, loaded: &Loaded) -> GenerateConfig {
    GenerateConfig {
        max_new_tokens: p.max_tokens,
        stop_ids: loaded.stop_ids.clone(),
        stop_strings: p.stop.clone(),
        top_logprobs: if p.logprobs { p.top_logprobs } else { 0 },
        sampler: SamplerConfig {
            temperature: p.temperature,
            top_k: p.top_k,
            top_p: p.top_p,
            min_p: p.min_p,
            repeat_penalty: p.repeat_penalty,
            frequency_penalty: p.frequency_penalty,
            presence_penalty: p.presence_penalty,
            logit_bias: p.logit_bias.clone(),
            seed: p.seed.unwrap_or_else(fresh_seed),
        },
    }
}
// ANCHOR_END: config

/// A seed for a request that gave none: the clock's nanoseconds.
fn fresh_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// OpenAI's `finish_reason`: `length` (cut short), `tool_calls` (the answer is a call), or
/// `stop` (an end token or a stop string).
fn finish_reason(stop: &StopReason, called: bool) -> &'static str {
    match stop {
        StopReason::MaxTokens | StopReason::ContextFull => "length",
        _ if called => "tool_calls",
        _ => "stop",
    }
}

/// Turns the worker's events into the response.
struct Output {
    api: Api,
    meta: Meta,
    params: Params,
    /// Under tools: how the reply splits into content and calls.
    shape: Option<Shape>,
    state: Arc<AppState>,
}

impl Output {
    /// `logprobs` of these tokens, `null` unless asked for. `offset`: bytes of text before
    /// them (the completions API reports token offsets).
    fn logprobs(&self, tokens: &[TokenLogprob], offset: usize) -> Value {
        if !self.params.logprobs {
            return Value::Null;
        }
        let Ok(loaded) = self.state.loaded() else {
            return Value::Null;
        };
        let tok = &loaded.model.tokenizer;
        match self.api {
            Api::Chat => wire::chat_logprobs(tok, tokens),
            Api::Text => wire::text_logprobs(tok, tokens, offset),
        }
    }

    /// Non-streamed: wait for every event, answer once (errors keep their status code).
    async fn collect(self, mut rx: mpsc::Receiver<Event>) -> Result<Response, ApiError> {
        let (mut text, mut tokens) = (String::new(), Vec::new());
        loop {
            match rx.recv().await {
                Some(Event::Started { .. }) => {}
                Some(Event::Piece {
                    text: t,
                    tokens: ts,
                }) => {
                    text.push_str(&t);
                    tokens.extend(ts);
                }
                Some(Event::Done { stop, usage, .. }) => {
                    let lp = self.logprobs(&tokens, 0);
                    let (content, calls) = match self.shape {
                        Some(shape) => Splitter::split(shape, &text),
                        None => (text, Vec::new()),
                    };
                    let calls: Vec<ToolCall> = calls
                        .into_iter()
                        .map(|(name, arguments)| ToolCall {
                            id: self.state.new_call_id(),
                            name,
                            arguments,
                        })
                        .collect();
                    let v = wire::response(
                        self.api,
                        &self.meta,
                        &content,
                        &calls,
                        lp,
                        finish_reason(&stop, !calls.is_empty()),
                        &usage,
                    );
                    return Ok((json_headers(), v.to_string()).into_response());
                }
                Some(Event::Failed(e)) => return Err(e),
                None => return Err(ApiError::internal("the worker dropped the request")),
            }
        }
    }

    // ANCHOR: stream
    /// Streamed: an SSE body fed by a task that turns events into frames. While the request
    /// waits in the queue, a keep-alive comment every `keepalive`.
    fn stream(self, mut rx: mpsc::Receiver<Event>, keepalive: Duration) -> Response {
        let (tx, body_rx) = mpsc::channel::<Bytes>(EVENT_BUFFER);
        tokio::spawn(async move {
            let (mut started, mut offset) = (false, 0usize);
            let usage_null = self.params.include_usage;
            // under tools: the splitter, the calls begun, tokens whose text made no delta yet
            let mut splitter = self.shape.map(Splitter::new);
            let (mut calls, mut held) = (0usize, Vec::<TokenLogprob>::new());
            loop {
                let event = if started {
                    rx.recv().await
                } else {
                    tokio::select! {
                        e = rx.recv() => e,
                        _ = tokio::time::sleep(keepalive) => {
                            if tx.send(Bytes::from_static(wire::KEEPALIVE_FRAME)).await.is_err() {
                                return; // the client left: dropping `rx` cancels the request
                            }
                            continue;
                        }
                    }
                };
                // (frames to send, whether the stream ends after them)
                let (frames, end): (Vec<Vec<u8>>, bool) = match event {
                    Some(Event::Started { .. }) if self.api == Api::Text => {
                        started = true; // the completions API has no role chunk
                        continue;
                    }
                    Some(Event::Started { .. }) => {
                        started = true;
                        let c = wire::chunk(
                            self.api,
                            &self.meta,
                            Some(""),
                            true,
                            Value::Null,
                            None,
                            usage_null,
                        );
                        (vec![wire::data_frame(&c)], false)
                    }
                    Some(Event::Piece { text, tokens }) if splitter.is_some() => {
                        started = true;
                        held.extend(tokens);
                        let deltas = splitter.as_mut().map_or(Vec::new(), |s| s.push(&text));
                        let mut frames = Vec::with_capacity(deltas.len());
                        for d in deltas {
                            let lp = self.logprobs(&std::mem::take(&mut held), 0);
                            frames.push(wire::data_frame(&self.delta_chunk(d, &mut calls, lp)));
                        }
                        (frames, false)
                    }
                    Some(Event::Piece { text, tokens }) => {
                        started = true;
                        let lp = self.logprobs(&tokens, offset);
                        offset += text.len();
                        let c = wire::chunk(
                            self.api,
                            &self.meta,
                            Some(&text),
                            false,
                            lp,
                            None,
                            usage_null,
                        );
                        (vec![wire::data_frame(&c)], false)
                    }
                    Some(Event::Done { stop, usage, .. }) => {
                        let reason = Some(finish_reason(&stop, calls > 0));
                        let c = wire::chunk(
                            self.api,
                            &self.meta,
                            None,
                            false,
                            self.logprobs(&std::mem::take(&mut held), offset),
                            reason,
                            usage_null,
                        );
                        let mut f = vec![wire::data_frame(&c)];
                        if self.params.include_usage {
                            f.push(wire::data_frame(&wire::usage_chunk(
                                self.api, &self.meta, &usage,
                            )));
                        }
                        f.push(wire::DONE_FRAME.to_vec());
                        (f, true)
                    }
                    Some(Event::Failed(e)) => (vec![wire::data_frame(&e.body())], true),
                    None => {
                        let e = ApiError::internal("the worker dropped the request");
                        (vec![wire::data_frame(&e.body())], true)
                    }
                };
                for f in frames {
                    if tx.send(Bytes::from(f)).await.is_err() {
                        return;
                    }
                }
                if end {
                    return;
                }
            }
        });
        let body = futures_util::stream::unfold(body_rx, |mut rx| async move {
            rx.recv()
                .await
                .map(|b| (Ok::<Bytes, std::convert::Infallible>(b), rx))
        });
        (
            [
                (header::CONTENT_TYPE, "text/event-stream"),
                (header::CACHE_CONTROL, "no-cache"),
                (header::HeaderName::from_static("x-accel-buffering"), "no"),
            ],
            Body::from_stream(body),
        )
            .into_response()
    }
    // ANCHOR_END: stream

    // ANCHOR: delta_chunk
    /// One delta of a reply under tools as a chunk: content, a call's start (a fresh `call_…`
    /// id and the name), or a fragment of its arguments. `calls`: the calls begun so far.
    fn delta_chunk(&self, d: Delta, calls: &mut usize, logprobs: Value) -> Value {
        let usage = self.params.include_usage;
        match d {
            Delta::Content(t) => {
                wire::chunk(self.api, &self.meta, Some(&t), false, logprobs, None, usage)
            }
            Delta::Call(name) => {
                *calls += 1;
                let id = self.state.new_call_id();
                let start = Some((id.as_str(), name.as_str()));
                wire::tool_call_chunk(&self.meta, *calls - 1, start, "", logprobs, usage)
            }
            Delta::Arguments(a) => {
                let index = calls.saturating_sub(1);
                wire::tool_call_chunk(&self.meta, index, None, &a, logprobs, usage)
            }
        }
    }
    // ANCHOR_END: delta_chunk
}
