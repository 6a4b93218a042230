//! Matrix–vector products straight from the stored bytes (decode) and the tiled prefill
//! product, per storage type, at SmolLM2's head (49152×576) and FFN (1536×576) shapes, with a
//! memory copy in the same run as the bandwidth reference.
//!
//! ```text
//! GLASSBOX_BENCH_THREADS=1 cargo bench --bench quant
//! GLASSBOX_BENCH_THREADS=2 cargo bench --bench quant
//! ```
//! GEMV throughput is in stored bytes read per second; prefill throughput in FLOP/s.

mod common;

use std::time::Duration;

use common::{bench_memcpy_head, pool, threads};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use glassbox::compare::rand_vec;
use glassbox::quant::DType;
use glassbox::weights::tensor::WeightMatrix;

fn quant_gemv(c: &mut Criterion) {
    let t = threads();
    let pool = pool(t);
    let mut g = c.benchmark_group(format!("quant_gemv_t{t}"));
    for (rows, cols) in [(49152, 576), (1536, 576)] {
        let w = rand_vec(5, rows * cols);
        let x = rand_vec(6, cols);
        let mut out = vec![0.0f32; rows];
        // the K-quants need rows of whole super-blocks (256): they have benches/quant_k.rs
        for dtype in DType::ALL
            .into_iter()
            .filter(|t| cols % t.block_size() == 0)
        {
            let wm = WeightMatrix::quantized_from_f32("bench.weight", dtype, rows, cols, &w);
            g.throughput(Throughput::Bytes(wm.bytes().len() as u64));
            g.bench_function(
                BenchmarkId::new(dtype.name(), format!("{rows}x{cols}")),
                |b| pool.install(|| b.iter(|| wm.matvec(&x, &mut out))),
            );
        }
    }
    bench_memcpy_head(&mut g);
    g.finish();
}

fn quant_prefill(c: &mut Criterion) {
    let t = threads();
    let pool = pool(t);
    let mut g = c.benchmark_group(format!("quant_prefill_t{t}"));
    let (seq, rows, cols) = (128, 1536, 576);
    let (w, x) = (rand_vec(7, rows * cols), rand_vec(8, seq * cols));
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
