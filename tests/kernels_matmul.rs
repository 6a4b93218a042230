//! The fast matmul kernels equal the naive reference on random shapes: size 1, sizes that are
//! not multiples of 8 (7, 33, 577) nor of the 16 × 6 register tile, long rows (past the
//! 1024-float k-block), and `matmul`'s split of the output columns over 1, 2 and 3 threads.

use glassbox::compare::{assert_close_scaled, matmul_abs_scale, rand_vec};
use glassbox::matmul::{dot, matmul, matmul_naive, matmul_simd, matvec, matvec_naive, matvec_simd};
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]
    #[test]
    fn fast_kernels_equal_naive(m in size(), k in size(), n in size(), seed in any::<u64>()) {
        run_all(m, k, n, seed);
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
        });
    }
}
