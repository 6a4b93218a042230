//! The wire format: every byte the server writes that a client parses, in one place.
//!
//! ```text
//! error body   {"error":{"message":"…","type":"invalid_request_error","param":"temperature","code":null}}
//! SSE frame    data: {"id":"chatcmpl-…","object":"chat.completion.chunk",…}\n\n
//! keep-alive   : keep-alive\n\n                 (a comment line: clients skip it)
//! end          data: [DONE]\n\n
//! ```
//!
//! Server-Sent Events (WHATWG HTML §9.2): an event is lines of `field: value` ended by a blank
//! line; a line starting with `:` is a comment. JSON never contains a raw newline (serde_json
//! escapes it as `\n`), so each event is exactly one `data:` line and one blank line. The
//! shapes follow OpenAI's chat-completions and completions APIs: the official `openai` Python
//! client parses them (tests/python/) and `tests/server_wire.rs` reads them byte by byte.

use serde_json::{json, Map, Value};

use crate::chat::ToolCall;
pub use crate::generate::TokenLogprob;
use crate::tokenizer::Tokenizer;

// ANCHOR: frames
/// One SSE event carrying `value` as JSON: `data: {json}\n\n`.
pub fn data_frame(value: &Value) -> Vec<u8> {
    let mut out = b"data: ".to_vec();
    // serde_json escapes control characters, so the JSON is one line: the frame cannot be split.
    out.extend_from_slice(value.to_string().as_bytes());
    out.extend_from_slice(b"\n\n");
    out
}

/// The last event of a successful stream.
pub const DONE_FRAME: &[u8] = b"data: [DONE]\n\n";

/// A comment line, sent while a request waits in the queue, so that proxies and clients see
/// the connection is alive.
pub const KEEPALIVE_FRAME: &[u8] = b": keep-alive\n\n";
// ANCHOR_END: frames

// ANCHOR: error
/// An error as the API reports it: an HTTP status and OpenAI's error object.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub status: u16,
    /// OpenAI's `type`: `invalid_request_error`, `authentication_error`, …
    pub kind: &'static str,
    pub message: String,
    /// The request field at fault, if one is.
    pub param: Option<String>,
    pub code: Option<&'static str>,
    /// Seconds to send as `Retry-After` (503 only).
    pub retry_after: Option<u32>,
}

impl ApiError {
    fn new(status: u16, kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            kind,
            message: message.into(),
            param: None,
            code: None,
            retry_after: None,
        }
    }
    /// 400: the request is malformed or asks for something impossible.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "invalid_request_error", message)
    }
    /// 400 naming the field at fault.
    pub fn bad_param(param: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            param: Some(param.to_string()),
            ..ApiError::bad_request(message)
        }
    }
    /// 400: the prompt (plus the tokens asked for) does not fit the context window.
    pub fn context_exceeded(message: impl Into<String>) -> ApiError {
        ApiError {
            code: Some("context_length_exceeded"),
            param: Some("messages".into()),
            ..ApiError::bad_request(message)
        }
    }
    /// 401: no or a wrong `Authorization: Bearer` key.
    pub fn unauthorized() -> ApiError {
        ApiError {
            code: Some("invalid_api_key"),
            ..ApiError::new(
                401,
                "authentication_error",
                "missing or wrong API key: send the header `Authorization: Bearer <key>` with \
                 the key given to `glassbox serve --api-key` (or GLASSBOX_API_KEY)",
            )
        }
    }
    /// 404: a path this server does not serve.
    pub fn unknown_route(method: &str, path: &str) -> ApiError {
        ApiError {
            code: Some("unknown_url"),
            ..ApiError::new(
                404,
                "not_found_error",
                format!(
                    "no route for {method} {path}: this server serves POST /v1/chat/completions, \
                     POST /v1/completions, GET /v1/models, GET /health, POST /tokenize, \
                     POST /detokenize and the page at GET /"
                ),
            )
        }
    }
    /// 404: a `model` this server does not have.
    pub fn model_not_found(asked: &str, served: &str) -> ApiError {
        ApiError {
            code: Some("model_not_found"),
            param: Some("model".into()),
            ..ApiError::new(
                404,
                "not_found_error",
                format!("the model `{asked}` does not exist: this server serves `{served}` (see GET /v1/models)"),
            )
        }
    }
    /// 503 with `Retry-After`: the queue is full, or the model is still loading.
    pub fn unavailable(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code: Some(code),
            retry_after: Some(1),
            ..ApiError::new(503, "unavailable_error", message)
        }
    }
    /// 500: a failure of the server itself (never caused by what the client sent).
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, "server_error", message)
    }

    /// `{"error":{"message","type","param","code"}}`
    pub fn body(&self) -> Value {
        json!({"error": {
            "message": self.message,
            "type": self.kind,
            "param": self.param,
            "code": self.code,
        }})
    }
}
// ANCHOR_END: error

