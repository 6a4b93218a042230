//! Request bodies → typed requests: pure functions `&[u8] → Result<Request, ApiError>`.
//!
//! Nothing here touches the model, the network or a clock, so a fuzzer (and the unit tests at
//! the bottom) can call every parser on any bytes. The rules, in the order they are checked:
//!
//! 1. at most [`MAX_BODY_BYTES`] bytes (the router refuses larger bodies before this), JSON
//!    nested at most [`MAX_JSON_DEPTH`] deep (checked by a byte scan before parsing);
//! 2. a JSON object; unknown fields are ignored (clients send many), `null` means "not given";
//! 3. a known field of the wrong type or out of range is a 400 that names the field
//!    (`param`), e.g. ``"`temperature` must be a number between 0 and 2, got "hot""``;
//! 4. fields this server does not implement (`n` ≠ 1, `echo`, `suffix`, `best_of` > 1, the
//!    legacy `functions`, `tools` on the completions API) are a 400 naming them, never
//!    silently ignored;
//! 5. `response_format`, `tools` and `tool_choice` (structured output, tool calls) are read by
//!    `structured.rs`: a schema the mask cannot follow is a 400 naming where and why.

use serde_json::Value;

use super::json::{object, type_name, Fields};
use super::structured;
use super::wire::ApiError;
use crate::chat::Message;
use crate::tools::Reply;

pub use super::json::check_depth;

/// Largest request body accepted (larger: 413 before parsing).
pub const MAX_BODY_BYTES: usize = 2 << 20;
/// Deepest nesting of JSON arrays and objects accepted.
pub const MAX_JSON_DEPTH: usize = 32;
/// Most messages in one chat request.
pub const MAX_MESSAGES: usize = 1024;
/// Most stop strings (OpenAI's limit).
pub const MAX_STOP: usize = 4;
/// Most `logit_bias` entries.
pub const MAX_LOGIT_BIAS: usize = 1024;
/// Most alternatives per token in `top_logprobs` (OpenAI's limit).
pub const MAX_TOP_LOGPROBS: usize = 20;

/// The generation knobs both APIs share, validated. Defaults are OpenAI's.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// `max_completion_tokens`, else `max_tokens`; `None`: until an end token or the context
    /// is full.
    pub max_tokens: Option<usize>,
    pub temperature: f32,
    pub top_p: f32,
    /// llama.cpp's extras: `top_k` (0 = off), `min_p` (0 = off), `repeat_penalty` (1 = off).
    pub top_k: usize,
    pub min_p: f32,
    pub repeat_penalty: f32,
    pub frequency_penalty: f32,
    pub presence_penalty: f32,
    /// `None`: a fresh seed per request.
    pub seed: Option<u64>,
    pub stop: Vec<String>,
    /// `(token id, bias added to its logit)`, bias in [-100, 100].
    pub logit_bias: Vec<(u32, f32)>,
    /// Report each token's log-probability.
    pub logprobs: bool,
    /// And this many alternatives per token (0–20).
    pub top_logprobs: usize,
    pub stream: bool,
    /// `stream_options.include_usage`: a last chunk with the token counts.
    pub include_usage: bool,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            max_tokens: None,
            temperature: 1.0,
            top_p: 1.0,
            top_k: 0,
            min_p: 0.0,
            repeat_penalty: 1.0,
            frequency_penalty: 0.0,
            presence_penalty: 0.0,
            seed: None,
            stop: Vec::new(),
            logit_bias: Vec::new(),
            logprobs: false,
            top_logprobs: 0,
            stream: false,
            include_usage: false,
        }
    }
}

/// `POST /v1/chat/completions`.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatRequest {
    pub model: Option<String>,
    pub messages: Vec<Message>,
    pub params: Params,
    /// `response_format`, `tools`, `tool_choice`.
    pub reply: Reply,
}

/// A completion prompt: text, or token ids as OpenAI also allows.
#[derive(Clone, Debug, PartialEq)]
pub enum Prompt {
    Text(String),
    Ids(Vec<u32>),
}

/// `POST /v1/completions`.
#[derive(Clone, Debug, PartialEq)]
pub struct CompletionRequest {
    pub model: Option<String>,
    pub prompt: Prompt,
    pub params: Params,
    /// `response_format`'s schema (llama.cpp honours it here too); `None`: free text.
    pub format: Option<Value>,
}

