//! GEMM and GEMV at the model's real shapes, against ndarray's `general_mat_mul`
//! (matrixmultiply) and a plain memory copy, all in the same run.
//!
//! matrixmultiply fixes its thread count once per process (MATMUL_NUM_THREADS), so one run
//! measures one thread count, for glassbox and ndarray alike:
//!
//! ```text
//! GLASSBOX_BENCH_THREADS=1 cargo bench --features oracles --bench matmul
//! GLASSBOX_BENCH_THREADS=2 cargo bench --features oracles --bench matmul
//! ```
//! GEMM throughput is in FLOP/s (criterion's "elem/s" = 2·m·k·n per call); GEMV and memcpy
//! throughput is in bytes of weights read per second.
//!
//! After criterion, the same comparisons run once more as *interleaved pairs* (glassbox, then the
//! peer, alternating, best of 9 batches each) and print a markdown table. On a shared virtual
//! machine the speed of a core drifts by ±30 % over seconds; criterion measures one function for
//! ~2 s and then the other, so one of a pair can land in a slow phase. Alternating short batches
//! exposes both to the same phases, and the best batch of each is its speed undisturbed.

mod common;

use std::time::{Duration, Instant};

use common::{bench_memcpy_head, pool, threads};
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use glassbox::compare::rand_vec;
use glassbox::matmul::{self, matmul, matvec, Layout};
use ndarray::linalg::{general_mat_mul, general_mat_vec_mul};
use ndarray::{Array1, Array2};
use rayon::prelude::*;

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

/// The backward of a linear layer (`train::linear`) at `glassbox train`'s default sizes (16 × 128
/// = 2048 tokens, d 256, FFN 704, vocab 4096), each a GEMM that reads transposed operands where
/// they are stored and adds into the gradient: (label, m, k, n, x layout, w layout) for
/// `out: [m, n] += x · wᵀ`.
const TRAIN_SHAPES: &[(&str, usize, usize, usize, Layout, Layout)] = &[
    ("train dx=dy·W up 2048x704x256", 2048, 704, 256, RM, TR),
    ("train dW=dyᵀ·x up 704x2048x256", 704, 2048, 256, TR, TR),
    ("train dx=dy·W head 2048x4096x256", 2048, 4096, 256, RM, TR),
    ("train dW=dyᵀ·x head 4096x2048x256", 4096, 2048, 256, TR, TR),
];
const RM: Layout = Layout::RowMajor;
const TR: Layout = Layout::Transposed;

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
        let (x, w) = (rand_vec(1, m * k), rand_vec(2, n * k));
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
        let (x, w) = (rand_vec(3, k), rand_vec(4, n * k));
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
    bench_memcpy_head(&mut g); // the bandwidth reference
    g.finish();
}

/// Best seconds per call of `a` and of `b`, over 9 alternating batches of `reps` calls.
fn interleaved(reps: usize, mut a: impl FnMut(), mut b: impl FnMut()) -> (f64, f64) {
    let batch = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        t.elapsed().as_secs_f64() / reps as f64
    };
    let (mut best_a, mut best_b) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..9 {
        best_a = best_a.min(batch(&mut a));
        best_b = best_b.min(batch(&mut b));
    }
    (best_a, best_b)
}

/// Repetitions for a batch of about 20 ms.
fn reps_for(flops: usize) -> usize {
    (2e9 / flops as f64).clamp(1.0, 1000.0) as usize
}

