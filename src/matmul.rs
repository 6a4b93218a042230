//! # Stage 2 · matmul: where the time goes
//!
//! Every linear layer of the model is `y = x · Wᵀ` with the weight stored `[out, in]`:
//!
//! ```text
//! x: [m, k]  (m tokens, k = in_features)      w: [n, k]  (n = out_features)
//! out: [m, n],   out[i][j] = Σ_p x[i][p] · w[j][p]     (2·m·n·k floating-point operations)
//! ```
//!
//! Each output element is the dot product of two *contiguous* rows, so the same loops serve
//! prefill (m = prompt length: GEMM, compute-bound) and decode (m = 1: GEMV, bound by how fast
//! the weights stream from memory). Three versions with one signature:
//!
//! 1. `matmul_naive` / `matvec_naive`: three loops, the reference every other kernel is tested
//!    against. Kept on purpose.
//! 2. `matmul_simd` / `matvec_simd`: `wide::f32x8` (eight lanes = one AVX2 register) with fused
//!    multiply-add and several independent accumulators; the GEMM adds register blocking (a tile
//!    of 6 rows of `w` × 16 tokens, 96 sums in 12 registers, shares every load) and cache
//!    blocking (x packed once into 16-token slivers that stream from L2, w read in place).
//! 3. `matmul` / `matvec`: the SIMD kernels across rayon threads, each writing its own block of
//!    the output (column panels for the GEMM, row chunks for the GEMV).
//!
//! **How FMA/AVX2 get emitted.** `wide` chooses its implementation at *compile* time from the
//! enabled target features. `.cargo/config.toml` sets `-C target-cpu=native`, so a plain
//! `cargo build --release` on this machine compiles `f32x8::mul_add` to one `vfmadd` on a `ymm`
//! register. We chose compile-time features over runtime detection because runtime dispatch
//! would need `#[target_feature]` copies of every kernel; the price is that a binary built for
//! `native` only runs on CPUs that have what the build machine had. [`simd_report`] says what
//! this build got, and the CLI warns when FMA is missing.
//!
//! Reference: Goto & van de Geijn, "Anatomy of high-performance matrix multiplication" (2008),
//! for the register/cache blocking idea; here with only the small operand (x) packed.

use rayon::prelude::*;
use wide::f32x8;

/// What SIMD this build compiled the kernels for (decided at compile time, see the module doc).
pub fn simd_report() -> &'static str {
    if cfg!(all(target_feature = "avx2", target_feature = "fma")) {
        "AVX2 + FMA: f32x8 is one ymm register, mul_add is one fused instruction"
    } else if cfg!(target_feature = "avx") {
        "AVX without FMA: multiply and add are separate instructions (slower, slightly different rounding)"
    } else {
        "no AVX2/FMA in this build: f32x8 is emulated with narrower registers; build with \
         RUSTFLAGS=\"-C target-cpu=native\" (the repo's .cargo/config.toml does this)"
    }
}

/// True when the kernels were compiled with AVX2 and FMA.
pub fn has_fma() -> bool {
    cfg!(all(target_feature = "avx2", target_feature = "fma"))
}

/// Shape check shared by the matmul variants. Kernels are an internal API: a wrong length is a
/// programmer error (shapes are checked once at load time), so it panics with the sizes.
fn check_matmul(x: &[f32], w: &[f32], out: &[f32], m: usize, k: usize, n: usize) {
    assert_eq!(
        x.len(),
        m * k,
        "matmul: x has {} elements, expected m·k = {m}·{k}",
        x.len()
    );
    assert_eq!(
        w.len(),
        n * k,
        "matmul: w has {} elements, expected n·k = {n}·{k}",
        w.len()
    );
    assert_eq!(
        out.len(),
        m * n,
        "matmul: out has {} elements, expected m·n = {m}·{n}",
        out.len()
    );
}

// ANCHOR: naive
/// out = x · wᵀ, the reference. x: [m, k], w: [n, k] (weights are [out, in]), out: [m, n].
/// Panics if a slice length disagrees with the sizes (programmer error).
pub fn matmul_naive(x: &[f32], w: &[f32], out: &mut [f32], m: usize, k: usize, n: usize) {
    check_matmul(x, w, out, m, k, n);
    for i in 0..m {
        for j in 0..n {
            // out[i][j] = Σ_p x[i][p] · w[j][p]
            let mut sum = 0.0f32;
            for p in 0..k {
                sum += x[i * k + p] * w[j * k + p];
            }
            out[i * n + j] = sum;
        }
    }
}

