//! The fast matmul kernels equal the naive reference on random shapes: size 1, sizes that are
//! not multiples of 8 (7, 33, 577) nor of either register tile (6 × 16 f32x8, 8 × 32 AVX-512),
//! long rows (past the k-block), `matmul`'s split of the output columns over 1, 2 and 3
//! threads, and `gemm` with either operand stored transposed, storing or adding into `out`.

use glassbox::compare::{assert_close_scaled, matmul_abs_scale, rand_vec};
use glassbox::matmul::{
    dot, gemm, gemm_naive, matmul, matmul_naive, matmul_simd, matvec, matvec_naive, matvec_simd,
    Layout,
};
use proptest::prelude::*;

/// Allowed |fast − naive| relative to Σ_p |x_p · w_p| for one output. The kernels add the same
/// products in a different order (8 lanes × several accumulators, k-blocks, FMA's single
/// rounding). For random data the difference is about √k · ε · Σ|x w| (≈ 3e-6 at k = 2000);
/// the worst case is k · ε. 2e-5 leaves a wide margin for the typical case and still catches
/// any real indexing bug, which produces errors of order 1.
const REL_TOL: f32 = 2e-5;

/// Compare every output of `got` with `want` under REL_TOL of its Σ|x·w|.
fn check(
    name: &str,
    got: &[f32],
    want: &[f32],
    x: &[f32],
    w: &[f32],
    (m, k, n): (usize, usize, usize),
) {
    let scale = matmul_abs_scale(x, w, m, k, n);
    assert_close_scaled(
        &format!("{name} [m={m}, k={k}, n={n}]"),
        got,
        want,
        &scale,
        REL_TOL,
    );
}

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(1usize),
        Just(7),
        Just(8),
        Just(33),
        Just(577),
        1usize..70
    ]
}

fn run_all(m: usize, k: usize, n: usize, seed: u64) {
    let (x, w) = (rand_vec(seed, m * k), rand_vec(seed + 1, n * k));
    let mut want = vec![0.0; m * n];
    matmul_naive(&x, &w, &mut want, m, k, n);
    for (name, f) in [
        (
            "matmul_simd",
            matmul_simd as fn(&[f32], &[f32], &mut [f32], usize, usize, usize),
        ),
        ("matmul", matmul),
    ] {
        let mut got = vec![f32::NAN; m * n]; // NaN: a kernel that skips an output fails
        f(&x, &w, &mut got, m, k, n);
        check(name, &got, &want, &x, &w, (m, k, n));
    }
    // GEMV: the first row of x against w
    let xv = &x[..k];
    let mut want_v = vec![0.0; n];
    matvec_naive(&w, xv, &mut want_v, n, k);
    for (name, f) in [
        (
            "matvec_simd",
            matvec_simd as fn(&[f32], &[f32], &mut [f32], usize, usize),
        ),
        ("matvec", matvec),
    ] {
        let mut got = vec![f32::NAN; n];
        f(&w, xv, &mut got, n, k);
        check(name, &got, &want_v, xv, &w, (1, k, n));
    }
    let d = dot(xv, &w[..k]);
    check("dot", &[d], &want_v[..1], xv, &w, (1, k, 1));
}

/// `a: [rows, cols]` → `[cols, rows]`, the plain way (to store an operand transposed).
fn transposed(a: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; a.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = a[r * cols + c];
        }
    }
    t
}

/// `gemm` with each operand stored row-major or transposed, storing or adding: equal to
/// `matmul_naive` on the row-major operands (plus the starting `out` when adding), and so is
/// `gemm_naive` (which reads the stored layouts directly, the reference the unit tests use).
fn run_layouts(m: usize, k: usize, n: usize, seed: u64) {
    let (x, w) = (rand_vec(seed, m * k), rand_vec(seed + 1, n * k));
    let start = rand_vec(seed + 2, m * n);
    let mut product = vec![0.0; m * n];
    matmul_naive(&x, &w, &mut product, m, k, n);
    let (xt, wt) = (transposed(&x, m, k), transposed(&w, n, k));
    let scale = matmul_abs_scale(&x, &w, m, k, n);
    for (x_layout, xs) in [(Layout::RowMajor, &x), (Layout::Transposed, &xt)] {
        for (w_layout, ws) in [(Layout::RowMajor, &w), (Layout::Transposed, &wt)] {
            for accumulate in [false, true] {
                let want: Vec<f32> = match accumulate {
                    true => product.iter().zip(&start).map(|(p, s)| p + s).collect(),
                    false => product.clone(),
                };
                let name = format!("gemm {x_layout:?} × {w_layout:?}, accumulate {accumulate}");
                for (f, label) in [(gemm as Gemm, "gemm"), (gemm_naive, "gemm_naive")] {
                    let mut got = match accumulate {
                        true => start.clone(),
                        false => vec![f32::NAN; m * n], // NaN: a skipped output fails
                    };
                    f(xs, x_layout, ws, w_layout, &mut got, m, k, n, accumulate);
                    // an added starting value adds its size to the output's error scale
                    let scale: Vec<f32> = match accumulate {
                        true => scale.iter().zip(&start).map(|(c, s)| c + s.abs()).collect(),
                        false => scale.clone(),
                    };
                    let name = format!("{label}: {name} [m={m}, k={k}, n={n}]");
                    assert_close_scaled(&name, &got, &want, &scale, REL_TOL);
                }
            }
        }
    }
}

type Gemm = fn(&[f32], Layout, &[f32], Layout, &mut [f32], usize, usize, usize, bool);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]
    #[test]
    fn fast_kernels_equal_naive(m in size(), k in size(), n in size(), seed in any::<u64>()) {
        run_all(m, k, n, seed);
    }

    /// The bottom edge of the tiles: every m from 1 to 20 (a sliver of 16 or 32 tokens, part
    /// full), with k and n not multiples of anything.
    #[test]
    fn short_prompts_equal_naive(m in 1usize..=20, k in size(), n in size(), seed in any::<u64>()) {
        run_all(m, k, n, seed);
    }

    #[test]
    fn transposed_operands_equal_naive(m in size(), k in size(), n in size(), seed in any::<u64>()) {
        run_layouts(m, k, n, seed);
    }
}

/// Long rows: k past the k-block (1024), n past one panel of w (W_PANEL = 360 rows), and the real shapes
/// of the model's projections.
#[test]
fn long_rows_and_model_shapes() {
    for (m, k, n) in [
        (5, 2500, 9),
        (33, 1536, 20),
        (128, 576, 30),
        (1, 4099, 37),
        (17, 576, 192),
        (20, 1100, 400),
    ] {
        run_all(m, k, n, (m * k * n) as u64);
    }
    run_layouts(40, 1100, 300, 3); // k past the k-block, n past a panel, both layouts
}

/// `matmul` on one thread and on two gives the same result as the naive kernel.
#[test]
fn thread_counts() {
    for threads in [1, 2, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");
        pool.install(|| {
            run_all(3, 200, 301, 7);
            run_all(64, 100, 50, 8);
            run_all(20, 64, 2100, 9); // more than one 1024-column task per thread
            run_layouts(70, 90, 2100, 10); // column panels of a transposed w
        });
    }
}
