//! # Stage 2 · the packed GEMM: register and cache blocking for prefill
//!
//! `out = x · wᵀ` for many tokens at once (x: [m, k], w: [n, k]) reuses each weight row m
//! times, so it can run at the speed of the FMA units instead of memory. Two blockings
//! (after Goto & van de Geijn, with only the small operand, x, packed):
//!
//! * **registers**: a micro-tile of 6 rows of w × 16 tokens, 96 sums in 12 ymm registers,
//!   shares every load ([`kernel_6x16`]);
//! * **caches**: x packed once into 16-token slivers `[kc, 16]` that stream from L2 ([`PackedX`]),
//!   w read in place, panel by panel from L3 ([`gemm_packed`]).
//!
//! `matmul` (in `mod.rs`) hands column panels of the output to threads, each running
//! [`gemm_packed`] on its panel; [`matmul_simd`] is the same on one thread.

use super::{check_matmul, load8};
use rayon::prelude::*;
use wide::f32x8;

// ANCHOR: tile
/// The micro-tile: 6 rows of w (6 output columns) × 16 rows of x (16 tokens). Its 96 sums are
/// 6 × two f32x8 = 12 accumulators; with 2 registers of x and 1 broadcast of w that is 15 of the
/// 16 ymm registers of AVX2. Each k step loads 2 vectors, broadcasts 6 floats and does 12 FMAs,
/// so the loads (up to 3 per cycle) keep the two FMA units busy.
pub const WR: usize = 6;
const XR: usize = 16;
/// k-block (floats). Each tile is stored once and then added into once per further k-block, so
/// long blocks keep that read-modify-write rare; a packed sliver of x [KC, 16] (64 KiB) then
/// streams from L2 ...
const KC: usize = 1024;
/// ... once for every group of 6 rows in a panel of at most this many rows of w: the bigger the
/// panel, the more kernel calls share one trip of the sliver from L3. Both sizes were chosen by
/// measurement on the machine in benches/README.md (KC 256–2048 × panel 60–720 rows; smaller
/// k-blocks and panels that fit L2 were slower).
const W_PANEL: usize = 360;

/// The micro-kernel over one k-block: acc[r] holds the 16 sums Σ_p w[r][p] · x[i][p] for
/// i = 0..16 (two f32x8, lanes = tokens). `ws`: 6 rows of w, each `kc` long (read in place);
/// `xs`: a packed sliver of 16 rows of x, [kc, 16] (the 16 values of one k step are adjacent).
///
/// For each k step p: acc[r][0..16] += w[r][p] · x[0..16][p]: one broadcast of w[r][p] times
/// the two registers holding x[0..8][p] and x[8..16][p].
#[inline(never)] // compiled on its own, its 15 registers are not shared with the caller's loops
fn kernel_6x16(ws: [&[f32]; WR], xs: &[f32]) -> [[f32x8; 2]; WR] {
    let kc = ws[0].len();
    // every slice cut to exactly kc steps once here, so the loop carries no bounds checks
    let xs = &xs.as_chunks::<XR>().0[..kc]; // xs[p] = x[0..16][p]
    let [w0, w1, w2, w3, w4, w5] = ws.map(|row| &row[..kc]);
    // twelve named accumulators (c<r><half>), so the compiler keeps every one in a register
    let z = f32x8::ZERO;
    let (mut c00, mut c01, mut c10, mut c11, mut c20, mut c21) = (z, z, z, z, z, z);
    let (mut c30, mut c31, mut c40, mut c41, mut c50, mut c51) = (z, z, z, z, z, z);
    for p in 0..kc {
        let (x0, x1) = (load8(&xs[p], 0), load8(&xs[p], 8));
        let w = f32x8::splat(w0[p]);
        (c00, c01) = (w.mul_add(x0, c00), w.mul_add(x1, c01));
        let w = f32x8::splat(w1[p]);
        (c10, c11) = (w.mul_add(x0, c10), w.mul_add(x1, c11));
        let w = f32x8::splat(w2[p]);
        (c20, c21) = (w.mul_add(x0, c20), w.mul_add(x1, c21));
        let w = f32x8::splat(w3[p]);
        (c30, c31) = (w.mul_add(x0, c30), w.mul_add(x1, c31));
        let w = f32x8::splat(w4[p]);
        (c40, c41) = (w.mul_add(x0, c40), w.mul_add(x1, c41));
        let w = f32x8::splat(w5[p]);
        (c50, c51) = (w.mul_add(x0, c50), w.mul_add(x1, c51));
    }
    [
        [c00, c01],
        [c10, c11],
        [c20, c21],
        [c30, c31],
        [c40, c41],
        [c50, c51],
    ]
}
// ANCHOR_END: tile

