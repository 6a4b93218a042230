//! `POST /v1/chat/completions` and `POST /v1/completions`: one request's whole path, top-down.
//!
//! ```text
//! bytes ─parse─▶ request ─model?─▶ template + encode ─budget─▶ GenerateConfig ─queue─▶ worker
//!                                                                                     │ events
//!           JSON body (collect) or SSE frames (stream) ◀──────────────────────────────┘
//! ```
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
use crate::generate::{GenerateConfig, StopReason};
use crate::sampler::SamplerConfig;

/// A request both APIs reduce to: the prompt's ids and the knobs.
struct Prepared {
    prompt_ids: Vec<u32>,
    params: Params,
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
        Api::Chat => parse_chat(&body).map(|r| (r.model, Input::Messages(r.messages, r.params)))?,
        Api::Text => {
            parse_completion(&body).map(|r| (r.model, Input::Prompt(r.prompt, r.params)))?
        }
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
        events: tx,
        enqueued: Instant::now(),
    })?;
    // 5. the answer: SSE frames as tokens come, or one JSON body at the end
    let out = Output {
        api,
        meta,
        params: prepared.params,
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
    Messages(Vec<crate::chat::Message>, Params),
    Prompt(Prompt, Params),
}

/// Template (chat) or encode (text), then check ids and budget against the model.
fn prepare(loaded: &Loaded, input: Input) -> Result<Prepared, ApiError> {
    let tok = &loaded.model.tokenizer;
    let (prompt_ids, params) = match input {
        Input::Messages(messages, params) => {
            let ids = loaded.template.encode(tok, &messages, true).map_err(|e| {
                ApiError::bad_param(
                    "messages",
                    format!("the chat template refused these messages: {e}"),
                )
            })?;
            (ids, params)
        }
        // Special-token text in a raw prompt is honoured (as `glassbox generate` does).
        Input::Prompt(Prompt::Text(t), params) => (tok.encode_with_special(&t), params),
        Input::Prompt(Prompt::Ids(ids), params) => (ids, params),
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
    Ok(Prepared { prompt_ids, params })
}

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

/// OpenAI's `finish_reason`: `stop` (an end token or a stop string) or `length`.
fn finish_reason(stop: &StopReason) -> &'static str {
    match stop {
        StopReason::MaxTokens | StopReason::ContextFull => "length",
        _ => "stop",
    }
}

/// Turns the worker's events into the response.
struct Output {
    api: Api,
    meta: Meta,
    params: Params,
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
                    let v = wire::response(
                        self.api,
                        &self.meta,
                        &text,
                        lp,
                        finish_reason(&stop),
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
                        let reason = Some(finish_reason(&stop));
                        let c = wire::chunk(
                            self.api,
                            &self.meta,
                            None,
                            false,
                            Value::Null,
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
}