/// `POST /tokenize` (llama.cpp's shape).
#[derive(Clone, Debug, PartialEq)]
pub struct TokenizeRequest {
    pub content: String,
    /// Add the model's BOS token in front, if it has one.
    pub add_special: bool,
    /// Answer `[{"id", "piece"}]` instead of bare ids.
    pub with_pieces: bool,
}

// ANCHOR: params
/// The shared knobs. `chat`: `logprobs` is a boolean with `top_logprobs` beside it (chat API);
/// otherwise `logprobs` is the number of alternatives (completions API).
fn params(f: &Fields, chat: bool) -> Result<Params, ApiError> {
    let d = Params::default();
    let max_tokens = match f.uint("max_completion_tokens", u32::MAX as u64)? {
        Some(n) => Some(n),
        None => f.uint("max_tokens", u32::MAX as u64)?,
    };
    if max_tokens == Some(0) {
        return Err(ApiError::bad_param(
            "max_tokens",
            "`max_tokens` must be at least 1",
        ));
    }
    if let Some(n) = f.uint("n", u32::MAX as u64)? {
        if n != 1 {
            return Err(ApiError::bad_param(
                "n",
                format!("`n` must be 1: this server generates one choice per request, got {n}"),
            ));
        }
    }
    let seed = match f.get("seed") {
        None => None,
        Some(v) => match (v.as_u64(), v.as_i64()) {
            (Some(u), _) => Some(u),
            (None, Some(i)) => Some(i as u64), // negative seeds: their two's complement
            _ => return Err(Fields::wrong("seed", "an integer", v)),
        },
    };
    let stop = match f.get("stop") {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .map(|s| {
                s.as_str()
                    .map(String::from)
                    .ok_or_else(|| Fields::wrong("stop", "a string or a list of strings", s))
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(v) => return Err(Fields::wrong("stop", "a string or a list of strings", v)),
    };
    if stop.len() > MAX_STOP {
        return Err(ApiError::bad_param(
            "stop",
            format!(
                "`stop` may hold at most {MAX_STOP} strings, got {}",
                stop.len()
            ),
        ));
    }
    if stop.iter().any(|s| s.is_empty()) {
        return Err(ApiError::bad_param(
            "stop",
            "`stop` strings must not be empty",
        ));
    }
    let logit_bias = match f.get("logit_bias") {
        None => Vec::new(),
        Some(Value::Object(m)) => {
            if m.len() > MAX_LOGIT_BIAS {
                return Err(ApiError::bad_param(
                    "logit_bias",
                    format!("`logit_bias` may hold at most {MAX_LOGIT_BIAS} entries"),
                ));
            }
            let mut out = Vec::with_capacity(m.len());
            for (k, v) in m {
                let id: u32 = k.parse().map_err(|_| {
                    ApiError::bad_param(
                        "logit_bias",
                        format!("`logit_bias` keys must be token ids, got \"{k}\""),
                    )
                })?;
                match v.as_f64() {
                    Some(b) if (-100.0..=100.0).contains(&b) => out.push((id, b as f32)),
                    _ => {
                        return Err(ApiError::bad_param(
                            "logit_bias",
                            format!(
                            "`logit_bias[\"{k}\"]` must be a number between -100 and 100, got {v}"
                        ),
                        ))
                    }
                }
            }
            out
        }
        Some(v) => {
            return Err(Fields::wrong(
                "logit_bias",
                "an object of token id → bias",
                v,
            ))
        }
    };
    let (logprobs, top_logprobs) = if chat {
        let on = f.boolean("logprobs")?;
        let top = f.uint("top_logprobs", MAX_TOP_LOGPROBS as u64)?;
        if top.is_some_and(|k| k > 0) && !on {
            return Err(ApiError::bad_param(
                "top_logprobs",
                "`top_logprobs` needs `logprobs: true`",
            ));
        }
        (on, top.unwrap_or(0) as usize)
    } else {
        let k = f.uint("logprobs", MAX_TOP_LOGPROBS as u64)?;
        (k.is_some(), k.unwrap_or(0) as usize)
    };
    let repeat_penalty = f.num("repeat_penalty", d.repeat_penalty, 0.0, 10.0)?;
    if repeat_penalty == 0.0 {
        return Err(ApiError::bad_param(
            "repeat_penalty",
            "`repeat_penalty` must be above 0 (1 = off)",
        ));
    }
    let stream = f.boolean("stream")?;
    let include_usage = match f.get("stream_options") {
        None => false,
        Some(Value::Object(o)) => Fields(o).boolean("include_usage").map_err(|e| ApiError {
            param: Some("stream_options.include_usage".into()),
            ..e
        })?,
        Some(v) => return Err(Fields::wrong("stream_options", "an object", v)),
    };
    Ok(Params {
        max_tokens: max_tokens.map(|n| n as usize),
        temperature: f.num("temperature", d.temperature, 0.0, 2.0)?,
        top_p: f.num("top_p", d.top_p, 0.0, 1.0)?.max(f32::MIN_POSITIVE),
        top_k: f.uint("top_k", u32::MAX as u64)?.unwrap_or(0) as usize,
        min_p: f.num("min_p", d.min_p, 0.0, 1.0)?,
        repeat_penalty,
        frequency_penalty: f.num("frequency_penalty", 0.0, -2.0, 2.0)?,
        presence_penalty: f.num("presence_penalty", 0.0, -2.0, 2.0)?,
        seed,
        stop,
        logit_bias,
        logprobs,
        top_logprobs,
        stream,
        include_usage,
    })
}
// ANCHOR_END: params

/// Fields whose meaning this server does not implement: a 400 naming them. `chat`: the
/// chat API (which has `tools`); the completions API has none.
fn reject_unsupported(f: &Fields, chat: bool) -> Result<(), ApiError> {
    let unsupported = |name: &str, what: &str| {
        Err(ApiError::bad_param(
            name,
            format!("`{name}` is not supported by this server ({what})"),
        ))
    };
    if f.get("functions").is_some() {
        return unsupported("functions", "the legacy form of `tools`: send `tools`");
    }
    if !chat {
        for name in ["tools", "tool_choice"] {
            if f.get(name).is_some() {
                return unsupported(name, "tool calls need the chat API, /v1/chat/completions");
            }
        }
    }
    if f.boolean("echo")? {
        return unsupported("echo", "the prompt is not repeated in the answer");
    }
    if f.get("suffix").is_some() {
        return unsupported("suffix", "fill-in-the-middle");
    }
    if f.uint("best_of", u32::MAX as u64)?.is_some_and(|n| n > 1) {
        return unsupported("best_of", "one choice per request");
    }
    Ok(())
}

/// One message: `role` (system, developer → system, user, assistant, tool) and `content`
/// (a string, or a list of `{"type": "text", "text": …}` parts joined by newlines).
fn message(i: usize, v: &Value) -> Result<Message, ApiError> {
    let at = |field: &str| format!("messages[{i}].{field}");
    let Value::Object(m) = v else {
        return Err(ApiError::bad_param(
            &format!("messages[{i}]"),
            format!("`messages[{i}]` must be an object, got {}", type_name(v)),
        ));
    };
    let f = Fields(m);
    let role = match f.get("role") {
        Some(Value::String(r)) => r.as_str(),
        Some(v) => {
            return Err(ApiError::bad_param(
                &at("role"),
                format!("`{}` must be a string, got {}", at("role"), type_name(v)),
            ))
        }
        None => {
            return Err(ApiError::bad_param(
                &at("role"),
                format!("`{}` is missing", at("role")),
            ))
        }
    };
    let role = match role {
        "system" | "user" | "assistant" | "tool" => role,
        "developer" => "system",
        other => {
            return Err(ApiError::bad_param(
                &at("role"),
                format!(
                    "`{}` must be system, developer, user, assistant or tool, got \"{other}\"",
                    at("role")
                ),
            ))
        }
    };
    let content = match f.get("content") {
        None if role == "assistant" => String::new(), // an assistant turn that only called tools
        None => {
            return Err(ApiError::bad_param(
                &at("content"),
                format!("`{}` is missing", at("content")),
            ))
        }
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => {
            let mut texts = Vec::with_capacity(parts.len());
            for (j, p) in parts.iter().enumerate() {
                let kind = p.get("type").and_then(Value::as_str).unwrap_or("");
                match (kind, p.get("text").and_then(Value::as_str)) {
                    ("text", Some(t)) => texts.push(t),
                    _ => return Err(ApiError::bad_param(&at("content"), format!("`{}[{j}]` must be {{\"type\": \"text\", \"text\": \"…\"}}: this model reads text only, got {p}", at("content")))),
                }
            }
            texts.join("\n")
        }
        Some(v) => {
            return Err(ApiError::bad_param(
                &at("content"),
                format!(
                    "`{}` must be a string or a list of text parts, got {}",
                    at("content"),
                    type_name(v)
                ),
            ))
        }
    };
    let mut msg = Message::new(role, &content);
    if role == "assistant" {
        if let Some(calls) = f.get("tool_calls") {
            msg.tool_calls = structured::tool_calls(i, calls)?;
        }
    }
    if role == "tool" {
        msg.tool_call_id = f.string("tool_call_id").map_err(|e| ApiError {
            param: Some(at("tool_call_id")),
            ..e
        })?;
    }
    Ok(msg)
}

fn model_field(f: &Fields) -> Result<Option<String>, ApiError> {
    Ok(f.string("model")?.filter(|m| !m.is_empty()))
}

// ANCHOR: parse_chat
/// `POST /v1/chat/completions` body → request.
pub fn parse_chat(body: &[u8]) -> Result<ChatRequest, ApiError> {
    let obj = object(body)?;
    let f = Fields(&obj);
    reject_unsupported(&f, true)?;
    let messages = match f.get("messages") {
        Some(Value::Array(a)) if a.is_empty() => {
            return Err(ApiError::bad_param(
                "messages",
                "`messages` must hold at least one message",
            ))
        }
        Some(Value::Array(a)) if a.len() > MAX_MESSAGES => {
            return Err(ApiError::bad_param(
                "messages",
                format!(
                    "`messages` may hold at most {MAX_MESSAGES} messages, got {}",
                    a.len()
                ),
            ))
        }
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, m)| message(i, m))
            .collect::<Result<Vec<_>, _>>()?,
        Some(v) => return Err(Fields::wrong("messages", "a list of messages", v)),
        None => return Err(ApiError::bad_param("messages", "`messages` is missing")),
    };
    Ok(ChatRequest {
        model: model_field(&f)?,
        messages,
        params: params(&f, true)?,
        reply: structured::reply(&f)?,
    })
}
// ANCHOR_END: parse_chat

