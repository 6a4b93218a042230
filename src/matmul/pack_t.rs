//! # Stage 2 · both operands stored transposed, both packed: the weight gradient's GEMM
//!
//! The backward of a linear layer `y = x · Wᵀ` (`train/linear.rs`) needs `dW = dyᵀ · x`: with
//! `dy: [tokens, out]` and `x: [tokens, in]` as stored, both operands of the product are
//! *columns* of what is stored, and the sum runs over the tokens (thousands of them):
//!
//! ```text
//! out[i][j] (+)= Σ_p xt[p][i] · wt[p][j]      xt: [k, m] stored, wt: [k, n] stored, out: [m, n]
//! dW[o][c]  (+)= Σ_t dy[t][o] · x[t][c]       (xt = dy, wt = x, k = tokens)
//! ```
//!
//! [`gemm()`](super::gemm) computes the same with `Layout::Transposed` twice, but reads the
//! broadcast operand in place: `WR` adjacent floats per k step from rows `n` floats apart
//! (1 KiB at n = 256: those rows fall into 4 of the L1 cache's 64 sets), and with `k` = 2048
//! tokens its k-blocks are 1024 long, so neither operand stays in L1 between kernel calls.
//! Here the broadcast operand is **packed** too, once per product, into the order the kernel
//! reads it, and the k-blocks are short:
//!
//! ```text
//! wt [k, n]  →  panels [n/WR][k][WR]        group g's k steps adjacent: kernel_cols with ld = WR
//! for each block of ≤ KB steps of k                      (a sliver [KB, XR] of xt: 32 KiB, L1)
//!   for each sliver of XR rows of out (xt packed)
//!     for each group of WR columns:  out[XR × WR] (+)= kernel(panel g, block)    (panels: L2)
//! ```
//!
//! Threads take disjoint blocks of output rows (each packs its own slivers of xt, all share
//! the packed wt). The tile (`Tile`: AVX-512 8 × 32 or f32x8 6 × 16) is the GEMM's own; only
//! the blocking is this file's. [`gemm_naive`](super::gemm_naive) is the reference.

use rayon::prelude::*;

use super::gemm::{Fast, Tile};
use super::PAR_MIN_MACS;

/// Steps of k per block: a sliver of xt, `[KB, XR]`, is 32 KiB with the AVX-512 tile (L1 is
/// 48 KiB), and one block of every panel, `[KB, n]`, is 256 KiB at n = 256 (L2 is 1 MiB).
const KB: usize = 256;

// ANCHOR: gemm_tt
/// `out = xtᵀ · wt` (`out += …` when `accumulate`) on all rayon threads: `xt: [k, m]`,
/// `wt: [k, n]`, `out: [m, n]`, i.e. `gemm(xt, Transposed, wt, Transposed, …)` with both
/// operands packed. Panics if the lengths disagree with the sizes (programmer error).
pub fn gemm_tt(
    xt: &[f32],
    wt: &[f32],
    out: &mut [f32],
    m: usize,
    k: usize,
    n: usize,
    accumulate: bool,
) {
    let parallel = rayon::current_num_threads() > 1 && m * n * k >= PAR_MIN_MACS;
    gemm_tt_with::<Fast>(xt, wt, out, (m, k, n), accumulate, parallel);
}

/// Pack `wt: [k, n]` into panels `[n/WR groups][k][WR]` (the last group zero-padded):
/// `panels[(g·k + p)·WR + r] = wt[p][g·WR + r]`.
fn pack_panels<T: Tile>(wt: &[f32], k: usize, n: usize, parallel: bool) -> Vec<f32> {
    let wr = T::WR;
    let mut panels = vec![0.0f32; n.div_ceil(wr) * k * wr];
    let pack = |(g, panel): (usize, &mut [f32])| {
        let cols = (g * wr)..((g + 1) * wr).min(n);
        for (p, dst) in panel.chunks_exact_mut(wr).enumerate() {
            dst[..cols.len()].copy_from_slice(&wt[p * n + cols.start..p * n + cols.end]);
        }
    };
    if parallel {
        panels.par_chunks_mut(k * wr).enumerate().for_each(pack);
    } else {
        panels.chunks_mut(k * wr).enumerate().for_each(pack);
    }
    panels
}

