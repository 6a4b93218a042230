//! # Stage 2 · the packed GEMM: register and cache blocking for prefill
//!
//! `out = x · wᵀ` for many tokens at once (x: [m, k], w: [n, k]) reuses each weight row m
//! times, so it can run at the speed of the FMA units instead of memory. Two blockings
//! (after Goto & van de Geijn, with only the small operand, x, packed):
//!
//! * **registers**: a micro-tile of `WR` rows of w × `XR` tokens whose sums stay in registers
//!   and share every load: 8 × 32 in 16 zmm registers with AVX-512 (`tile16.rs`), else
//!   6 × 16 in 12 ymm registers (`tile8.rs`, `wide::f32x8`);
//! * **caches**: x packed once into `XR`-token slivers `[kc, XR]` that stream from L2
//!   ([`PackedX`]), w read in place, panel by panel ([`gemm_packed`]).
//!
//! Either operand may also be stored transposed ([`Layout`]): x's slivers are then plain copies
//! and the kernel reads w's k steps as adjacent floats. The backward of a linear layer
//! (`train/linear.rs`) needs exactly those two products, and so needs no transposed copies.
//!
//! `gemm` (in `parallel.rs`) hands column panels of the output to threads, each running the
//! loop nest below on its panel; [`matmul_simd`] is the same on one thread.

use super::{check_matmul, load8, Layout};
use rayon::prelude::*;
use wide::f32x8;

/// A register tile: the micro-kernel over one k-block and how its sums go into `out`.
/// Implemented by `tile16::Tile16` (AVX-512) and `tile8::Tile8` (f32x8).
pub(crate) trait Tile {
    /// Rows of w per tile (output columns); at most [`MAX_WR`].
    const WR: usize;
    /// Tokens per tile (rows of x per packed sliver), a multiple of 8.
    const XR: usize;
    /// Longest k-block (floats); the blocks of one product have equal lengths.
    const KC: usize;
    /// Rows of w per panel, a multiple of `WR`: every sliver of x walks one panel before the next.
    const W_PANEL: usize;
    /// The tile's sums, in registers.
    type Acc;
    /// The sums over one k-block, w read in place: `ws` = `WR` rows, each `kc` long, and
    /// `xs` = a sliver `[kc, XR]`.
    fn kernel_rows(ws: &[&[f32]], xs: &[f32]) -> Self::Acc;
    /// The same with w stored transposed: w[r][p] = wt[p · ld + r] for p < kc.
    fn kernel_cols(wt: &[f32], ld: usize, kc: usize, xs: &[f32]) -> Self::Acc;
    /// Store (`first`) or add the tile into out[i .. i + XR][j .. j + WR], clipped to `out`.
    fn put(acc: &Self::Acc, out: &mut [&mut [f32]], i: usize, j: usize, first: bool);
}

/// The widest `WR` of any tile (the kernel's rows are gathered in an array this long).
const MAX_WR: usize = 8;

/// The tile this build uses: AVX-512 where the build has it, else f32x8.
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
pub(crate) type Fast = super::tile16::Tile16;
#[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
pub(crate) type Fast = super::tile8::Tile8;

/// Rows of w per tile in this build: a task's share of w should be a whole number of them.
pub const WR: usize = <Fast as Tile>::WR;