/// `POST /v1/completions` body → request. `prompt` is a string, a list of one string, or a
/// list of token ids.
pub fn parse_completion(body: &[u8]) -> Result<CompletionRequest, ApiError> {
    let obj = object(body)?;
    let f = Fields(&obj);
    reject_unsupported(&f, false)?;
    let want = "a string, a list of one string, or a list of token ids";
    let prompt = match f.get("prompt") {
        Some(Value::String(s)) => Prompt::Text(s.clone()),
        Some(Value::Array(a)) if a.len() == 1 && a[0].is_string() => {
            Prompt::Text(a[0].as_str().unwrap_or("").to_string())
        }
        Some(Value::Array(a)) if !a.is_empty() && a.iter().all(Value::is_u64) => {
            Prompt::Ids(ids(a, "prompt")?)
        }
        Some(v) => return Err(Fields::wrong("prompt", want, v)),
        None => return Err(ApiError::bad_param("prompt", "`prompt` is missing")),
    };
    Ok(CompletionRequest {
        model: model_field(&f)?,
        prompt,
        params: params(&f, false)?,
        format: structured::response_format(&f)?,
    })
}

/// A JSON list of token ids.
fn ids(a: &[Value], name: &str) -> Result<Vec<u32>, ApiError> {
    a.iter()
        .map(|v| {
            v.as_u64()
                .filter(|&x| x <= u32::MAX as u64)
                .map(|x| x as u32)
                .ok_or_else(|| Fields::wrong(name, "a list of token ids", v))
        })
        .collect()
}

/// `POST /tokenize` body: `{"content": "…", "add_special": false, "with_pieces": false}`.
pub fn parse_tokenize(body: &[u8]) -> Result<TokenizeRequest, ApiError> {
    let obj = object(body)?;
    let f = Fields(&obj);
    let content = f
        .string("content")?
        .ok_or_else(|| ApiError::bad_param("content", "`content` is missing"))?;
    Ok(TokenizeRequest {
        content,
        add_special: f.boolean("add_special")?,
        with_pieces: f.boolean("with_pieces")?,
    })
}

/// `POST /detokenize` body: `{"tokens": [ids]}`.
pub fn parse_detokenize(body: &[u8]) -> Result<Vec<u32>, ApiError> {
    let obj = object(body)?;
    match Fields(&obj).get("tokens") {
        Some(Value::Array(a)) => ids(a, "tokens"),
        Some(v) => Err(Fields::wrong("tokens", "a list of token ids", v)),
        None => Err(ApiError::bad_param("tokens", "`tokens` is missing")),
    }
}