/// `id`, `created` and `model`: the same on every chunk of one response.
#[derive(Clone, Debug)]
pub struct Meta {
    pub id: String,
    pub created: u64,
    pub model: String,
}

/// Token counts of one request.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Usage {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    /// Prompt tokens whose KV-cache rows were reused from the previous request.
    pub cached_tokens: usize,
}

pub fn usage_json(u: &Usage) -> Value {
    json!({
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.prompt_tokens + u.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cached_tokens},
    })
}

/// A token's text (lossy if it holds part of a UTF-8 character) and its exact bytes.
fn token_text(tok: &Tokenizer, id: u32) -> (String, Vec<u8>) {
    let bytes = tok.token_bytes(id).unwrap_or(&[]).to_vec();
    (String::from_utf8_lossy(&bytes).into_owned(), bytes)
}

/// Chat `logprobs`: `{"content":[{"token","logprob","bytes","top_logprobs":[…]}]}`.
pub fn chat_logprobs(tok: &Tokenizer, tokens: &[TokenLogprob]) -> Value {
    let entry = |id: u32, lp: f32| {
        let (text, bytes) = token_text(tok, id);
        let mut m = Map::new();
        m.insert("token".into(), text.into());
        m.insert("logprob".into(), json!(lp));
        m.insert("bytes".into(), json!(bytes));
        m
    };
    let content: Vec<Value> = tokens
        .iter()
        .map(|t| {
            let mut m = entry(t.id, t.logprob);
            let top: Vec<Value> = t.top.iter().map(|&(i, lp)| entry(i, lp).into()).collect();
            m.insert("top_logprobs".into(), top.into());
            m.into()
        })
        .collect();
    json!({ "content": content, "refusal": null })
}

/// Completions `logprobs` (the legacy shape): parallel lists, `text_offset` in bytes of the
/// completion text (`start` is where these tokens begin).
pub fn text_logprobs(tok: &Tokenizer, tokens: &[TokenLogprob], start: usize) -> Value {
    let mut offset = start;
    let (mut texts, mut lps, mut tops, mut offsets) = (vec![], vec![], vec![], vec![]);
    for t in tokens {
        let (text, _) = token_text(tok, t.id);
        offsets.push(offset);
        offset += text.len();
        texts.push(text);
        lps.push(t.logprob);
        let top: Map<String, Value> = t
            .top
            .iter()
            .map(|&(i, lp)| (token_text(tok, i).0, json!(lp)))
            .collect();
        tops.push(Value::Object(top));
    }
    json!({"tokens": texts, "token_logprobs": lps, "top_logprobs": tops, "text_offset": offsets})
}

/// Which of the two APIs a response is for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Api {
    /// `/v1/chat/completions`: `message` / `delta` objects.
    Chat,
    /// `/v1/completions`: a `text` per choice.
    Text,
}

// ANCHOR: chunk
/// One streamed chunk with one choice. Chat: `delta` is `{"role":…}`, `{"content":…}` or `{}`;
/// text: `text` is the piece. `usage: null` is present when the client asked for usage.
pub fn chunk(
    api: Api,
    meta: &Meta,
    piece: Option<&str>,
    first: bool,
    logprobs: Value,
    finish_reason: Option<&str>,
    with_usage: bool,
) -> Value {
    let mut choice = Map::new();
    choice.insert("index".into(), json!(0));
    match api {
        Api::Chat => {
            let mut delta = Map::new();
            if first {
                delta.insert("role".into(), json!("assistant"));
            }
            if let Some(p) = piece {
                delta.insert("content".into(), json!(p));
            }
            choice.insert("delta".into(), delta.into());
        }
        Api::Text => {
            choice.insert("text".into(), json!(piece.unwrap_or("")));
        }
    }
    choice.insert("logprobs".into(), logprobs);
    choice.insert("finish_reason".into(), json!(finish_reason));
    let mut m = envelope(api, meta, true);
    m.insert("choices".into(), json!([choice]));
    if with_usage {
        m.insert("usage".into(), Value::Null);
    }
    m.into()
}