// ANCHOR: gemm
/// Pack rows `i0..i1` (at most 16), columns `k0..k0+kc`, of x: [m, k] into a sliver
/// `dst: [kc, 16]`, the transpose the micro-kernel reads (16 tokens of one k step adjacent).
/// Missing rows at the bottom edge are zeros, so the kernel has no edge case.
fn pack_x_sliver(
    x: &[f32],
    k: usize,
    (i0, i1): (usize, usize),
    (k0, kc): (usize, usize),
    dst: &mut [f32],
) {
    let row = |r: usize| (i0 + r < i1).then(|| &x[(i0 + r) * k + k0..][..kc]);
    // 8 rows × 8 columns at a time: load 8 rows, one 8×8 transpose, store 8 columns
    let k8 = kc / 8 * 8;
    for half in 0..2 {
        let rows: [Option<&[f32]>; 8] = std::array::from_fn(|r| row(8 * half + r));
        for p in (0..k8).step_by(8) {
            let cols = f32x8::transpose(rows.map(|r| r.map_or(f32x8::ZERO, |r| load8(r, p))));
            for (q, c) in cols.iter().enumerate() {
                dst[(p + q) * XR + 8 * half..][..8].copy_from_slice(&c.to_array());
            }
        }
    }
    for p in k8..kc {
        for r in 0..XR {
            dst[p * XR + r] = row(r).map_or(0.0, |row| row[p]);
        }
    }
}

/// Put a finished tile into the output: acc[r] lane l is out[i + l][j + r]. The first k-block
/// stores (`first`), later ones add. Each half of the tile (8 tokens) is turned around with one
/// 8×8 transpose (6 columns + 2 of zeros), so a token's 6 sums land with one 8-wide access; at
/// the right edge of the output, one float at a time.
fn put_tile(acc: &[[f32x8; 2]; WR], out: &mut [&mut [f32]], i: usize, j: usize, first: bool) {
    for h in 0..2 {
        let z = f32x8::ZERO;
        let c = |r: usize| acc[r][h];
        let tokens = f32x8::transpose([c(0), c(1), c(2), c(3), c(4), c(5), z, z]);
        // tokens[l] lane r = out[i + 8h + l][j + r] (lanes 6 and 7 are zero)
        for (row, t) in out.iter_mut().skip(i + 8 * h).zip(tokens) {
            let row = &mut row[j..];
            if row.len() >= 8 {
                // the 2 floats past the tile get + 0, or 0 when storing: they belong to the next
                // group of columns, which is written after this one
                let v = if first { t } else { load8(row, 0) + t };
                row[..8].copy_from_slice(&v.to_array());
            } else {
                for (o, v) in row.iter_mut().zip(t.to_array()).take(WR) {
                    *o = if first { v } else { *o + v };
                }
            }
        }
    }
}

/// x packed once per product, shared by every thread: k-block by k-block (each ≤ KC long, all
/// of equal length), the rows of x in slivers of 16, each sliver [kc, 16].
pub struct PackedX {
    data: Vec<f32>, // [k-blocks][m/16 slivers][kc, 16]; block at k0 starts at m16 · k0
    m: usize,
    k: usize,
    kb: usize, // k-block length
}

impl PackedX {
    /// Pack x: [m, k] on this thread. Panics if `x.len() != m · k`.
    pub fn new(x: &[f32], m: usize, k: usize) -> PackedX {
        Self::pack(x, m, k, false)
    }

    /// Pack x: [m, k], its slivers spread over the rayon threads.
    pub fn new_parallel(x: &[f32], m: usize, k: usize) -> PackedX {
        Self::pack(x, m, k, true)
    }

