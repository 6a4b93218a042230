//! # Stage 3 · how a forward pass uses the threads
//!
//! A forward pass is a chain of steps, some split across rayon's threads (the products,
//! `weights/matvec.rs`; a prompt's attention), some on one thread (norms, RoPE, a decode
//! step's attention). Two rules keep the hand-offs cheap:
//!
//! ```text
//! the pass runs on a pool thread       one hand-off per pass, not one per product
//! a decode step keeps the others awake  they spin between products instead of sleeping,
//!                                       so no product waits for a thread to wake up
//! ```
//!
//! With one thread neither applies: the pass runs on the caller.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

// ANCHOR: on_pool
/// Run `f` on a thread of the current rayon pool (the caller waits), unless it already is one
/// or the pool has a single thread. A parallel product started from outside the pool hands its
/// work over and puts the caller to sleep until it is done; ~200 of those per token cost more
/// than a decode step's arithmetic on a busy machine.
///
/// With `keep_awake` (a decode step) the pool's other threads spend the pass in
/// `stay_awake` instead of going to sleep between products. A rayon thread that finds no work
/// sleeps after ~30 µs, and a decode step has longer stretches of one-thread work (attention
/// over the cache, ≈ 30 µs per layer for SmolLM2): the next product then had to wake it, a
/// futex call and an interrupt to an idle virtual CPU, and on two threads `o_proj`, the
/// product after attention, took twice as long as on one (`glassbox bench --profile`).
/// The helpers are detached (`rayon::spawn`): the pass never waits for them, so a helper busy
/// with some other work of the pool (an embedding batch) cannot delay it.
pub fn on_pool<R: Send>(keep_awake: bool, f: impl FnOnce() -> R + Send) -> R {
    let threads = rayon::current_num_threads();
    if threads == 1 || (!keep_awake && rayon::current_thread_index().is_some()) {
        return f();
    }
    rayon::scope(|_| {
        let done = keep_awake.then(|| Arc::new(AtomicBool::new(false)));
        if let Some(done) = &done {
            let pass_thread = rayon::current_thread_index();
            for _ in 1..threads {
                let done = Arc::clone(done);
                rayon::spawn(move || stay_awake(pass_thread, &done));
            }
        }
        let r = f();
        if let Some(done) = done {
            done.store(true, Ordering::Release);
        }
        r
    })
}

/// Longest stretch a helper spins without finding work before it leaves the pass to rayon's
/// own idling (a pass descheduled by a busy OS must not keep a core spinning).
const STAY_AWAKE_IDLE: Duration = Duration::from_millis(1);

/// One pool thread's part in a decode step: run the pass's parallel work as it appears
/// (`rayon::yield_now` takes a job from any thread's queue) and spin in between, until the pass
/// is `done` or nothing came for [`STAY_AWAKE_IDLE`]. Returns at once on the pass's own thread:
/// that thread can pick this job up while it waits for a product's rows, and must not spin
/// there waiting for itself.
fn stay_awake(pass_thread: Option<usize>, done: &AtomicBool) {
    if rayon::current_thread_index() == pass_thread {
        return;
    }
    let mut idle_since = Instant::now();
    while !done.load(Ordering::Acquire) {
        if rayon::yield_now() == Some(rayon::Yield::Executed) {
            idle_since = Instant::now();
        } else if idle_since.elapsed() > STAY_AWAKE_IDLE {
            return;
        } else {
            std::hint::spin_loop();
        }
    }
}
// ANCHOR_END: on_pool
