//! # Stage 5: from a loop to an API — `glassbox serve`
//!
//! An OpenAI-compatible HTTP server around the generation loop, so that every program written
//! for the chat-completions API (the `openai` client, curl, a browser page) talks to the model
//! that runs on this CPU. A request's path:
//!
//! ```text
//! HTTP POST /v1/chat/completions
//!   │ auth (Bearer key)            mod.rs      401
//!   │ parse + validate the JSON    request.rs  400 naming the field
//!   │ template → ids, budget       completions.rs  400 "prompt has N tokens, context holds C"
//!   │ queue (bounded)              worker.rs   503 + Retry-After when full
//!   │ prefill after the cached prefix, decode token by token (worker thread)
//!   ▼ frames: one JSON body, or SSE `data: {chunk}\n\n` … `data: [DONE]\n\n`   wire.rs
//! ```
//!
//! The async runtime (tokio, 2 threads) only moves bytes; the model runs on one worker
//! thread of its own. The route table is [`router`]: one line per endpoint.

pub mod completions;
pub mod embeddings;
pub mod info;
mod json;
pub mod request;
mod run;
pub mod structured;
pub mod wire;
pub mod worker;

pub use run::{start, Running, SHUTDOWN_GRACE};

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::watch;

use crate::chat::ChatTemplate;
use crate::model::Llama;
use wire::ApiError;

/// How to run the server (the flags of `glassbox serve`).
#[derive(Clone, Debug)]
pub struct Options {
    /// A .gguf file or Hugging Face directory; `None`: the default model (fetched once).
    pub model: Option<PathBuf>,
    pub host: String,
    /// 0: any free port (the bound address is in [`Running::addr`]).
    pub port: u16,
    /// Require `Authorization: Bearer <key>` on every route but `/health` and the page.
    pub api_key: Option<String>,
    /// Requests that may wait while one runs; more get a 503.
    pub queue: usize,
    /// Context window in tokens (default: the model's, at most 4096).
    pub ctx_size: Option<usize>,
    /// The model id in `/v1/models` and responses (default: the file name without extension).
    pub model_name: Option<String>,
    /// While a streamed request waits in the queue, a `: keep-alive` comment this often.
    pub keepalive: Duration,
    /// Stop on Ctrl-C / SIGTERM (the CLI); tests and lessons stop with [`Running::stop`].
    pub handle_signals: bool,
    /// The sentence encoder of `POST /v1/embeddings` (a sentence-transformers directory);
    /// `None`: all-MiniLM-L6-v2, fetched by the first embeddings request.
    pub embedder: Option<PathBuf>,
    /// A Jinja file that replaces the model's chat template (`--chat-template-file`).
    pub chat_template: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            model: None,
            host: "127.0.0.1".into(),
            port: 8080,
            api_key: None,
            queue: 8,
            ctx_size: None,
            model_name: None,
            keepalive: Duration::from_secs(2),
            handle_signals: false,
            embedder: None,
            chat_template: None,
        }
    }
}

/// The loaded model and what every request needs from it.
pub struct Loaded {
    pub model: Arc<Llama>,
    pub template: ChatTemplate,
    pub stop_ids: Vec<u32>,
    /// The model id clients name.
    pub name: String,
    /// Context window of the worker's KV-cache.
    pub ctx: usize,
    pub queue: worker::Queue,
    /// Unix time the model was loaded (`created` in `/v1/models`).
    pub created: u64,
    /// The vocabulary prepared for masks (structured output), built by the first request
    /// that needs it.
    pub vocab: OnceLock<Arc<crate::constrain::Vocab>>,
}

/// Shared by every handler.
pub struct AppState {
    pub opts: Options,
    /// Set once the model is loaded; until then the API answers 503.
    pub loaded: OnceLock<Loaded>,
    load_error: OnceLock<String>,
    /// Set on Ctrl-C / SIGTERM / [`Running::stop`]: the worker ends the request in flight.
    pub stopping: Arc<AtomicBool>,
    stop_tx: watch::Sender<bool>,
    next_id: AtomicU64,
}

impl AppState {
    /// The model, or the 503 that says why it is not there.
    pub fn loaded(&self) -> std::result::Result<&Loaded, ApiError> {
        if let Some(l) = self.loaded.get() {
            return Ok(l);
        }
        Err(match self.load_error.get() {
            Some(e) => {
                ApiError::unavailable("load_failed", format!("the model failed to load: {e}"))
            }
            None => ApiError::unavailable("loading", "the model is still loading; retry shortly"),
        })
    }
    /// A fresh response id: `chatcmpl-` + 24 hex digits (a counter mixed with the start time).
    pub fn new_id(&self, prefix: &str) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}-{:024x}", (n as u128) << 64 | unix_time() as u128)
    }
    /// A fresh tool-call id: `call_` + 24 hex digits (OpenAI's shape).
    pub fn new_call_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("call_{:024x}", (n as u128) << 64 | unix_time() as u128)
    }
    fn request_stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        self.stop_tx.send_replace(true);
    }
}

pub fn unix_time() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, json_headers(), self.body().to_string()).into_response();
        if let Some(s) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

/// `Content-Type: application/json`.
pub fn json_headers() -> [(header::HeaderName, &'static str); 1] {
    [(header::CONTENT_TYPE, "application/json")]
}

// ANCHOR: routes
/// Every endpoint, one line each.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(info::page))
        .route("/page.js", get(info::page_js))
        .route("/health", get(info::health))
        .route("/v1/models", get(info::models))
        .route("/v1/chat/completions", post(completions::chat))
        .route("/v1/completions", post(completions::text))
        .route("/v1/embeddings", post(embeddings::create))
        .route("/tokenize", post(info::tokenize))
        .route("/detokenize", post(info::detokenize))
        .fallback(unknown_route)
        .method_not_allowed_fallback(unknown_route)
        .layer(middleware::from_fn_with_state(state.clone(), auth))
        .layer(DefaultBodyLimit::max(request::MAX_BODY_BYTES))
        .with_state(state)
}
// ANCHOR_END: routes

/// Routes anyone may call: the health check (for load balancers) and the page's static files
/// (they hold no data; the page asks for the key and sends it with each API call).
const PUBLIC: [&str; 4] = ["/health", "/", "/page.js", "/favicon.ico"];

// ANCHOR: auth
/// With `--api-key`, every other route needs `Authorization: Bearer <key>` (else 401).
async fn auth(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if let Some(key) = &s.opts.api_key {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !PUBLIC.contains(&req.uri().path()) && !same_bytes(given.as_bytes(), key.as_bytes()) {
            return ApiError::unauthorized().into_response();
        }
    }
    next.run(req).await
}

/// Compare without stopping at the first difference, so the time taken says nothing about
/// how much of the key was right.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
// ANCHOR_END: auth

async fn unknown_route(req: Request) -> Response {
    ApiError::unknown_route(req.method().as_str(), req.uri().path()).into_response()
}