    fn pack(x: &[f32], m: usize, k: usize, parallel: bool) -> PackedX {
        assert_eq!(
            x.len(),
            m * k,
            "PackedX: x has {} elements, not [{m}, {k}]",
            x.len()
        );
        let m16 = m.next_multiple_of(XR);
        // equal k-blocks: 1536 → 2 × 768, not 1024 + 512
        let kb = k.div_ceil(k.div_ceil(KC).max(1)).max(1);
        let mut data = vec![0.0f32; m16 * k];
        for k0 in (0..k).step_by(kb) {
            let kc = kb.min(k - k0);
            let block = &mut data[m16 * k0..m16 * (k0 + kc)];
            let pack = |(s, sliver): (usize, &mut [f32])| {
                pack_x_sliver(x, k, (s * XR, m), (k0, kc), sliver)
            };
            if parallel {
                block
                    .par_chunks_exact_mut(XR * kc)
                    .enumerate()
                    .for_each(pack);
            } else {
                block.chunks_exact_mut(XR * kc).enumerate().for_each(pack);
            }
        }
        PackedX { data, m, k, kb }
    }

    /// The k-blocks: (k0, kc, the slivers of that block).
    fn blocks(&self) -> impl Iterator<Item = (usize, usize, &[f32])> {
        let m16 = self.m.next_multiple_of(XR);
        (0..self.k).step_by(self.kb).map(move |k0| {
            let kc = self.kb.min(self.k - k0);
            (k0, kc, &self.data[m16 * k0..m16 * (k0 + kc)])
        })
    }
}

/// `out_rows[i][j] = Σ_p x[i][p] · w[j][p]`, x given packed, the output as one mutable slice per
/// row of x (`out_rows: m × [n]`; the rows may be pieces of a larger matrix, which is how
/// `matmul` gives each thread a disjoint block of columns). w: [n, k], read in place. The loop
/// nest (after Goto & van de Geijn, arranged so that w, the big operand, is never copied):
///
/// ```text
/// for each k-block of ≤ KC
///   for each panel of ≤ W_PANEL rows of w                                  (L3)
///     for each sliver of 16 rows of x (packed)                             (L2)
///       for each group of 6 rows of w:  out[16 × 6] += kernel_6x16(w rows, x sliver)
/// ```
/// Panics if the sizes disagree (programmer error).
pub fn gemm_packed(x: &PackedX, w: &[f32], out_rows: &mut [&mut [f32]]) {
    let (m, k) = (x.m, x.k);
    if m == 0 {
        return; // no rows of output (and no way to tell n from them)
    }
    let n = out_rows.first().map_or(0, |r| r.len());
    assert_eq!(
        out_rows.len(),
        m,
        "gemm_packed: {} output rows for {m} rows of x",
        out_rows.len()
    );
    assert_eq!(
        w.len(),
        n * k,
        "gemm_packed: w has {} elements, not [{n}, {k}]",
        w.len()
    );
    for row in out_rows.iter_mut() {
        assert_eq!(row.len(), n, "gemm_packed: output rows differ in length");
        if k == 0 {
            row.fill(0.0); // an empty sum; otherwise the first k-block stores every output
        }
    }
    let n_full = n / WR * WR; // rows of w in whole groups of 6
    let mut edge = vec![0.0f32; WR * x.kb]; // the last group when it has < 6 rows, zero-padded
    for (k0, kc, slivers) in x.blocks() {
        let w_row = |j: usize| &w[j * k + k0..][..kc];
        let edge = &mut edge[..WR * kc];
        for (j, dst) in (n_full..n).zip(edge.chunks_exact_mut(kc)) {
            dst.copy_from_slice(w_row(j));
        }
        let edge = &*edge;
        for j0 in (0..n).step_by(W_PANEL) {
            let j1 = (j0 + W_PANEL).min(n); // panel of w rows [j0, j1)
            for (s, xs) in slivers.chunks_exact(XR * kc).enumerate() {
                for j in (j0..j1).step_by(WR) {
                    let ws: [&[f32]; WR] = if j < n_full {
                        std::array::from_fn(|r| w_row(j + r))
                    } else {
                        std::array::from_fn(|r| &edge[r * kc..][..kc])
                    };
                    put_tile(&kernel_6x16(ws, xs), out_rows, s * XR, j, k0 == 0);
                }
            }
        }
    }
}

/// GEMM with SIMD, one thread: pack x, then `gemm_packed` over the whole output. Same contract
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
