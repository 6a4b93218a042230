//! # Stage 3 · the decode products: W · x for one token, across the threads
//!
//! A decode step is a chain of matrix–vector products (`out = W · x`, `x: [cols]`,
//! `out: [rows]`), each streaming a whole weight matrix from memory once. They are split across
//! rayon's threads in chunks of whole rows (`matmul::gemv_chunk_rows`); each chunk is one call
//! of `quant::gemv::dot_rows` on the stored bytes.
//!
//! ```text
//! q, k, v = W_q·x, W_k·x, W_v·x      one parallel job over 576 + 192 + 192 rows (matvec_many)
//! o       = W_o·a                    one job
//! g, u    = W_gate·h, W_up·h         one job over 1536 + 1536 rows
//! d       = W_down·(silu(g) ⊙ u)     one job
//! ```
//!
//! Products that read the same `x` share one job: every job is a hand-off to the threads and a
//! wait for the slowest, and the small K and V matrices alone would not keep two threads busy.
//! With one thread there is no hand-off at all: the products run on the caller.
//! The optional `xq` is `x` as 8-bit blocks (`--activations q8`, `quant::q8act`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rayon::prelude::*;

use crate::matmul;
use crate::quant::q8act::{self, Q8Act};
use crate::quant::{self, DType};
use crate::weights::tensor::WeightMatrix;

impl WeightMatrix {
    // ANCHOR: matvec
    /// out = W · x (decode). `x: [cols], out: [rows]`. Rows are split across rayon threads in
    /// disjoint chunks; each chunk is one `quant::gemv::dot_rows` call on the stored bytes.
    /// Shapes are checked at load time, so a mismatch here is a programmer error and panics.
    pub fn matvec(&self, x: &[f32], out: &mut [f32]) {
        WeightMatrix::matvec_many(x, None, [(self, out)]);
    }

    /// Several products of the same `x` (Q, K and V; gate and up) as **one** parallel job over
    /// all their rows: `out_i = W_i · x`. One hand-off to the threads instead of one per matrix,
    /// and the small matrices (K, V: 192 rows) share their job with a larger one. With `xq`
    /// (x as 8-bit blocks, opt-in) the Q4_0/Q4_1/Q8_0 matrices use the integer kernels.
    pub fn matvec_many<const N: usize>(
        x: &[f32],
        xq: Option<&Q8Act>,
        products: [(&WeightMatrix, &mut [f32]); N],
    ) {
        for (w, out) in &products {
            w.check_matvec(x, out);
        }
        let run = |dtype: DType, w: &[u8], out: &mut [f32]| {
            busy_timer(|| match xq {
                Some(xq) if q8act::has_int_kernel(dtype) => q8act::dot_rows_q8(dtype, w, xq, out),
                _ => quant::gemv::dot_rows(dtype, w, x, out),
            })
        };
        if rayon::current_num_threads() == 1 {
            for (w, out) in products {
                run(w.dtype, w.bytes(), out);
            }
            return;
        }
        products
            .into_par_iter()
            .flat_map(|(w, out)| {
                let (rows, rb) = (matmul::gemv_chunk_rows(w.rows), w.row_bytes());
                out.par_chunks_mut(rows)
                    .zip(w.bytes().par_chunks(rows * rb))
                    .map(move |(o, bytes)| (w.dtype, bytes, o))
            })
            .for_each(|(dtype, bytes, o)| run(dtype, bytes, o));
    }
    // ANCHOR_END: matvec

    /// [`WeightMatrix::matmul`] of several matrices by the same `x`; one token (decode) goes
    /// through [`WeightMatrix::matvec_many`] as one parallel job (with `xq` if given).
    pub fn matmul_many<const N: usize>(
        x: &[f32],
        xq: Option<&Q8Act>,
        seq: usize,
        products: [(&WeightMatrix, &mut [f32]); N],
    ) {
        if seq == 1 {
            return WeightMatrix::matvec_many(x, xq, products);
        }
        // the tiled GEMM of stored types: x packed once for all of them (K and V, up: no
        // packing of their own); f32 weights and short prompts take `matmul`'s own paths
        if N > 1
            && products
                .iter()
                .all(|(w, _)| w.uses_tiles(seq) && w.cols == products[0].0.cols)
        {
            let xp = matmul::PackedX::new_parallel(x, seq, products[0].0.cols);
            for (w, out) in products {
                w.matmul_packed(&xp, out);
            }
            return;
        }
        for (w, out) in products {
            w.matmul(x, seq, out);
        }
    }

    fn check_matvec(&self, x: &[f32], out: &[f32]) {
        assert_eq!(
            x.len(),
            self.cols,
            "tensor `{}`: x has {} elements, want {}",
            self.name,
            x.len(),
            self.cols
        );
        assert_eq!(
            out.len(),
            self.rows,
            "tensor `{}`: out has {} elements, want {}",
            self.name,
            out.len(),
            self.rows
        );
    }
}

static BUSY_TIMING: AtomicBool = AtomicBool::new(false);
static BUSY_NANOS: AtomicU64 = AtomicU64::new(0);

/// Turn per-task busy-time accounting of [`WeightMatrix::matvec`] on or off (process-wide: a
/// matrix does not know which session it serves). For the profile of `glassbox bench`.
pub fn set_busy_timing(on: bool) {
    BUSY_TIMING.store(on, Ordering::Relaxed);
}

/// Busy nanoseconds of all matrix–vector tasks, summed over threads, since the last call.
pub fn take_busy_nanos() -> u64 {
    BUSY_NANOS.swap(0, Ordering::Relaxed)
}

/// Run one task of a matrix–vector product, adding its time to the busy counter when on.
#[inline]
fn busy_timer<R>(task: impl FnOnce() -> R) -> R {
    if !BUSY_TIMING.load(Ordering::Relaxed) {
        return task();
    }
    let t = std::time::Instant::now();
    let r = task();
    BUSY_NANOS.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
    r
}