/// [`gemm_tt`] for tile `T`, on one thread or all.
pub(crate) fn gemm_tt_with<T: Tile>(
    xt: &[f32],
    wt: &[f32],
    out: &mut [f32],
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
    parallel: bool,
) {
    assert_eq!(xt.len(), k * m, "gemm_tt: xt is not [k = {k}, m = {m}]");
    assert_eq!(wt.len(), k * n, "gemm_tt: wt is not [k = {k}, n = {n}]");
    assert_eq!(out.len(), m * n, "gemm_tt: out is not [m = {m}, n = {n}]");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            out.fill(0.0); // an empty sum
        }
        return;
    }
    let (wr, xr) = (T::WR, T::XR);
    let panels = pack_panels::<T>(wt, k, n, parallel);
    // one task: `rows` rows of out (whole slivers), its own packed sliver of xt
    let task = |(t, block): (usize, &mut [f32]), rows: usize| {
        let i0 = t * rows;
        let mut out_rows: Vec<&mut [f32]> = block.chunks_mut(n).collect();
        let mut xs = vec![0.0f32; KB.min(k) * xr]; // [kc, XR], rows past m stay zero
        for k0 in (0..k).step_by(KB) {
            let kc = KB.min(k - k0);
            let first = k0 == 0 && !accumulate;
            for s in 0..out_rows.len().div_ceil(xr) {
                let (a, b) = (i0 + s * xr, (i0 + s * xr + xr).min(m));
                for (p, d) in xs[..kc * xr].chunks_exact_mut(xr).enumerate() {
                    d[..b - a].copy_from_slice(&xt[(k0 + p) * m + a..(k0 + p) * m + b]);
                    d[b - a..].fill(0.0);
                }
                for g in 0..n.div_ceil(wr) {
                    let panel = &panels[(g * k + k0) * wr..][..kc * wr];
                    let acc = T::kernel_cols(panel, wr, kc, &xs[..kc * xr]);
                    T::put(&acc, &mut out_rows, s * xr, g * wr, first);
                }
            }
        }
    };
    let slivers = m.div_ceil(xr);
    if !parallel {
        return task((0, out), slivers * xr);
    }
    // several tasks per thread, so a thread slowed by other programs does not hold the rest
    let per_task = slivers.div_ceil(4 * rayon::current_num_threads()).max(1) * xr;
    out.par_chunks_mut(per_task * n)
        .enumerate()
        .for_each(|tb| task(tb, per_task));
}
// ANCHOR_END: gemm_tt

#[cfg(test)]
mod tests {
    use super::super::{gemm_naive, tile8::Tile8, Layout};
    use super::*;

    /// Both tiles, one thread and all, store and accumulate, against the naive GEMM reading the
    /// same stored arrays as transposed operands; shapes cut across every tile and block edge
    /// (k = 600 is two full blocks of 256 and a short one).
    #[test]
    fn equals_naive_transposed_gemm() {
        fn run<T: Tile>(name: &str) {
            for (m, k, n) in [(1, 3, 1), (7, 33, 13), (40, 600, 17), (65, 257, 24)] {
                let xt: Vec<f32> = (0..k * m)
                    .map(|i| ((i * 7919) % 23) as f32 / 23.0 - 0.5)
                    .collect();
                let wt: Vec<f32> = (0..k * n)
                    .map(|i| ((i * 104729) % 29) as f32 / 29.0 - 0.5)
                    .collect();
                for (accumulate, parallel) in [(false, false), (true, false), (true, true)] {
                    let start: Vec<f32> = (0..m * n).map(|i| (i % 5) as f32).collect();
                    let (mut want, mut got) = (start.clone(), start);
                    let tr = Layout::Transposed;
                    gemm_naive(&xt, tr, &wt, tr, &mut want, m, k, n, accumulate);
                    gemm_tt_with::<T>(&xt, &wt, &mut got, (m, k, n), accumulate, parallel);
                    for (idx, (g, e)) in got.iter().zip(&want).enumerate() {
                        // sums of ≤ 600 products of size ≤ 0.25, added in another order
                        assert!(
                            (g - e).abs() <= 1e-4 * (1.0 + e.abs()),
                            "{name} m={m} k={k} n={n} accumulate={accumulate} \
                             out[{}][{}]: {g} vs naive {e}",
                            idx / n,
                            idx % n
                        );
                    }
                }
            }
        }
        run::<Tile8>("f32x8 6×16");
        run::<Fast>("this build's tile");
    }
}
