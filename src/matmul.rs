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
//!    multiply-add, several independent accumulators, register blocking (a 4×3 tile of outputs
//!    shares every load) and cache blocking (a panel of `w` stays in L2, four rows of `x` in L1).
//! 3. `matmul` / `matvec`: the SIMD kernels on disjoint output rows across rayon threads.
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
//! for the register/cache blocking idea; here in its simplest dot-product form.

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

/// out = w · x, the reference GEMV. w: [n, k], x: [k], out: [n].
pub fn matvec_naive(w: &[f32], x: &[f32], out: &mut [f32], n: usize, k: usize) {
    matmul_naive(x, w, out, 1, k, n);
}
// ANCHOR_END: naive

/// Eight consecutive floats starting at `i` as one SIMD register (an unaligned load).
#[inline(always)]
fn load8(s: &[f32], i: usize) -> f32x8 {
    let a: [f32; 8] = s[i..i + 8].try_into().expect("slice of 8");
    f32x8::new(a)
}

// ANCHOR: dot
/// Σ a[i]·b[i] with f32x8 fused multiply-adds. Four accumulators, because one FMA takes ~4
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
/// accumulators per row keep eight FMAs in flight. w: [n, k], x: [k], out: [n].
pub fn matvec_simd(w: &[f32], x: &[f32], out: &mut [f32], n: usize, k: usize) {
    check_matmul(x, w, out, 1, k, n);
    let k8 = k / 8 * 8;
    let mut j = 0;
    while j + 4 <= n {
        let rows = [
            &w[j * k..][..k],
            &w[(j + 1) * k..][..k],
            &w[(j + 2) * k..][..k],
            &w[(j + 3) * k..][..k],
        ];
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
            for q in k8..k {
                s += rows[r][q] * x[q];
            }
            out[j + r] = s;
        }
        j += 4;
    }
    for jj in j..n {
        out[jj] = dot(&w[jj * k..(jj + 1) * k], x);
    }
}

/// Below this many multiply-adds a GEMV is not worth waking a second thread for.
const PAR_MIN_MACS: usize = 1 << 15;

/// GEMV on all rayon threads: disjoint chunks of output rows (and the weight rows they read).
/// About four chunks per thread, so a thread slowed by a neighbour can be helped by the others,
/// and never fewer than 16 rows per chunk.
pub fn matvec(w: &[f32], x: &[f32], out: &mut [f32], n: usize, k: usize) {
    check_matmul(x, w, out, 1, k, n);
    let threads = rayon::current_num_threads();
    if threads == 1 || n * k < PAR_MIN_MACS {
        return matvec_simd(w, x, out, n, k);
    }
    let rows = n.div_ceil(threads * 4).max(16).next_multiple_of(4);
    out.par_chunks_mut(rows).enumerate().for_each(|(c, out_c)| {
        let j0 = c * rows;
        let nc = out_c.len();
        matvec_simd(&w[j0 * k..(j0 + nc) * k], x, out_c, nc, k);
    });
}
// ANCHOR_END: matvec

// ANCHOR: tile
/// Rows of x per register tile, rows of w per register tile: 4×3 = 12 accumulators + 3 w
/// registers + 1 x register = the 16 ymm registers of AVX2.
const MR: usize = 4;
const NR: usize = 3;
/// k-block (floats): 4 rows of x and 3 rows of w × 512 × 4 B = 14 KiB stay in the 32 KiB L1.
const KC: usize = 512;
/// w rows per panel: 96 × KC × 4 B = 192 KiB of w in the 512 KiB L2 cache ...
const NC: usize = 96;
/// ... next to a block of 128 rows of x (256 KiB).
const MC: usize = 128;

/// The micro-kernel: out[i][j] (+)= x[i]·w[j] for a 4×3 tile over one k-block.
/// `xs`: 4 row slices of x, `ws`: 3 row slices of w, all of length kc.
#[inline(always)]
fn tile_4x3(xs: [&[f32]; MR], ws: [&[f32]; NR], kc: usize) -> [[f32; NR]; MR] {
    let mut acc = [[f32x8::ZERO; NR]; MR];
    let k8 = kc / 8 * 8;
    let mut p = 0;
    while p < k8 {
        let wv = [load8(ws[0], p), load8(ws[1], p), load8(ws[2], p)];
        for i in 0..MR {
            let xv = load8(xs[i], p);
            for j in 0..NR {
                acc[i][j] = xv.mul_add(wv[j], acc[i][j]);
            }
        }
        p += 8;
    }
    let mut r = [[0.0f32; NR]; MR];
    for i in 0..MR {
        for j in 0..NR {
            let mut s = acc[i][j].reduce_add();
            for q in k8..kc {
                s += xs[i][q] * ws[j][q];
            }
            r[i][j] = s;
        }
    }
    r
}
// ANCHOR_END: tile

// ANCHOR: gemm
/// Floats of padding after each packed row. Rows whose length is a multiple of 1024 floats
/// (k = 1024, 2048, 8192) start 4 KiB apart, so the 7 rows a tile reads would all compete for
/// the same few L1 cache sets; packing them 16 floats further apart spreads them out.
const PAD: usize = 16;

