//! The types of issue 14 (Q5_0, Q5_1, Q2_K … Q6_K) beside Q4_1 and Q8_0: decode (GEMV from the
//! stored bytes) and the prefill tile path, at SmolLM2's `down_proj` shape ([576, 1536]: rows
//! that hold six super-blocks) and its FFN shape ([1536, 576]) for the 32-element types.
//!
//! ```text
//! GLASSBOX_BENCH_THREADS=1 cargo bench --bench quant_k
//! ```
//! GEMV throughput is in stored bytes read per second, prefill throughput in weights per second.
//! The rounds alternate over the types (`--bench` after one warm-up pass), so a slow spell of a
//! shared machine lands on all of them.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use glassbox::quant::DType;
use glassbox::weights::tensor::WeightMatrix;

fn threads() -> usize {
    std::env::var("GLASSBOX_BENCH_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

fn data(len: usize, seed: u32) -> Vec<f32> {
    (0..len as u32)
        .map(|i| ((i.wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 1000.0 - 0.5)
        .collect()
}

/// (type, rows, cols): K-types at [576, 1536], 32-element types at [1536, 576] (same weights).
const CASES: [(DType, usize, usize); 9] = [
    (DType::Q8_0, 1536, 576),
    (DType::Q4_1, 1536, 576),
    (DType::Q5_0, 1536, 576),
    (DType::Q5_1, 1536, 576),
    (DType::Q2_K, 576, 1536),
    (DType::Q3_K, 576, 1536),
    (DType::Q4_K, 576, 1536),
    (DType::Q5_K, 576, 1536),
    (DType::Q6_K, 576, 1536),
];

fn kquant_gemv(c: &mut Criterion) {
    let t = threads();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(t)
        .build()
        .expect("rayon pool");
    let mut g = c.benchmark_group(format!("kquant_gemv_t{t}"));
    for (dtype, rows, cols) in CASES {
        let wm = WeightMatrix::quantized_from_f32(
            "bench.weight",
            dtype,
            rows,
            cols,
            &data(rows * cols, 5),
        );
        let x = data(cols, 6);
        let mut out = vec![0.0f32; rows];
        g.throughput(Throughput::Bytes(wm.bytes().len() as u64));
        g.bench_function(
            BenchmarkId::new(dtype.name(), format!("{rows}x{cols}")),
            |b| pool.install(|| b.iter(|| wm.matvec(&x, &mut out))),
        );
    }
    g.finish();
}

fn kquant_prefill(c: &mut Criterion) {
    let t = threads();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(t)
        .build()
        .expect("rayon pool");
    let mut g = c.benchmark_group(format!("kquant_prefill_t{t}"));
    let seq = 128;
    for (dtype, rows, cols) in CASES {
        let wm = WeightMatrix::quantized_from_f32(
            "bench.weight",
            dtype,
            rows,
            cols,
            &data(rows * cols, 7),
        );
        let x = data(seq * cols, 8);
        let mut out = vec![0.0f32; seq * rows];
        g.throughput(Throughput::Elements((rows * cols) as u64));
        g.bench_function(
            BenchmarkId::new(dtype.name(), format!("{seq}x{cols}·[{rows},{cols}]")),
            |b| pool.install(|| b.iter(|| wm.matmul(&x, seq, &mut out))),
        );
    }
    g.finish();
}

/// Interleaved rounds (under `cargo bench` only): every type's GEMV once per round, best of 9
/// rounds, as GB/s of stored bytes. Comparable across types on a shared machine.
fn interleaved(_: &mut Criterion) {
    if !std::env::args().any(|a| a == "--bench") {
        return; // `cargo test` runs each benchmark once; this table is for `cargo bench`
    }
    let mats: Vec<(DType, WeightMatrix, Vec<f32>)> = CASES
        .iter()
        .map(|&(d, r, c)| {
            (
                d,
                WeightMatrix::quantized_from_f32("w", d, r, c, &data(r * c, 5)),
                data(c, 6),
            )
        })
        .collect();
    let mut best = vec![f64::INFINITY; mats.len()];
    for _ in 0..9 {
        for (k, (_, wm, x)) in mats.iter().enumerate() {
            let mut out = vec![0.0f32; wm.rows];
            let t0 = Instant::now();
            for _ in 0..200 {
                wm.matvec(x, &mut out);
            }
            best[k] = best[k].min(t0.elapsed().as_secs_f64() / 200.0);
        }
    }
    println!(
        "\ninterleaved GEMV, best of 9 rounds ({} threads): GB/s of stored bytes, G weights/s",
        rayon::current_num_threads()
    );
    for ((d, wm, _), s) in mats.iter().zip(&best) {
        let n = (wm.rows * wm.cols) as f64;
        println!(
            "  {:<5} {:>6.2} GB/s {:>6.2} Gw/s",
            d.name(),
            wm.bytes().len() as f64 / s / 1e9,
            n / s / 1e9
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    targets = kquant_gemv, kquant_prefill, interleaved
}
criterion_main!(benches);