/// The interleaved table: GEMM against matrixmultiply, GEMV against matrixmultiply, and the
/// bandwidth references (a copy and a read-only sum of the head's 113 MB).
fn interleaved_tables() {
    let t = threads();
    let pool = pool(t);
    println!("\n## Interleaved pairs, {t} thread(s) (best of 9 alternating batches)\n");
    println!("| GEMM m × k × n | glassbox GFLOP/s | matrixmultiply GFLOP/s | ratio |");
    println!("|---|---:|---:|---:|");
    for &(label, m, k, n) in GEMM_SHAPES {
        let (x, w) = (rand_vec(1, m * k), rand_vec(2, n * k));
        let mut out = vec![0.0f32; m * n];
        let xa = Array2::from_shape_vec((m, k), x.clone()).expect("shape");
        let wa = Array2::from_shape_vec((n, k), w.clone()).expect("shape");
        let mut oa = Array2::<f32>::zeros((m, n));
        let flops = 2 * m * k * n;
        let (g, p) = interleaved(
            reps_for(flops),
            || pool.install(|| matmul(&x, &w, &mut out, m, k, n)),
            || general_mat_mul(1.0, &xa, &wa.t(), 0.0, &mut oa),
        );
        let rate = |s: f64| flops as f64 / s / 1e9;
        println!(
            "| {label} | {:.1} | {:.1} | {:.2} |",
            rate(g),
            rate(p),
            p / g
        );
    }
    println!("\n| backward GEMM, out += x · wᵀ, m × k × n | glassbox GFLOP/s | matrixmultiply GFLOP/s | ratio |");
    println!("|---|---:|---:|---:|");
    for &(label, m, k, n, xl, wl) in TRAIN_SHAPES {
        // x and w as stored: [m, k] / [n, k] row-major, or their transposes; ndarray gets views
        // of the same stored arrays (matrixmultiply reads any strides)
        let (xs, ws) = (rand_vec(1, m * k), rand_vec(2, n * k));
        let stored = |v: Vec<f32>, rows: usize, l: Layout| match l {
            Layout::RowMajor => Array2::from_shape_vec((rows, k), v).expect("shape"),
            Layout::Transposed => Array2::from_shape_vec((k, rows), v).expect("shape"),
        };
        let (xa, wa) = (stored(xs.clone(), m, xl), stored(ws.clone(), n, wl));
        let xv = if xl == RM { xa.view() } else { xa.t() }; // [m, k]
        let wv = if wl == RM { wa.view() } else { wa.t() }; // [n, k]
        let mut out = vec![0.0f32; m * n];
        let mut oa = Array2::<f32>::zeros((m, n));
        let flops = 2 * m * k * n;
        let (g, p) = interleaved(
            reps_for(flops),
            || pool.install(|| matmul::gemm(&xs, xl, &ws, wl, &mut out, m, k, n, true)),
            || general_mat_mul(1.0, &xv, &wv.t(), 1.0, &mut oa),
        );
        let rate = |s: f64| flops as f64 / s / 1e9;
        println!(
            "| {label} | {:.1} | {:.1} | {:.2} |",
            rate(g),
            rate(p),
            p / g
        );
    }
    println!("\n| GEMV k → n | glassbox GiB/s | matrixmultiply GiB/s | ratio |");
    println!("|---|---:|---:|---:|");
    let gib = |bytes: usize, s: f64| bytes as f64 / s / (1u64 << 30) as f64;
    for &(label, k, n) in GEMV_SHAPES {
        let (x, w) = (rand_vec(3, k), rand_vec(4, n * k));
        let mut out = vec![0.0f32; n];
        let xa = Array1::from_vec(x.clone());
        let wa = Array2::from_shape_vec((n, k), w.clone()).expect("shape");
        let mut oa = Array1::<f32>::zeros(n);
        let (g, p) = interleaved(
            reps_for(2 * n * k),
            || pool.install(|| matvec(&w, &x, &mut out, n, k)),
            || general_mat_vec_mul(1.0, &wa, &xa, 0.0, &mut oa),
        );
        let bytes = 4 * n * k;
        println!(
            "| {label} | {:.1} | {:.1} | {:.2} |",
            gib(bytes, g),
            gib(bytes, p),
            p / g
        );
    }
    // bandwidth references for the head (113 MB, out of cache): a copy and a plain read, on the
    // same number of threads as the GEMV (each thread takes contiguous chunks)
    let bytes = 576 * 49152 * 4;
    let src = vec![1.0f32; bytes / 4];
    let mut dst = vec![0.0f32; bytes / 4];
    let x = rand_vec(3, 576);
    let mut out = vec![0.0f32; 49152];
    let chunk = (bytes / 4).div_ceil(t);
    let (copy, head) = interleaved(
        3,
        || {
            pool.install(|| {
                dst.par_chunks_mut(chunk)
                    .zip(src.par_chunks(chunk))
                    .for_each(|(d, s)| d.copy_from_slice(std::hint::black_box(s)))
            });
            std::hint::black_box(&dst);
        },
        || pool.install(|| matvec(&src, &x, &mut out, 49152, 576)),
    );
    let sum_chunk = |c: &[f32]| {
        // eight independent lanes: the adds keep up with memory, so this measures the reads
        c.chunks_exact(8).fold([0.0f32; 8], |mut acc, v| {
            for (a, v) in acc.iter_mut().zip(v) {
                *a += v;
            }
            acc
        })
    };
    let (read, _) = interleaved(
        3,
        || {
            pool.install(|| {
                std::hint::black_box(src.par_chunks(chunk).map(sum_chunk).collect::<Vec<_>>())
            });
        },
        || {},
    );
    println!("\n| 113 MB, out of cache, {t} thread(s) | GiB/s |");
    println!("|---|---:|");
    println!(
        "| glassbox GEMV (head 576 → 49152), weights read | {:.1} |",
        gib(bytes, head)
    );
    println!(
        "| copy, bytes read (= bytes written) | {:.1} |",
        gib(bytes, copy)
    );
    println!(
        "| copy, bytes read + written (as STREAM counts) | {:.1} |",
        gib(2 * bytes, copy)
    );
    println!("| read-only sum | {:.1} |", gib(bytes, read));
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
    // `cargo bench -- <filter>` runs only the criterion benchmarks that match; the interleaved
    // tables run on a plain `cargo bench --features oracles --bench matmul` (or with the filter `interleaved`), and
    // not under `cargo test`, which runs each benchmark once without `--bench` to check it works
    let args: Vec<String> = std::env::args().skip(1).collect();
    let benching = args.iter().any(|a| a == "--bench");
    let filtered = args
        .iter()
        .any(|a| !a.starts_with('-') && a != "interleaved");
    if benching && !filtered {
        interleaved_tables();
    }
}