/// out = w · x, the reference GEMV. `w: [n, k], x: [k], out: [n]`.
pub fn matvec_naive(w: &[f32], x: &[f32], out: &mut [f32], n: usize, k: usize) {
    matmul_naive(x, w, out, 1, k, n);
}
// ANCHOR_END: naive

/// Eight consecutive floats starting at `i` as one SIMD register (an unaligned load). Every
/// kernel (f32 here, the stored types in `quant/`) loads its f32 operands through this.
#[inline(always)]
pub(crate) fn load8(s: &[f32], i: usize) -> f32x8 {
    let a: [f32; 8] = s[i..i + 8].try_into().expect("slice of 8");
    f32x8::new(a)
}

// ANCHOR: dot
/// `Σ a[i]·b[i]` with f32x8 fused multiply-adds. Four accumulators, because one FMA takes ~4
/// cycles and the core can start two per cycle: a single running sum would wait on itself.
/// Panics if the lengths differ.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "dot: lengths differ");
    let n = a.len();
    let (mut s0, mut s1, mut s2, mut s3) = (f32x8::ZERO, f32x8::ZERO, f32x8::ZERO, f32x8::ZERO);
    let mut i = 0;
    while i + 32 <= n {
        s0 = load8(a, i).mul_add(load8(b, i), s0);
        s1 = load8(a, i + 8).mul_add(load8(b, i + 8), s1);
        s2 = load8(a, i + 16).mul_add(load8(b, i + 16), s2);
        s3 = load8(a, i + 24).mul_add(load8(b, i + 24), s3);
        i += 32;
    }
    while i + 8 <= n {
        s0 = load8(a, i).mul_add(load8(b, i), s0);
        i += 8;
    }
    let mut sum = ((s0 + s1) + (s2 + s3)).reduce_add();
    for p in i..n {
        sum += a[p] * b[p]; // the tail that does not fill a register
    }
    sum
}
// ANCHOR_END: dot

// ANCHOR: matvec
/// GEMV with SIMD, one thread: four weight rows at a time share each load of `x`, two
/// accumulators per row keep eight FMAs in flight. `w: [n, k], x: [k], out: [n]`.
///
/// The four rows are taken from the four *quarters* of w (rows i, q+i, 2q+i, 3q+i with q = n/4),
/// not four neighbours: each quarter is then read front to back as one long stream, which the
/// hardware prefetcher follows. Four neighbouring rows of a short matrix row (576 floats = 2.3 KB)
/// would start four new streams every 9 KB; on the 113 MB output head that halved the bandwidth.
pub fn matvec_simd(w: &[f32], x: &[f32], out: &mut [f32], n: usize, k: usize) {
    check_matmul(x, w, out, 1, k, n);
    let k8 = k / 8 * 8;
    let q = n / 4; // rows per quarter
    for i in 0..q {
        let rows: [&[f32]; 4] = std::array::from_fn(|r| &w[(r * q + i) * k..][..k]);
        let mut acc = [f32x8::ZERO; 8];
        let mut p = 0;
        while p + 16 <= k8 {
            let (xa, xb) = (load8(x, p), load8(x, p + 8));
            for r in 0..4 {
                acc[2 * r] = load8(rows[r], p).mul_add(xa, acc[2 * r]);
                acc[2 * r + 1] = load8(rows[r], p + 8).mul_add(xb, acc[2 * r + 1]);
            }
            p += 16;
        }
        if p < k8 {
            let xa = load8(x, p);
            for r in 0..4 {
                acc[2 * r] = load8(rows[r], p).mul_add(xa, acc[2 * r]);
            }
        }
        for r in 0..4 {
            let mut s = (acc[2 * r] + acc[2 * r + 1]).reduce_add();
            for t in k8..k {
                s += rows[r][t] * x[t];
            }
            out[r * q + i] = s;
        }
    }
    for j in 4 * q..n {
        out[j] = dot(&w[j * k..(j + 1) * k], x); // the 0–3 rows left over
    }
}

