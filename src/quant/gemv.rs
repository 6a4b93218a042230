//! # Stage 3 · the decode GEMV: many stored rows per call, one type dispatch
//!
//! A decode step multiplies every weight matrix by one activation vector: `out[r] = W[r]·x` for
//! every row r, straight from the stored bytes. [`dot_row`](super::dot_row) does one row and
//! is kept as the readable version; called once per row it also paid, per row, for a length
//! check with integer divisions, a `match` on the type and bounds checks on `x`. For the
//! 576-element rows of SmolLM2 (18 blocks, ~150 cycles of arithmetic) that was a third of the
//! time.
//!
//! [`dot_rows`] checks the sizes once, dispatches on the type once, and then runs the type's
//! row kernel (in `q4.rs`, `q8_0.rs`, `float.rs`) in a loop that the compiler sees whole. Each
//! row is still computed **exactly as `dot_row` computes it** (same operations, same order:
//! bit-identical, `tests/kernels_gemv.rs`), so the model's logits do not move.
//!
//! Two SIMD widths, chosen when glassbox is compiled (`target-cpu=native`):
//!
//! ```text
//! f32x8     dot_row's kernel: 4 accumulators of 8 lanes, acc[g] sums elements 8g..8g+8 of
//!           every block of 32 (AVX2; what `wide` makes of it elsewhere).
//! AVX-512   2 accumulators of 16 lanes: lanes 0..16 are acc[0] and acc[1] side by side,
//!           lanes 16..32 are acc[2] and acc[3]. Every lane adds the same products in the same
//!           order; at the end the four 8-lane halves are summed as dot_row sums them.
//!           F32 (`float::f32_rows`): `matmul::matvec_simd`'s two f32x8 accumulators per row
//!           side by side in one 16-lane register, the same bits.
//! ```
//!
//! Q4_0/Q4_1 on AVX-512 also replace "convert each nibble to float, then d·q + m" by a lookup
//! in a 16-entry table (`q4.rs`): the measured step from 1.5× to 4.8× the release kernel
//! (`cargo bench --bench decode`). Q5_1 (`q5.rs`: 32 entries, two registers, `vpermt2ps`)
//! and Q4_K (`q4_k.rs`: 16 entries per sub-block of 32) do the same. Q5_0 takes the scale out
//! of the block instead (`d · Σ(q − 16)·x`, `q − 16` from the fifth-bit mask): 1.24–1.33× the
//! table on gemma-3-270m's Q5_0 matrices. Q6_K widens and converts; the other K-quants have the
//! 8-lane kernel only.

use super::{float, q2_k, q3_k, q4, q4_k, q5, q5_k, q6_k, q8_0, DType};

// ANCHOR: dot_rows
/// `out[i] = row_i · x` for the consecutive stored rows in `w` (each `x.len()` elements of
/// `dtype`), with the widest kernel this build has: the decode GEMV on one thread. Panics if
/// `w` does not hold exactly `out.len()` such rows (a programmer error: shapes are checked
/// when a model loads).
pub fn dot_rows(dtype: DType, w: &[u8], x: &[f32], out: &mut [f32]) {
    rows::<true>(dtype, w, x, out);
}

/// [`dot_rows`] with the 8-lane kernels only: what a machine without AVX-512 runs, tested on
/// every machine.
pub fn dot_rows_f32x8(dtype: DType, w: &[u8], x: &[f32], out: &mut [f32]) {
    rows::<false>(dtype, w, x, out);
}

fn rows<const WIDE: bool>(dtype: DType, w: &[u8], x: &[f32], out: &mut [f32]) {
    let rb = check_rows(dtype, w, x, out);
    if rb == 0 {
        return out.fill(0.0); // rows of no elements
    }
    match dtype {
        DType::F32 => float::f32_rows::<WIDE>(w, x, out),
        DType::F16 | DType::BF16 => each_row(w, rb, out, |r| float::half_row::<WIDE>(dtype, r, x)),
        DType::Q8_0 => each_row(w, rb, out, |r| q8_0::row_kernel::<WIDE>(r, x)),
        DType::Q4_0 => each_row(w, rb, out, |r| {
            q4::row_kernel::<{ q4::Q4_0_BYTES }, WIDE>(r, x)
        }),
        DType::Q4_1 => each_row(w, rb, out, |r| {
            q4::row_kernel::<{ q4::Q4_1_BYTES }, WIDE>(r, x)
        }),
        // issue 14's types: Q5_0/Q5_1 and Q4_K with an AVX-512 table kernel, the rest one width
        DType::Q5_0 => each_row(w, rb, out, |r| {
            q5::row_kernel::<{ q5::BYTES_Q5_0 }, WIDE>(r, x)
        }),
        DType::Q5_1 => each_row(w, rb, out, |r| {
            q5::row_kernel::<{ q5::BYTES_Q5_1 }, WIDE>(r, x)
        }),
        DType::Q2_K => each_row(w, rb, out, |r| q2_k::dot(r, x)),
        DType::Q3_K => each_row(w, rb, out, |r| q3_k::dot(r, x)),
        DType::Q4_K => each_row(w, rb, out, |r| q4_k::row_kernel::<WIDE>(r, x)),
        DType::Q5_K => each_row(w, rb, out, |r| q5_k::dot(r, x)),
        DType::Q6_K => each_row(w, rb, out, |r| q6_k::row_kernel::<WIDE>(r, x)),
    }
}
// ANCHOR_END: dot_rows

/// `out[i] = row_kernel(row i)` over rows of `rb` bytes (generic, so each kernel is inlined
/// into its loop).
#[inline(always)]
fn each_row(w: &[u8], rb: usize, out: &mut [f32], row_kernel: impl Fn(&[u8]) -> f32) {
    for (o, r) in out.iter_mut().zip(w.chunks_exact(rb)) {
        *o = row_kernel(r);
    }
}

/// Bytes per row, after checking that `w` holds exactly `out.len()` rows of `x.len()` elements.
fn check_rows(dtype: DType, w: &[u8], x: &[f32], out: &[f32]) -> usize {
    match dtype.row_bytes(x.len()) {
        Some(rb) if w.len() == out.len() * rb => rb,
        _ => panic!(
            "dot_rows: {} bytes are not {} {dtype} rows of {} elements",
            w.len(),
            out.len(),
            x.len()
        ),
    }
}