// ANCHOR: gemm
/// Pack rows `i0..i1` (at most `xr`), columns `k0..k0+kc`, of x into a sliver `dst: [kc, xr]`,
/// the layout the micro-kernel reads (the `xr` tokens of one k step adjacent). Missing rows at
/// the bottom edge stay zero (`dst` arrives zeroed), so the kernel has no edge case.
/// Row-major x: [m, k] needs a transpose, 8 rows × 8 columns at a time; x stored transposed,
/// [k, m], already has each k step's tokens adjacent, so each step is one copy.
fn pack_x_sliver(
    (x, layout): (&[f32], Layout),
    (m, k): (usize, usize),
    (i0, i1): (usize, usize),
    (k0, kc): (usize, usize),
    xr: usize,
    dst: &mut [f32],
) {
    if layout == Layout::Transposed {
        for (p, d) in dst.chunks_exact_mut(xr).enumerate() {
            d[..i1 - i0].copy_from_slice(&x[(k0 + p) * m + i0..][..i1 - i0]);
        }
        return;
    }
    let row = |r: usize| (i0 + r < i1).then(|| &x[(i0 + r) * k + k0..][..kc]);
    let k8 = kc / 8 * 8;
    for g in 0..xr / 8 {
        // load 8 rows, one 8×8 transpose, store 8 columns
        let rows: [Option<&[f32]>; 8] = std::array::from_fn(|r| row(8 * g + r));
        for p in (0..k8).step_by(8) {
            let cols = f32x8::transpose(rows.map(|r| r.map_or(f32x8::ZERO, |r| load8(r, p))));
            for (q, c) in cols.iter().enumerate() {
                dst[(p + q) * xr + 8 * g..][..8].copy_from_slice(&c.to_array());
            }
        }
    }
    for p in k8..kc {
        for r in 0..xr {
            if let Some(row) = row(r) {
                dst[p * xr + r] = row[p];
            }
        }
    }
}

/// x packed once per product, shared by every thread: k-block by k-block (each ≤ the tile's
/// `KC` long, all of equal length), the rows of x in slivers of `XR`, each sliver [kc, XR].
pub struct PackedX {
    data: Vec<f32>, // [k-blocks][m/XR slivers][kc, XR]; block at k0 starts at m_pad · k0
    m: usize,
    k: usize,
    kb: usize, // k-block length
    xr: usize, // tokens per sliver (the tile's XR)
}

impl PackedX {
    /// Pack row-major x: [m, k] on this thread. Panics if `x.len() != m · k`.
    pub fn new(x: &[f32], m: usize, k: usize) -> PackedX {
        Self::pack::<Fast>((x, Layout::RowMajor), m, k, false)
    }

    /// Pack row-major x: [m, k], its slivers spread over the rayon threads.
    pub fn new_parallel(x: &[f32], m: usize, k: usize) -> PackedX {
        Self::pack::<Fast>((x, Layout::RowMajor), m, k, true)
    }

    /// Pack x (`[m, k]`, stored as `layout` says) for tile `T`.
    pub(crate) fn pack<T: Tile>(
        x: (&[f32], Layout),
        m: usize,
        k: usize,
        parallel: bool,
    ) -> PackedX {
        assert_eq!(
            x.0.len(),
            m * k,
            "PackedX: x has {} elements, not [{m}, {k}]",
            x.0.len()
        );
        let xr = T::XR;
        let m_pad = m.next_multiple_of(xr);
        // equal k-blocks: with KC = 1024, 1536 → 2 × 768, not 1024 + 512
        let kb = k.div_ceil(k.div_ceil(T::KC).max(1)).max(1);
        let mut data = vec![0.0f32; m_pad * k];
        for k0 in (0..k).step_by(kb) {
            let kc = kb.min(k - k0);
            let block = &mut data[m_pad * k0..m_pad * (k0 + kc)];
            let pack = |(s, sliver): (usize, &mut [f32])| {
                let rows = (s * xr, (s * xr + xr).min(m));
                pack_x_sliver(x, (m, k), rows, (k0, kc), xr, sliver)
            };
            if parallel {
                block
                    .par_chunks_exact_mut(xr * kc)
                    .enumerate()
                    .for_each(pack);
            } else {
                block.chunks_exact_mut(xr * kc).enumerate().for_each(pack);
            }
        }
        PackedX { data, m, k, kb, xr }
    }

    /// Rows of x (tokens) and their length: x was `[m, k]`.
    pub fn shape(&self) -> (usize, usize) {
        (self.m, self.k)
    }

    /// The k-blocks: (k0, kc, the slivers of that block).
    fn blocks(&self) -> impl Iterator<Item = (usize, usize, &[f32])> {
        let m_pad = self.m.next_multiple_of(self.xr);
        (0..self.k).step_by(self.kb).map(move |k0| {
            let kc = self.kb.min(self.k - k0);
            (k0, kc, &self.data[m_pad * k0..m_pad * (k0 + kc)])
        })
    }
}

