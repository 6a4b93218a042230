//! Matrix–vector products straight from the stored bytes (decode) and the tiled prefill
//! product, per storage type, at SmolLM2's head (49152×576) and FFN (1536×576) shapes, with a
//! memory copy in the same run as the bandwidth reference.
//!
//! ```text
//! GLASSBOX_BENCH_THREADS=1 cargo bench --bench quant
//! GLASSBOX_BENCH_THREADS=2 cargo bench --bench quant
//! ```
//! GEMV throughput is in stored bytes read per second; prefill throughput in FLOP/s.

use std::time::Duration;

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

const TYPES: [DType; 6] = [
    DType::Q4_1,
    DType::Q8_0,
    DType::Q4_0,
    DType::F16,
    DType::BF16,
    DType::F32,
];

fn quant_gemv(c: &mut Criterion) {
    let t = threads();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(t)
        .build()
        .expect("rayon pool");
    let mut g = c.benchmark_group(format!("quant_gemv_t{t}"));
    for (rows, cols) in [(49152, 576), (1536, 576)] {
        let w = data(rows * cols, 5);
        let x = data(cols, 6);
        let mut out = vec![0.0f32; rows];
        for dtype in TYPES {
            let wm = WeightMatrix::quantized_from_f32("bench.weight", dtype, rows, cols, &w);
            g.throughput(Throughput::Bytes(wm.bytes().len() as u64));
            g.bench_function(
                BenchmarkId::new(dtype.name(), format!("{rows}x{cols}")),
                |b| pool.install(|| b.iter(|| wm.matvec(&x, &mut out))),
            );
        }
    }
    let bytes = 576 * 49152 * 4;
    let (src, mut dst) = (vec![1u8; bytes], vec![0u8; bytes]);
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("memcpy 113 MB (bytes read)", |b| {
        b.iter(|| {
            dst.copy_from_slice(std::hint::black_box(&src));
            std::hint::black_box(&dst);
        })
    });
    g.finish();
}

fn quant_prefill(c: &mut Criterion) {
    let t = threads();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(t)
        .build()
        .expect("rayon pool");
    let mut g = c.benchmark_group(format!("quant_prefill_t{t}"));
    let (seq, rows, cols) = (128, 1536, 576);
    let (w, x) = (data(rows * cols, 7), data(seq * cols, 8));
    let mut out = vec![0.0f32; seq * rows];
    g.throughput(Throughput::Elements((2 * seq * rows * cols) as u64));
    for dtype in [DType::Q4_1, DType::Q8_0, DType::F32] {
        let wm = WeightMatrix::quantized_from_f32("bench.weight", dtype, rows, cols, &w);
        g.bench_function(
            BenchmarkId::new(dtype.name(), format!("{seq}x{cols}x{rows}")),
            |b| pool.install(|| b.iter(|| wm.matmul(&x, seq, &mut out))),
        );
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1500))
}

criterion_group! { name = benches; config = config(); targets = quant_gemv, quant_prefill }
criterion_main!(benches);
