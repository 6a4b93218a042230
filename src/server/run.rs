//! Starting and stopping: bind the socket, load the model in the background (`/health` says
//! 503 until it is ready), run the HTTP side on a tokio runtime of its own thread, and stop on
//! Ctrl-C / SIGTERM / [`Running::stop`] — in-flight requests end with an error event, then the
//! threads end (at most [`SHUTDOWN_GRACE`] later).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::watch;

use super::{router, unix_time, worker, AppState, Loaded, Options};
use crate::chat::stop_token_ids;
use crate::cli::common;
use crate::model::Llama;
use crate::{Error, Result};

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
    let template = match &o.chat_template {
        None => common::chat_template(&model)?,
        Some(path) => common::chat_template_file(path, &model)?,
    };
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
        vocab: OnceLock::new(),
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
