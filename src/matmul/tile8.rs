//! # Stage 2 · the f32x8 register tile: 6 rows of w × 16 tokens
//!
//! The portable tile (`wide::f32x8`: one AVX2 register, or two SSE halves on older CPUs). It is
//! the GEMM's tile wherever the build has no AVX-512F, and it is compiled and tested everywhere
//! (`gemm.rs`'s tests run both tiles against `matmul_naive`).

use wide::f32x8;

use super::gemm::Tile;
use super::load8;

// ANCHOR: tile
/// The micro-tile: 6 rows of w (6 output columns) × 16 rows of x (16 tokens). Its 96 sums are
/// 6 × two f32x8 = 12 accumulators; with 2 registers of x and 1 broadcast of w that is 15 of the
/// 16 ymm registers of AVX2. Each k step loads 2 vectors, broadcasts 6 floats and does 12 FMAs,
/// so the loads (up to 3 per cycle) keep the two FMA units busy.
pub(crate) struct Tile8;

/// acc[r] = [out[i..i+8][j+r], out[i+8..i+16][j+r]]: two f32x8 of tokens per row of w.
type Acc8 = [[f32x8; 2]; 6];

impl Tile for Tile8 {
    const WR: usize = 6;
    const XR: usize = 16;
    /// k-block (floats). Each tile is stored once and then added into once per further k-block,
    /// so long blocks keep that read-modify-write rare; a packed sliver of x [KC, 16] (64 KiB)
    /// then streams from L2 ...
    const KC: usize = 1024;
    /// ... once for every group of 6 rows in a panel of at most this many rows of w: the bigger
    /// the panel, the more kernel calls share one trip of the sliver from L3. Both sizes were
    /// chosen by measurement on the machine in benches/README.md (KC 256–2048 × panel 60–720
    /// rows; smaller k-blocks and panels that fit L2 were slower).
    const W_PANEL: usize = 360;
    type Acc = Acc8;

    fn kernel_rows(ws: &[&[f32]], xs: &[f32]) -> Acc8 {
        let ws: [&[f32]; 6] = ws.try_into().expect("6 rows of w");
        kernel_rows_6x16(ws, xs)
    }

    fn kernel_cols(wt: &[f32], ld: usize, kc: usize, xs: &[f32]) -> Acc8 {
        kernel_cols_6x16(wt, ld, kc, xs)
    }

    fn put(acc: &Acc8, out: &mut [&mut [f32]], i: usize, j: usize, first: bool) {
        put_6x16(acc, out, i, j, first)
    }
}

/// w read in place: `ws` = 6 rows of w, each `kc` long; step p reads w[0..6][p].
#[inline(never)] // compiled on its own, its 15 registers are not shared with the caller's loops
fn kernel_rows_6x16(ws: [&[f32]; 6], xs: &[f32]) -> Acc8 {
    let kc = ws[0].len();
    // every slice cut to exactly kc steps once here, so the loop carries no bounds checks
    let [w0, w1, w2, w3, w4, w5] = ws.map(|row| &row[..kc]);
    kernel_6x16(kc, |p| [w0[p], w1[p], w2[p], w3[p], w4[p], w5[p]], xs)
}

/// w stored transposed (`[k, ld]`): step p reads the 6 adjacent floats wt[p·ld .. p·ld + 6].
#[inline(never)]
fn kernel_cols_6x16(wt: &[f32], ld: usize, kc: usize, xs: &[f32]) -> Acc8 {
    kernel_6x16(
        kc,
        |p| *wt[p * ld..].first_chunk::<6>().expect("6 columns of wt"),
        xs,
    )
}

/// The micro-kernel over one k-block: acc[r] holds the 16 sums Σ_p w[r][p] · x[i][p] for
/// i = 0..16 (two f32x8, lanes = tokens). `w_at(p)`: the 6 weights w[0..6][p] of step p;
/// `xs`: a packed sliver of 16 rows of x, [kc, 16] (the 16 values of one k step are adjacent).
///
/// For each k step p: acc[r][0..16] += w[r][p] · x[0..16][p]: one broadcast of w[r][p] times
/// the two registers holding x[0..8][p] and x[8..16][p].
#[inline(always)]
fn kernel_6x16(kc: usize, w_at: impl Fn(usize) -> [f32; 6], xs: &[f32]) -> Acc8 {
    let xs = &xs.as_chunks::<16>().0[..kc]; // xs[p] = x[0..16][p]
                                            // twelve named accumulators (c<r><half>), so the compiler keeps every one in a register
    let z = f32x8::ZERO;
    let (mut c00, mut c01, mut c10, mut c11, mut c20, mut c21) = (z, z, z, z, z, z);
    let (mut c30, mut c31, mut c40, mut c41, mut c50, mut c51) = (z, z, z, z, z, z);
    for p in 0..kc {
        let (x0, x1) = (load8(&xs[p], 0), load8(&xs[p], 8));
        let w6 = w_at(p);
        let w = f32x8::splat(w6[0]);
        (c00, c01) = (w.mul_add(x0, c00), w.mul_add(x1, c01));
        let w = f32x8::splat(w6[1]);
        (c10, c11) = (w.mul_add(x0, c10), w.mul_add(x1, c11));
        let w = f32x8::splat(w6[2]);
        (c20, c21) = (w.mul_add(x0, c20), w.mul_add(x1, c21));
        let w = f32x8::splat(w6[3]);
        (c30, c31) = (w.mul_add(x0, c30), w.mul_add(x1, c31));
        let w = f32x8::splat(w6[4]);
        (c40, c41) = (w.mul_add(x0, c40), w.mul_add(x1, c41));
        let w = f32x8::splat(w6[5]);
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

/// Put a finished tile into the output: acc[r] lane l is out[i + l][j + r]. The first k-block
/// stores (`first`), later ones add. Each half of the tile (8 tokens) is turned around with one
/// 8×8 transpose (6 columns + 2 of zeros), so a token's 6 sums land with one 8-wide access; at
/// the right edge of the output, one float at a time.
fn put_6x16(acc: &Acc8, out: &mut [&mut [f32]], i: usize, j: usize, first: bool) {
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
                for (o, v) in row.iter_mut().zip(t.to_array()).take(6) {
                    *o = if first { v } else { *o + v };
                }
            }
        }
    }
}
