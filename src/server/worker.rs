//! The queue and the model's worker thread.
//!
//! ```text
//!  handlers (tokio tasks)                         worker thread (owns the KV-cache)
//!  ── try_send(Job) ──▶ [ queue: N waiting ] ──▶  for job in queue:
//!        │  full: 503 + Retry-After                 prefill the prompt after the cached prefix
//!        │                                          decode token by token
//!        ◀──── Started, Piece, Piece, …, Done ────  one event channel per request
//! ```
//!
//! One model, one KV-cache, requests served in arrival order. The model never runs on the
//! async runtime: the worker is a plain thread that blocks on the queue, and the matrix
//! kernels use rayon's threads. Each request has its own bounded event channel; when the
//! client goes away its receiver is dropped, the next `blocking_send` fails and generation
//! stops after the token in flight ("cancel within one token"). A request whose client left
//! while it waited is skipped without running the model.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::wire::{ApiError, TokenLogprob, Usage};
use crate::constrain::JsonConstraint;
use crate::generate::{
    generate_stream_constrained, Flow, GenerateConfig, LlamaRunner, NextTokenModel, Stats,
    StopReason, TokenConstraint,
};
use crate::model::Llama;
use crate::Result;

/// Events of one request buffered between the worker and the connection (then the worker
/// waits for the client: back-pressure, bounded memory).
pub const EVENT_BUFFER: usize = 64;

/// One request, ready to run: everything was validated by the handler.
pub struct Job {
    pub prompt_ids: Vec<u32>,
    pub cfg: GenerateConfig,
    /// The mask of structured output and tool calls, if the request has one.
    pub constraint: Option<JsonConstraint>,
    pub events: mpsc::Sender<Event>,
    pub enqueued: Instant,
}

/// What the worker tells the handler of one request, in this order: `Started`, any number of
/// `Piece`s, then `Done` or `Failed` (`Failed` may also come first).
#[derive(Debug)]
pub enum Event {
    /// The worker took the request after it waited this long.
    Started {
        queued: Duration,
    },
    /// New text (whole characters, no stop string) and the tokens it came from.
    Piece {
        text: String,
        tokens: Vec<TokenLogprob>,
    },
    Done {
        stop: StopReason,
        usage: Usage,
        stats: Stats,
    },
    Failed(ApiError),
}

/// The sending side of the queue, shared by the handlers.
#[derive(Clone)]
pub struct Queue {
    tx: SyncSender<Job>,
    waiting: usize,
}

impl Queue {
    /// Put a job in the queue, or refuse at once (503) if `waiting` jobs already wait.
    pub fn submit(&self, job: Job) -> std::result::Result<(), ApiError> {
        match self.tx.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(ApiError::unavailable(
                "queue_full",
                format!(
                    "the server is busy: one request is running and {} wait (--queue {}); retry shortly",
                    self.waiting, self.waiting
                ),
            )),
            Err(TrySendError::Disconnected(_)) => Err(shutting_down()),
        }
    }
}

pub fn shutting_down() -> ApiError {
    ApiError::unavailable("shutting_down", "the server is shutting down")
}

/// Start the worker thread for `model` with a context of `ctx` positions and room for
/// `waiting` queued requests. The thread ends when every [`Queue`] is dropped.
pub fn spawn(
    model: Arc<Llama>,
    ctx: usize,
    waiting: usize,
    stopping: Arc<AtomicBool>,
) -> Result<Queue> {
    // A sync_channel of capacity N holds N jobs while the worker runs another one.
    let (tx, rx) = sync_channel::<Job>(waiting);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<()>>();
    std::thread::Builder::new()
        .name("glassbox-worker".into())
        .spawn(move || match LlamaRunner::new(&model, ctx) {
            Ok(runner) => {
                let _ = ready_tx.send(Ok(()));
                run(&model, runner, rx, &stopping)
            }
            Err(e) => {
                let _ = ready_tx.send(Err(e));
            }
        })
        .map_err(|e| crate::Error::invalid(format!("cannot start the worker thread: {e}")))?;
    // The KV-cache is allocated on the worker: report a failure (e.g. a bad --ctx-size) here.
    ready_rx
        .recv()
        .map_err(|_| crate::Error::invalid("the worker thread ended before it started"))??;
    Ok(Queue { tx, waiting })
}

// ANCHOR: worker
fn run(model: &Llama, mut runner: LlamaRunner, rx: Receiver<Job>, stopping: &AtomicBool) {
    while let Ok(mut job) = rx.recv() {
        if job.events.is_closed() {
            continue; // the client left while the request waited
        }
        if stopping.load(Ordering::Relaxed) {
            let _ = job.events.blocking_send(Event::Failed(shutting_down()));
            continue;
        }
        let queued = job.enqueued.elapsed();
        if job.events.blocking_send(Event::Started { queued }).is_err() {
            continue;
        }
        let events = &job.events;
        let mut on_piece = |text: &str, tokens: &[TokenLogprob]| {
            if stopping.load(Ordering::Relaxed) {
                return Flow::Stop;
            }
            let piece = Event::Piece {
                text: text.to_string(),
                tokens: tokens.to_vec(),
            };
            match events.blocking_send(piece) {
                Ok(()) => Flow::Continue,
                Err(_) => Flow::Stop, // the receiver is gone: the client disconnected
            }
        };
        let tok = &model.tokenizer;
        // A bug must not take the worker (and every later request) down: report it as a 500.
        let constraint = job
            .constraint
            .as_mut()
            .map(|c| c as &mut dyn TokenConstraint);
        let result = catch_unwind(AssertUnwindSafe(|| {
            generate_stream_constrained(
                &mut runner,
                tok,
                &job.prompt_ids,
                &job.cfg,
                constraint,
                &mut on_piece,
            )
        }));
        let event = match result {
            Ok(Ok(out)) if out.stop_reason == StopReason::Cancelled => {
                if stopping.load(Ordering::Relaxed) {
                    Event::Failed(shutting_down())
                } else {
                    continue; // nobody is listening
                }
            }
            Ok(Ok(out)) => Event::Done {
                usage: Usage {
                    prompt_tokens: out.stats.prompt_tokens,
                    completion_tokens: out.stats.generated_tokens,
                    cached_tokens: out.stats.cached_tokens,
                },
                stop: out.stop_reason,
                stats: out.stats,
            },
            Ok(Err(e)) => Event::Failed(ApiError::internal(format!("generation failed: {e}"))),
            Err(_) => {
                runner.reset(); // the cache may be half-written
                Event::Failed(ApiError::internal(
                    "generation panicked (a bug in glassbox)",
                ))
            }
        };
        let _ = job.events.blocking_send(event);
    }
}
// ANCHOR_END: worker
