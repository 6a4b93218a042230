//! Shared by the benchmarks: thread count, thread pool, the bandwidth reference.
#![allow(dead_code)] // each benchmark uses a part

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Throughput};

/// Threads for the kernels: `GLASSBOX_BENCH_THREADS`, default 1.
pub fn threads() -> usize {
    std::env::var("GLASSBOX_BENCH_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

/// A rayon pool of `t` threads.
pub fn pool(t: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(t)
        .build()
        .expect("rayon pool")
}

/// The bandwidth reference: copy as many bytes as the largest SmolLM2 matrix (the output head,
/// 49152 × 576 f32), throughput counted in bytes read.
pub fn bench_memcpy_head(g: &mut BenchmarkGroup<'_, WallTime>) {
    let bytes = 576 * 49152 * 4;
    let (src, mut dst) = (vec![1u8; bytes], vec![0u8; bytes]);
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("memcpy 113 MB (bytes read)", |b| {
        b.iter(|| {
            dst.copy_from_slice(std::hint::black_box(&src));
            std::hint::black_box(&dst);
        })
    });
}