// ANCHOR: tool_chunk
/// A streamed piece of a tool call, as OpenAI streams them: first the call's `id`, `type` and
/// `function.name` (with empty `arguments`), then chunks carrying only argument fragments.
/// `index` counts the calls of this answer.
///
/// ```text
/// {"delta":{"tool_calls":[{"index":0,"id":"call_…","type":"function","function":{"name":"get_weather","arguments":""}}]}}
/// {"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\": \"Par"}}]}}
/// ```
pub fn tool_call_chunk(
    meta: &Meta,
    index: usize,
    start: Option<(&str, &str)>,
    arguments: &str,
    logprobs: Value,
    with_usage: bool,
) -> Value {
    let call = match start {
        Some((id, name)) => json!({
            "index": index, "id": id, "type": "function",
            "function": {"name": name, "arguments": arguments},
        }),
        None => json!({"index": index, "function": {"arguments": arguments}}),
    };
    let choice = json!({
        "index": 0,
        "delta": {"tool_calls": [call]},
        "logprobs": logprobs,
        "finish_reason": null,
    });
    let mut m = envelope(Api::Chat, meta, true);
    m.insert("choices".into(), json!([choice]));
    if with_usage {
        m.insert("usage".into(), Value::Null);
    }
    m.into()
}
// ANCHOR_END: tool_chunk

/// The usage chunk sent last when `stream_options.include_usage` is set: no choices.
pub fn usage_chunk(api: Api, meta: &Meta, usage: &Usage) -> Value {
    let mut m = envelope(api, meta, true);
    m.insert("choices".into(), json!([]));
    m.insert("usage".into(), usage_json(usage));
    m.into()
}
// ANCHOR_END: chunk

/// OpenAI's `tool_calls` list of a message.
pub fn tool_calls_json(calls: &[ToolCall]) -> Value {
    calls
        .iter()
        .map(|c| {
            json!({"id": c.id, "type": "function",
                   "function": {"name": c.name, "arguments": c.arguments}})
        })
        .collect()
}

/// The whole answer of a non-streamed request. A chat answer that calls tools has
/// `content: null` and the `tool_calls`.
pub fn response(
    api: Api,
    meta: &Meta,
    text: &str,
    tool_calls: &[ToolCall],
    logprobs: Value,
    finish_reason: &str,
    usage: &Usage,
) -> Value {
    let choice = match api {
        Api::Chat if !tool_calls.is_empty() => json!({
            "index": 0,
            "message": {"role": "assistant", "content": null, "refusal": null,
                        "tool_calls": tool_calls_json(tool_calls)},
            "logprobs": logprobs,
            "finish_reason": finish_reason,
        }),
        Api::Chat => json!({
            "index": 0,
            "message": {"role": "assistant", "content": text, "refusal": null},
            "logprobs": logprobs,
            "finish_reason": finish_reason,
        }),
        Api::Text => json!({
            "index": 0, "text": text, "logprobs": logprobs, "finish_reason": finish_reason,
        }),
    };
    let mut m = envelope(api, meta, false);
    m.insert("choices".into(), json!([choice]));
    m.insert("usage".into(), usage_json(usage));
    m.into()
}

/// `id`, `object`, `created`, `model`, `system_fingerprint`.
fn envelope(api: Api, meta: &Meta, chunk: bool) -> Map<String, Value> {
    let object = match (api, chunk) {
        (Api::Chat, true) => "chat.completion.chunk",
        (Api::Chat, false) => "chat.completion",
        (Api::Text, _) => "text_completion",
    };
    let mut m = Map::new();
    m.insert("id".into(), json!(meta.id));
    m.insert("object".into(), json!(object));
    m.insert("created".into(), json!(meta.created));
    m.insert("model".into(), json!(meta.model));
    m.insert(
        "system_fingerprint".into(),
        json!(concat!("glassbox-", env!("CARGO_PKG_VERSION"))),
    );
    m
}
