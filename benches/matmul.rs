//! GEMM and GEMV at the model's real shapes, against ndarray's `general_mat_mul`
//! (matrixmultiply) and a plain memory copy, all in the same run.
//!
//! matrixmultiply fixes its thread count once per process (MATMUL_NUM_THREADS), so one run
//! measures one thread count, for glassbox and ndarray alike:
//!
//! ```text
//! GLASSBOX_BENCH_THREADS=1 cargo bench --bench matmul
//! GLASSBOX_BENCH_THREADS=2 cargo bench --bench matmul
//! ```
//! GEMM throughput is in FLOP/s (criterion's "elem/s" = 2·m·k·n per call); GEMV and memcpy
//! throughput is in bytes of weights read per second.

use std::time::Duration;

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use glassbox::matmul::{matmul, matvec};
use ndarray::linalg::{general_mat_mul, general_mat_vec_mul};
use ndarray::{Array1, Array2};

fn threads() -> usize {
    std::env::var("GLASSBOX_BENCH_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

fn pool(t: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(t)
        .build()
        .expect("rayon pool")
}

fn data(len: usize, seed: u32) -> Vec<f32> {
    (0..len as u32)
        .map(|i| ((i.wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 1000.0 - 0.5)
        .collect()
}

/// (label, m, k, n): x: [m, k], w: [n, k].
const GEMM_SHAPES: &[(&str, usize, usize, usize)] = &[
    ("smollm2 q/o 128x576x576", 128, 576, 576),
    ("smollm2 k/v 128x576x192", 128, 576, 192),
    ("smollm2 gate/up 128x576x1536", 128, 576, 1536),
    ("smollm2 down 128x1536x576", 128, 1536, 576),
    ("smollm2 head 128x576x49152", 128, 576, 49152),
    ("llama1b q/o 128x2048x2048", 128, 2048, 2048),
    ("llama1b gate/up 128x2048x8192", 128, 2048, 8192),
    ("llama1b down 128x8192x2048", 128, 8192, 2048),
    ("square 512", 512, 512, 512),
    ("square 1024", 1024, 1024, 1024),
    ("square 2048", 2048, 2048, 2048),
];

/// (label, k, n): w: [n, k], x: [k] (decode, seq 1).
const GEMV_SHAPES: &[(&str, usize, usize)] = &[
    ("smollm2 q/o 576x576", 576, 576),
    ("smollm2 k/v 576x192", 576, 192),
    ("smollm2 gate/up 576x1536", 576, 1536),
    ("smollm2 down 1536x576", 1536, 576),
    ("smollm2 head 576x49152", 576, 49152),
    ("llama1b q/o 2048x2048", 2048, 2048),
    ("llama1b gate/up 2048x8192", 2048, 8192),
    ("llama1b down 8192x2048", 8192, 2048),
];

fn gemm(c: &mut Criterion) {
    let t = threads();
    let pool = pool(t);
    let mut g = c.benchmark_group(format!("gemm_t{t}"));
    for &(label, m, k, n) in GEMM_SHAPES {
        let (x, w) = (data(m * k, 1), data(n * k, 2));
        let mut out = vec![0.0f32; m * n];
        g.throughput(Throughput::Elements((2 * m * k * n) as u64));
        g.bench_function(BenchmarkId::new("glassbox", label), |b| {
            pool.install(|| b.iter(|| matmul(&x, &w, &mut out, m, k, n)))
        });
        let xa = Array2::from_shape_vec((m, k), x).expect("shape");
        let wa = Array2::from_shape_vec((n, k), w).expect("shape");
        let mut oa = Array2::<f32>::zeros((m, n));
        g.bench_function(BenchmarkId::new("ndarray", label), |b| {
            b.iter(|| general_mat_mul(1.0, &xa, &wa.t(), 0.0, &mut oa))
        });
    }
    g.finish();
}

fn gemv(c: &mut Criterion) {
    let t = threads();
    let pool = pool(t);
    let mut g = c.benchmark_group(format!("gemv_t{t}"));
    for &(label, k, n) in GEMV_SHAPES {
        let (x, w) = (data(k, 3), data(n * k, 4));
        let mut out = vec![0.0f32; n];
        g.throughput(Throughput::Bytes((n * k * 4) as u64));
        g.bench_function(BenchmarkId::new("glassbox", label), |b| {
            pool.install(|| b.iter(|| matvec(&w, &x, &mut out, n, k)))
        });
        let xa = Array1::from_vec(x);
        let wa = Array2::from_shape_vec((n, k), w).expect("shape");
        let mut oa = Array1::<f32>::zeros(n);
        g.bench_function(BenchmarkId::new("ndarray", label), |b| {
            b.iter(|| general_mat_vec_mul(1.0, &wa, &xa, 0.0, &mut oa))
        });
    }
    // The bandwidth reference: copy as many bytes as the largest SmolLM2 matrix (the head).
    let bytes = 576 * 49152 * 4;
    let src = vec![1u8; bytes];
    let mut dst = vec![0u8; bytes];
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("memcpy 113 MB (bytes read)", |b| {
        b.iter(|| {
            dst.copy_from_slice(std::hint::black_box(&src));
            std::hint::black_box(&dst);
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1500))
}

criterion_group! { name = benches; config = config(); targets = gemm, gemv }

fn main() {
    // matrixmultiply reads this once, on its first call: set it before any benchmark runs.
    if std::env::var_os("MATMUL_NUM_THREADS").is_none() {
        std::env::set_var("MATMUL_NUM_THREADS", threads().to_string());
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
