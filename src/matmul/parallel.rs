//! # Stage 2 · the GEMM on all threads: disjoint column blocks of the output
//!
//! A prefill has a few to a few hundred tokens, but a weight matrix has 192 to 49,152 rows, so
//! the threads split the *columns* of `out` (the rows of w): each task multiplies all of x,
//! packed once and shared, by its panel of w, and writes its own block of `out`.

use rayon::prelude::*;

use super::gemm::{gemm_blocks, Fast, WMat};
use super::{check_matmul, matvec, Layout, PackedX, PAR_MIN_MACS, WR};

// ANCHOR: parallel
/// Output columns per parallel task, at most (a task is a few milliseconds of work at m = 128).
const PANEL: usize = 1024;

/// GEMM on all rayon threads: `out = x · wᵀ`, x: [m, k], w: [n, k], out: [m, n], both operands
/// row-major ([`gemm()`] with [`Layout::RowMajor`] twice). m == 1 is a GEMV.
pub fn matmul(x: &[f32], w: &[f32], out: &mut [f32], m: usize, k: usize, n: usize) {
    let rm = Layout::RowMajor;
    gemm(x, rm, w, rm, out, m, k, n, false);
}

/// `out = x · wᵀ` (or `out += x · wᵀ` when `accumulate`) on all rayon threads, each operand
/// read in its stored layout. The output columns (= rows of w) are cut into panels, a whole
/// number of panels per thread; each task multiplies all of x (packed once, shared) by its
/// panel of w. A task's output is a column block, not a contiguous slice, so it receives its
/// block as m row pieces: every row of `out` is split at the panel boundaries, and the pieces
/// are dealt to the panels (disjoint `&mut` slices, no copy, no unsafe). A panel of w stored
/// transposed is its columns j0 .. j1: the same slice from j0 on, rows still `n` apart.
pub fn gemm(
    x: &[f32],
    x_layout: Layout,
    w: &[f32],
    w_layout: Layout,
    out: &mut [f32],
    m: usize,
    k: usize,
    n: usize,
    accumulate: bool,
) {
    check_matmul(x, w, out, m, k, n);
    if m == 0 || n == 0 {
        return;
    }
    // one row of x is the same k floats in either layout
    if m == 1 && w_layout == Layout::RowMajor && !accumulate {
        return matvec(w, x, out, n, k);
    }
    let threads = rayon::current_num_threads();
    let one_thread = threads == 1 || m * n * k < PAR_MIN_MACS || n < 2 * WR;
    let x = PackedX::pack::<Fast>((x, x_layout), m, k, !one_thread); // read by every task
    let panel = |j0: usize, j1: usize| match w_layout {
        Layout::RowMajor => WMat::Rows(&w[j0 * k..j1 * k]),
        Layout::Transposed => WMat::Cols(&w[j0..], n),
    };
    if one_thread {
        let mut rows: Vec<&mut [f32]> = out.chunks_mut(n).collect(); // m × [n]
        return gemm_blocks::<Fast>(&x, panel(0, n), &mut rows, accumulate);
    }
    let width = panel_width(n, threads);
    column_panels(out, n, width)
        .into_par_iter()
        .enumerate()
        .for_each(|(b, mut rows)| {
            let (j0, j1) = (b * width, (b * width + width).min(n));
            gemm_blocks::<Fast>(&x, panel(j0, j1), &mut rows, accumulate);
        });
}

/// The width of each task's panel of `n` output columns on `threads` threads: panels of at most
/// `PANEL` columns, a multiple of `threads` of them (equal shares), each a multiple of WR wide.
/// The prefill of stored weights (`WeightMatrix::matmul_packed`) splits its rows the same way.
pub fn panel_width(n: usize, threads: usize) -> usize {
    let tasks = n.div_ceil(PANEL).next_multiple_of(threads.max(1));
    n.div_ceil(tasks).next_multiple_of(WR)
}

/// Deal the output `out: [m, n]` out as column panels `width` wide: panel b holds the m row
/// pieces out[i][b·width .. (b+1)·width]. The pieces are disjoint `&mut` slices, so every panel
/// can go to a different thread with no copy and no unsafe. Panics if `n` or `width` is 0.
pub fn column_panels(out: &mut [f32], n: usize, width: usize) -> Vec<Vec<&mut [f32]>> {
    assert!(
        n > 0 && width > 0,
        "column_panels: n = {n}, width = {width}"
    );
    let mut panels: Vec<Vec<&mut [f32]>> = (0..n.div_ceil(width)).map(|_| Vec::new()).collect();
    for row in out.chunks_mut(n) {
        for (panel, piece) in panels.iter_mut().zip(row.chunks_mut(width)) {
            panel.push(piece);
        }
    }
    panels
}
// ANCHOR_END: parallel