/// Below this many multiply-adds a GEMV is not worth waking a second thread for.
const PAR_MIN_MACS: usize = 1 << 15;

/// Rows of output per parallel GEMV task, for `n` rows on the current rayon pool: about four
/// chunks per thread, so a thread slowed by a neighbour can be helped by the others; never
/// fewer than 16 rows; a multiple of 4 (`matvec_simd` takes rows four at a time). Every GEMV,
/// f32 or stored type (`WeightMatrix::matvec`), splits its rows by this rule.
pub fn gemv_chunk_rows(n: usize) -> usize {
    n.div_ceil(rayon::current_num_threads() * 4)
        .max(16)
        .next_multiple_of(4)
}

/// GEMV on all rayon threads: disjoint chunks of output rows (and the weight rows they read),
/// [`gemv_chunk_rows`] each.
pub fn matvec(w: &[f32], x: &[f32], out: &mut [f32], n: usize, k: usize) {
    check_matmul(x, w, out, 1, k, n);
    let threads = rayon::current_num_threads();
    if threads == 1 || n * k < PAR_MIN_MACS {
        return matvec_simd(w, x, out, n, k);
    }
    let rows = gemv_chunk_rows(n);
    out.par_chunks_mut(rows).enumerate().for_each(|(c, out_c)| {
        let j0 = c * rows;
        let nc = out_c.len();
        matvec_simd(&w[j0 * k..(j0 + nc) * k], x, out_c, nc, k);
    });
}
// ANCHOR_END: matvec

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

// ANCHOR: parallel
/// Output columns per parallel task, at most (a task is a few milliseconds of work at m = 128).
const PANEL: usize = 1024;

/// GEMM on all rayon threads. m == 1 is a GEMV. Otherwise the output columns (= rows of w) are
/// cut into panels, a whole number of panels per thread; each task multiplies all of x by its
/// panel of w. A task's output is a column block, not a contiguous slice, so it receives its
/// block as m row pieces: every row of `out` is split at the panel boundaries, and the pieces are
/// dealt to the panels (disjoint `&mut` slices, no copy, no unsafe).
pub fn matmul(x: &[f32], w: &[f32], out: &mut [f32], m: usize, k: usize, n: usize) {
    check_matmul(x, w, out, m, k, n);
    if m == 1 {
        return matvec(w, x, out, n, k);
    }
    let threads = rayon::current_num_threads();
    if threads == 1 || m * n * k < PAR_MIN_MACS || n < 2 * WR {
        return matmul_simd(x, w, out, m, k, n);
    }
    // panels of ≤ PANEL columns, a multiple of `threads` of them, each a multiple of WR wide
    let tasks = n.div_ceil(PANEL).next_multiple_of(threads);
    let width = n.div_ceil(tasks).next_multiple_of(WR);
    let x = PackedX::new_parallel(x, m, k); // packed once, read by every task
    column_panels(out, n, width)
        .into_par_iter()
        .enumerate()
        .for_each(|(b, mut rows)| {
            let (j0, j1) = (b * width, (b * width + width).min(n));
            gemm_packed(&x, &w[j0 * k..j1 * k], &mut rows);
        });
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Empty products: no rows, no columns, or k = 0 (an empty sum is 0).
    #[test]
    fn empty_shapes() {
        for f in [matmul_naive, matmul_simd, matmul] {
            f(&[], &[1.0; 6], &mut [], 0, 3, 2);
            f(&[1.0; 6], &[], &mut [], 2, 3, 0);
            let mut out = [f32::NAN; 4];
            f(&[], &[], &mut out, 2, 0, 2);
            assert_eq!(out, [0.0; 4]);
        }
    }

    /// 2×3 · (2×3)ᵀ by hand: x = [[1,2,3],[4,5,6]], w = [[1,0,1],[0,1,0]] → [[4,2],[10,5]].
    #[test]
    fn by_hand() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let w = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0];
        let want = [4.0, 2.0, 10.0, 5.0];
        for f in [matmul_naive, matmul_simd, matmul] {
            let mut out = [0.0; 4];
            f(&x, &w, &mut out, 2, 3, 2);
            assert_eq!(out, want);
        }
        assert_eq!(dot(&x, &[1.0; 6]), 21.0);
    }
}
