//! `glassbox serve`: an OpenAI-compatible HTTP server with a glass-box chat page.
//!
//! ```text
//! glassbox serve                                    # http://127.0.0.1:8080, the default model
//! glassbox serve --port 0                           # any free port (printed)
//! GLASSBOX_API_KEY=s3cret glassbox serve --host 0.0.0.0
//! ```
//!
//! Everything else is in `src/server/`.

use std::time::Duration;

use crate::cli::common::ModelArg;
use crate::server::{self, Options};
use crate::{Error, Result};

/// The flags of `glassbox serve` (its help text, with the limits, is on the command in
/// `src/main.rs`; the limits are the constants of `server::request`).
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArg,
    /// Address to listen on (127.0.0.1: this machine only; 0.0.0.0: every interface).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0: any free port; the chosen one is printed).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Require `Authorization: Bearer KEY` on every route but /health and the page
    /// (default: the GLASSBOX_API_KEY environment variable, if set).
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,
    /// Requests that may wait while one is generated; more get 503 with Retry-After.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub queue: usize,
    /// Context window in tokens (default: the model's, at most 4096).
    #[arg(long, short = 'c')]
    pub ctx_size: Option<usize>,
    /// The model id clients send and /v1/models shows (default: the file name, no extension).
    #[arg(long, value_name = "NAME")]
    pub model_name: Option<String>,
    /// Seconds between keep-alive comments while a streamed request waits in the queue.
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
    pub keepalive: f64,
    /// The sentence encoder of POST /v1/embeddings (loaded by the first embeddings request).
    #[command(flatten)]
    pub embedder: crate::cli::embed::EmbedderArg,
    /// A Jinja chat template that replaces the model's own (e.g. a newer release of it). A
    /// template that reads `tools` renders tool definitions and calls itself (Llama 3.x).
    #[arg(long, value_name = "FILE")]
    pub chat_template_file: Option<std::path::PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let api_key = args
        .api_key
        .or_else(|| std::env::var("GLASSBOX_API_KEY").ok())
        .filter(|k| !k.is_empty());
    if !(args.keepalive > 0.0 && args.keepalive.is_finite()) {
        return Err(Error::invalid(
            "--keepalive must be a positive number of seconds",
        ));
    }
    let opts = Options {
        model: args.model.path,
        host: args.host,
        port: args.port,
        api_key,
        queue: args.queue,
        ctx_size: args.ctx_size,
        model_name: args.model_name,
        keepalive: Duration::from_secs_f64(args.keepalive),
        handle_signals: true,
        embedder: args.embedder.embedder,
        chat_template: args.chat_template_file,
    };
    let auth = if opts.api_key.is_some() {
        " (API key required)"
    } else {
        ""
    };
    let running = server::start(opts)?;
    // Tests and scripts read this line to find the port: keep its shape.
    println!("glassbox serve: listening on http://{}{auth}", running.addr);
    eprintln!("glassbox serve: loading the model (GET /health answers 503 until it is ready)…");
    let ready = running.wait_ready(Duration::from_secs(600));
    if let (Ok(()), Some(name)) = (&ready, running.model_name()) {
        eprintln!(
            "glassbox serve: ready, serving `{name}`; open http://{}/ in a browser; Ctrl-C stops",
            running.addr
        );
    }
    ready?;
    running.wait()
}