/// w as the loop nest reads it in place: `n` rows of `k`.
#[derive(Clone, Copy)]
pub(crate) enum WMat<'a> {
    /// Row-major w: [n, k]: w[j][p] = data[j · k + p].
    Rows(&'a [f32]),
    /// w stored transposed, `[k, ld]` with ld ≥ n: w[j][p] = data[p · ld + j].
    Cols(&'a [f32], usize),
}

/// `out_rows[i][j] = Σ_p x[i][p] · w[j][p]`, x given packed, the output as one mutable slice per
/// row of x (`out_rows: m × [n]`; the rows may be pieces of a larger matrix, which is how
/// `matmul` gives each thread a disjoint block of columns). w: [n, k], read in place. Panics if
/// the sizes disagree (programmer error).
pub fn gemm_packed(x: &PackedX, w: &[f32], out_rows: &mut [&mut [f32]]) {
    gemm_blocks::<Fast>(x, WMat::Rows(w), out_rows, false)
}

/// The loop nest (after Goto & van de Geijn, arranged so that w, the big operand, is never
/// copied), for tile `T`; `accumulate` adds into `out_rows` instead of overwriting them:
///
/// ```text
/// for each k-block of ≤ KC
///   for each panel of ≤ W_PANEL rows of w                                  (L2/L3)
///     for each sliver of XR rows of x (packed)                             (L1/L2)
///       for each group of WR rows of w:  out[XR × WR] += kernel(w rows, x sliver)
/// ```
pub(crate) fn gemm_blocks<T: Tile>(
    x: &PackedX,
    w: WMat,
    out_rows: &mut [&mut [f32]],
    accumulate: bool,
) {
    const { assert!(T::WR <= MAX_WR && T::W_PANEL % T::WR == 0 && T::XR % 8 == 0) };
    let (m, k, wr) = (x.m, x.k, T::WR);
    assert_eq!(x.xr, T::XR, "gemm: x was packed for another tile");
    if m == 0 {
        return; // no rows of output (and no way to tell n from them)
    }
    let n = out_rows.first().map_or(0, |r| r.len());
    assert_eq!(
        out_rows.len(),
        m,
        "gemm: {} output rows for m = {m}",
        out_rows.len()
    );
    let (data, need) = match w {
        WMat::Rows(d) => (d, n * k),
        WMat::Cols(d, ld) => (
            d,
            if k == 0 || n == 0 {
                0
            } else {
                (k - 1) * ld + n
            },
        ),
    };
    assert!(
        data.len() >= need,
        "gemm: w has {} elements, needs {need} for [{n}, {k}]",
        data.len()
    );
    for row in out_rows.iter_mut() {
        assert_eq!(row.len(), n, "gemm: output rows differ in length");
        if k == 0 && !accumulate {
            row.fill(0.0); // an empty sum; otherwise the first k-block stores every output
        }
    }
    let n_full = n / wr * wr; // rows of w in whole groups of WR
    let mut edge = vec![0.0f32; wr * x.kb]; // the last group when it has < WR rows, zero-padded
    for (k0, kc, slivers) in x.blocks() {
        let edge = &mut edge[..wr * kc];
        for (j, dst) in (n_full..n).zip(edge.chunks_exact_mut(kc)) {
            match w {
                WMat::Rows(d) => dst.copy_from_slice(&d[j * k + k0..][..kc]),
                WMat::Cols(d, ld) => {
                    for (p, v) in dst.iter_mut().enumerate() {
                        *v = d[(k0 + p) * ld + j];
                    }
                }
            }
        }
        let edge = &*edge;
        let first = k0 == 0 && !accumulate;
        for j0 in (0..n).step_by(T::W_PANEL) {
            let j1 = (j0 + T::W_PANEL).min(n); // panel of w rows [j0, j1)
            for (s, xs) in slivers.chunks_exact(T::XR * kc).enumerate() {
                for j in (j0..j1).step_by(wr) {
                    let mut ws: [&[f32]; MAX_WR] = [&[]; MAX_WR];
                    let acc = match w {
                        _ if j >= n_full => {
                            for (r, row) in ws[..wr].iter_mut().enumerate() {
                                *row = &edge[r * kc..][..kc];
                            }
                            T::kernel_rows(&ws[..wr], xs)
                        }
                        WMat::Rows(d) => {
                            for (r, row) in ws[..wr].iter_mut().enumerate() {
                                *row = &d[(j + r) * k + k0..][..kc];
                            }
                            T::kernel_rows(&ws[..wr], xs)
                        }
                        WMat::Cols(d, ld) => T::kernel_cols(&d[k0 * ld + j..], ld, kc, xs),
                    };
                    T::put(&acc, out_rows, s * T::XR, j, first);
                }
            }
        }
    }
}

/// GEMM with SIMD, one thread: pack x, then the loop nest over the whole output. Same contract
/// as `matmul_naive`.
pub fn matmul_simd(x: &[f32], w: &[f32], out: &mut [f32], m: usize, k: usize, n: usize) {
    check_matmul(x, w, out, m, k, n);
    if n == 0 {
        return;
    }
    let mut rows: Vec<&mut [f32]> = out.chunks_mut(n).collect(); // m × [n]
    gemm_packed(&PackedX::new(x, m, k), w, &mut rows);
}
// ANCHOR_END: gemm

#[cfg(test)]
mod tests {
    use super::super::{gemm_naive, tile8::Tile8};
    use super::*;

    /// Both tiles (the f32x8 one is compiled everywhere, the AVX-512 one where the build has
    /// it), both layouts of each operand, store and accumulate, against the naive reference,
    /// on shapes that are not multiples of any tile (m = 1..=20 covers the bottom edge).
    #[test]
    fn every_tile_and_layout_equals_naive() {
        fn run<T: Tile>(name: &str) {
            for (m, k, n) in [
                (1, 5, 3),
                (7, 33, 13),
                (20, 70, 9),
                (33, 9, 17),
                (40, 1030, 14),
            ] {
                for xl in [Layout::RowMajor, Layout::Transposed] {
                    for wl in [Layout::RowMajor, Layout::Transposed] {
                        check::<T>(name, (m, k, n), xl, wl);
                    }
                }
            }
            for m in 1..=20 {
                check::<T>(name, (m, 19, 11), Layout::RowMajor, Layout::RowMajor);
            }
        }
        run::<Tile8>("f32x8 6×16");
        run::<Fast>("this build's tile");
    }

    fn check<T: Tile>(name: &str, (m, k, n): (usize, usize, usize), xl: Layout, wl: Layout) {
        let x: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7919) % 23) as f32 / 23.0 - 0.5)
            .collect();
        let w: Vec<f32> = (0..n * k)
            .map(|i| ((i * 104729) % 29) as f32 / 29.0 - 0.5)
            .collect();
        for accumulate in [false, true] {
            let start: Vec<f32> = (0..m * n).map(|i| (i % 5) as f32).collect();
            let mut want = start.clone();
            gemm_naive(&x, xl, &w, wl, &mut want, m, k, n, accumulate);
            let mut got = start.clone();
            let mut rows: Vec<&mut [f32]> = got.chunks_mut(n).collect();
            let wm = match wl {
                Layout::RowMajor => WMat::Rows(&w),
                Layout::Transposed => WMat::Cols(&w, n),
            };
            gemm_blocks::<T>(
                &PackedX::pack::<T>((&x[..], xl), m, k, false),
                wm,
                &mut rows,
                accumulate,
            );
            for (idx, (g, e)) in got.iter().zip(&want).enumerate() {
                // sums of ≤ 1030 products of size ≤ 0.25, added in another order
                assert!(
                    (g - e).abs() <= 1e-4 * (1.0 + e.abs()),
                    "{name} m={m} k={k} n={n} {xl:?}/{wl:?} accumulate={accumulate} \
                     out[{}][{}]: {g} vs naive {e}",
                    idx / n,
                    idx % n
                );
            }
        }
    }
}
