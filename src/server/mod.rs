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
pub mod info;
pub mod request;
pub mod wire;
pub mod worker;

use std::net::SocketAddr;
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

use crate::chat::{stop_token_ids, ChatTemplate};
use crate::cli::common;
use crate::model::Llama;
use crate::{Error, Result};
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
/// Every endpoint, one line each. (`POST /v1/embeddings` will slot in here.)
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(info::page))
        .route("/page.js", get(info::page_js))
        .route("/health", get(info::health))
        .route("/v1/models", get(info::models))
        .route("/v1/chat/completions", post(completions::chat))
        .route("/v1/completions", post(completions::text))
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

/// A server running on its own threads.
pub struct Running {
    /// The address it listens on (the real port when `port` was 0).
    pub addr: SocketAddr,
    state: Arc<AppState>,
    thread: Option<std::thread::JoinHandle<Result<()>>>,
}

/// Bind, start the HTTP server, and load the model in the background (`/health` answers 503
/// until it is ready). Returns once the socket is bound.
pub fn start(opts: Options) -> Result<Running> {
    let listener = std::net::TcpListener::bind((opts.host.as_str(), opts.port)).map_err(|e| {
        Error::invalid(format!("cannot listen on {}:{}: {e}", opts.host, opts.port))
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::invalid(format!("socket: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::invalid(format!("socket: {e}")))?;
    let (stop_tx, _) = watch::channel(false);
    let state = Arc::new(AppState {
        opts,
        loaded: OnceLock::new(),
        load_error: OnceLock::new(),
        stopping: Arc::new(AtomicBool::new(false)),
        stop_tx,
        next_id: AtomicU64::new(1),
    });
    let loader_state = state.clone();
    std::thread::spawn(move || {
        if let Err(e) = load(&loader_state) {
            let _ = loader_state.load_error.set(e.to_string());
            loader_state.request_stop();
        }
    });
    let server_state = state.clone();
    let thread = std::thread::Builder::new()
        .name("glassbox-http".into())
        .spawn(move || serve(listener, server_state))
        .map_err(|e| Error::invalid(format!("cannot start the server thread: {e}")))?;
    Ok(Running {
        addr,
        state,
        thread: Some(thread),
    })
}

/// Load the model, start its worker, publish it.
fn load(state: &AppState) -> Result<()> {
    let o = &state.opts;
    let model = Llama::load(common::model_path(o.model.clone())?)?;
    let ctx = common::context_size(&model, o.ctx_size)?;
    let template = common::chat_template(&model)?;
    let name = o.model_name.clone().unwrap_or_else(|| {
        let p = model.path.file_stem().or(model.path.file_name());
        p.map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "glassbox".into())
    });
    let stop_ids = stop_token_ids(&model.tokenizer);
    let model = Arc::new(model);
    let queue = worker::spawn(model.clone(), ctx, o.queue, state.stopping.clone())?;
    let loaded = Loaded {
        model,
        template,
        stop_ids,
        name,
        ctx,
        queue,
        created: unix_time(),
    };
    let _ = state.loaded.set(loaded);
    Ok(())
}

/// The HTTP side: a tokio runtime with 2 threads, graceful shutdown on the stop signal (at
/// most [`SHUTDOWN_GRACE`] for streams to end), then the worker's queue is dropped.
fn serve(listener: std::net::TcpListener, state: Arc<AppState>) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::invalid(format!("cannot start the async runtime: {e}")))?;
    let result = rt.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|e| Error::invalid(format!("socket: {e}")))?;
        if state.opts.handle_signals {
            tokio::spawn(on_signal(state.clone()));
        }
        let mut stopped = state.stop_tx.subscribe();
        let mut deadline = state.stop_tx.subscribe();
        let app = router(state.clone());
        let server = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stopped.wait_for(|s| *s).await;
        });
        tokio::select! {
            r = server => r.map_err(|e| Error::invalid(format!("server: {e}"))),
            _ = async {
                let _ = deadline.wait_for(|s| *s).await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } => Ok(()),
        }
    });
    rt.shutdown_timeout(Duration::from_millis(100));
    match state.load_error.get() {
        Some(e) => Err(Error::invalid(format!("the model failed to load: {e}"))),
        None => result,
    }
}

/// How long in-flight requests get to end after the stop signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

async fn on_signal(state: Arc<AppState>) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    eprintln!("glassbox serve: stopping (in-flight requests end with an error event)");
    state.request_stop();
}

impl Running {
    /// The model is loaded and requests are served.
    pub fn is_ready(&self) -> bool {
        self.state.loaded.get().is_some()
    }
    /// Block until the model is loaded (or failed to load).
    pub fn wait_ready(&self, timeout: Duration) -> Result<()> {
        let start = std::time::Instant::now();
        while start.elapsed() < timeout {
            if self.is_ready() {
                return Ok(());
            }
            if let Some(e) = self.state.load_error.get() {
                return Err(Error::invalid(format!("the model failed to load: {e}")));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(Error::invalid(format!(
            "the model did not load within {timeout:?}"
        )))
    }
    /// The loaded model's id.
    pub fn model_name(&self) -> Option<String> {
        self.state.loaded.get().map(|l| l.name.clone())
    }
    /// Serve until stopped (Ctrl-C / SIGTERM with `handle_signals`, or a load failure).
    pub fn wait(mut self) -> Result<()> {
        self.join()
    }
    /// Stop: in-flight requests end with an error, then the threads end.
    pub fn stop(mut self) -> Result<()> {
        self.state.request_stop();
        self.join()
    }
    fn join(&mut self) -> Result<()> {
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(Error::invalid("the server thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.state.request_stop();
            let _ = self.join();
        }
    }
}
