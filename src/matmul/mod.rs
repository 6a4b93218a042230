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
//!    multiply-add and several independent accumulators; the GEMM (`gemm.rs`) adds register
//!    blocking (a tile of rows of `w` × tokens whose sums stay in registers and share every
//!    load: 8 × 32 in 16 zmm registers with AVX-512 (`tile16.rs`), 6 × 16 in 12 ymm registers
//!    without (`tile8.rs`)) and cache blocking (x packed once into slivers of tokens that
//!    stream from L2, w read in place).
//! 3. `matmul` / `matvec`: the SIMD kernels across rayon threads, each writing its own block of
//!    the output (column panels for the GEMM, row chunks for the GEMV).
//!
//! [`gemm()`] is the general form behind `matmul`: either operand may be stored transposed
//! ([`Layout`]) and the product may be added into `out`, which is what the backward of a
//! linear layer needs (`train/linear.rs`); [`gemm_naive`] is its reference.
//!
//! **How FMA/AVX2/AVX-512 get emitted.** `wide` chooses its implementation at *compile* time
//! from the enabled target features, and the AVX-512 tile is compiled only when the build has
//! AVX-512F. `.cargo/config.toml` sets `-C target-cpu=native`, so a plain
//! `cargo build --release` on this machine compiles `f32x8::mul_add` to one `vfmadd` on a `ymm`
//! register and the GEMM's tile to `vfmadd` on `zmm` registers. We chose compile-time features
//! over runtime detection because runtime dispatch would need `#[target_feature]` copies of
//! every kernel; the price is that a binary built for `native` only runs on CPUs that have what
//! the build machine had. [`simd_report`] says what this build got, and the CLI warns when FMA
//! is missing.
//!
//! Reference: Goto & van de Geijn, "Anatomy of high-performance matrix multiplication" (2008),
//! for the register/cache blocking idea; here with only the small operand (x) packed.

mod gemm;
mod pack_t;
mod parallel;
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
mod tile16;
// the f32x8 tile: the GEMM's tile without AVX-512; with it, compiled for its tests only
#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "avx512f"))))]
mod tile8;

pub use gemm::{gemm_packed, matmul_simd, PackedX, WR};
pub use pack_t::gemm_tt;
pub use parallel::{column_panels, gemm, matmul, panel_width};
use rayon::prelude::*;
use wide::f32x8;

/// What SIMD this build compiled the kernels for (decided at compile time, see the module doc).
pub fn simd_report() -> &'static str {
    if cfg!(all(target_feature = "avx512f", target_feature = "fma")) {
        "AVX-512F + FMA: the GEMM's tile uses zmm registers (16 lanes), f32x8 is one ymm \
         register, mul_add is one fused instruction"
    } else if cfg!(all(target_feature = "avx2", target_feature = "fma")) {
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
pub(crate) fn check_matmul(x: &[f32], w: &[f32], out: &[f32], m: usize, k: usize, n: usize) {
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

/// How an operand of `out = x · wᵀ` lies in memory. In the math x is [m, k] and w is [n, k];
/// `RowMajor` stores them so (each row's k values adjacent), `Transposed` stores the transpose,
/// `[k, m]` or `[k, n]` (each row of the operand is a column of what is stored). The backward
/// of `y = x · Wᵀ` reads `dy`, `x` and `W` this way instead of copying them transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    RowMajor,
    Transposed,
}

/// `out = x · wᵀ`, or `out += x · wᵀ` when `accumulate`, each operand read in its stored
/// layout: the reference for [`gemm()`]. Sizes as in `matmul_naive` (x: m·k floats, w: n·k,
/// out: m·n).
pub fn gemm_naive(
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
    let x_at = |i: usize, p: usize| match x_layout {
        Layout::RowMajor => x[i * k + p],
        Layout::Transposed => x[p * m + i],
    };
    let w_at = |j: usize, p: usize| match w_layout {
        Layout::RowMajor => w[j * k + p],
        Layout::Transposed => w[p * n + j],
    };
    for i in 0..m {
        for j in 0..n {
            // out[i][j] (+)= Σ_p x[i][p] · w[j][p]
            let sum: f32 = (0..k).map(|p| x_at(i, p) * w_at(j, p)).sum();
            let o = &mut out[i * n + j];
            *o = if accumulate { *o + sum } else { sum };
        }
    }
}

/// Eight consecutive floats starting at `i` as one SIMD register (an unaligned load). Every
/// kernel (f32 here, the stored types in `quant/`) loads its f32 operands through this.
#[inline(always)]
pub(crate) fn load8(s: &[f32], i: usize) -> f32x8 {
    let a: [f32; 8] = s[i..i + 8].try_into().expect("slice of 8");
    f32x8::new(a)
}

// ANCHOR: dot
/// `Σ a[i]·b[i]` with f32x8 fused multiply-adds. Independent accumulators, because one FMA takes
/// ~4 cycles to finish: a single running sum would start one FMA every 4 cycles. Keeping both
/// FMA pipes busy would take latency × throughput = 4 × 2 = 8 sums in flight; four suffice here
/// because each FMA of a dot product needs two vector loads, and at two loads per cycle the
/// loads, not the FMA pipes, cap it at one FMA per cycle. Panics if the lengths differ.
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