/// Copy rows `r0..r1`, columns `k0..k0+kc`, of a matrix with `k` columns into `dst` with row
/// stride `stride` (packing: contiguous, padded, ready for the tile loop).
fn pack(
    src: &[f32],
    k: usize,
    (r0, r1): (usize, usize),
    (k0, kc): (usize, usize),
    dst: &mut [f32],
    stride: usize,
) {
    for (r, d) in (r0..r1).zip(dst.chunks_mut(stride)) {
        d[..kc].copy_from_slice(&src[r * k + k0..r * k + k0 + kc]);
    }
}

/// GEMM with SIMD, one thread: cache blocks (k-block → block of x rows → panel of w rows, each
/// packed into a padded buffer), then 4×3 register tiles; edges that do not fill a tile fall
/// back to `dot`. Same contract as `matmul_naive`.
pub fn matmul_simd(x: &[f32], w: &[f32], out: &mut [f32], m: usize, k: usize, n: usize) {
    check_matmul(x, w, out, m, k, n);
    out.fill(0.0);
    // k-blocks of equal length (a multiple of 8, at most KC): k = 576 → 2 × 288, not 512 + 64
    let kb = k.div_ceil(k.div_ceil(KC).max(1)).next_multiple_of(8);
    let stride = kb.min(k) + PAD;
    let mut xp = vec![0.0f32; MC.min(m) * stride]; // x block: [MC, KC] (+ padding)
    let mut wp = vec![0.0f32; NC.min(n) * stride]; // w panel: [NC, KC] (+ padding)
    for k0 in (0..k).step_by(kb.max(1)) {
        let kc = kb.min(k - k0);
        for i0 in (0..m).step_by(MC) {
            let i1 = (i0 + MC).min(m); // block of x rows [i0, i1): in L2
            pack(x, k, (i0, i1), (k0, kc), &mut xp, stride);
            let xr = |i: usize| &xp[(i - i0) * stride..][..kc];
            for j0 in (0..n).step_by(NC) {
                let j1 = (j0 + NC).min(n); // panel of w rows [j0, j1): in L2 too
                pack(w, k, (j0, j1), (k0, kc), &mut wp, stride);
                let wr = |j: usize| &wp[(j - j0) * stride..][..kc];
                let mut i = i0;
                while i + MR <= i1 {
                    let xs = [xr(i), xr(i + 1), xr(i + 2), xr(i + 3)]; // in L1
                    let mut j = j0;
                    while j + NR <= j1 {
                        let t = tile_4x3(xs, [wr(j), wr(j + 1), wr(j + 2)], kc);
                        for (a, row) in t.iter().enumerate() {
                            for (b, v) in row.iter().enumerate() {
                                out[(i + a) * n + j + b] += v;
                            }
                        }
                        j += NR;
                    }
                    for jj in j..j1 {
                        for a in 0..MR {
                            out[(i + a) * n + jj] += dot(xs[a], wr(jj));
                        }
                    }
                    i += MR;
                }
                for ii in i..i1 {
                    for jj in j0..j1 {
                        out[ii * n + jj] += dot(xr(ii), wr(jj));
                    }
                }
            }
        }
    }
}
// ANCHOR_END: gemm

// ANCHOR: parallel
/// GEMM on all rayon threads. m == 1 is a GEMV. With enough rows, each thread takes disjoint
/// output rows (`par_chunks_mut`); with few rows (a short prompt), the output columns are split
/// instead: each task computes its column block into its own buffer, copied in afterwards.
pub fn matmul(x: &[f32], w: &[f32], out: &mut [f32], m: usize, k: usize, n: usize) {
    check_matmul(x, w, out, m, k, n);
    if m == 1 {
        return matvec(w, x, out, n, k);
    }
    let threads = rayon::current_num_threads();
    if threads == 1 || m * n * k < PAR_MIN_MACS {
        return matmul_simd(x, w, out, m, k, n);
    }
    if m >= 2 * MR * threads {
        // about two row chunks per thread, each a multiple of the tile height
        let rows = m.div_ceil(2 * threads).next_multiple_of(MR);
        out.par_chunks_mut(rows * n)
            .enumerate()
            .for_each(|(c, out_c)| {
                let (i0, mc) = (c * rows, out_c.len() / n);
                matmul_simd(&x[i0 * k..(i0 + mc) * k], w, out_c, mc, k, n);
            });
    } else {
        let cols = n.div_ceil(2 * threads).next_multiple_of(NR);
        let blocks: Vec<(usize, Vec<f32>)> = (0..n.div_ceil(cols))
            .into_par_iter()
            .map(|b| {
                let (j0, j1) = (b * cols, ((b + 1) * cols).min(n));
                let mut o = vec![0.0; m * (j1 - j0)]; // o: [m, j1-j0]
                matmul_simd(x, &w[j0 * k..j1 * k], &mut o, m, k, j1 - j0);
                (j0, o)
            })
            .collect();
        for (j0, o) in blocks {
            let nb = o.len() / m;
            for i in 0..m {
                out[i * n + j0..i * n + j0 + nb].copy_from_slice(&o[i * nb..(i + 1) * nb]);
            }
        }
    }
}
// ANCHOR_END: parallel

#[cfg(test)]
mod tests {
    use super::*;

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
