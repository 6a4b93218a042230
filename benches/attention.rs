//! Attention over the KV-cache at SmolLM2-135M's head layout (9 query heads, 3 KV heads,
//! head_dim 64), at context 128, 1024 and 4096:
//!
//! * `decode/N`: one new query at position N−1 against N cached keys (what each generated token costs);
//! * `prefill/N`: N queries at positions 0..N, causal (the whole prompt at once).
//!
//! ```text
//! cargo bench --features oracles --bench attention
//! ```
//! Throughput is in FLOPs (criterion's "elem/s"): decode 4·n_heads·head_dim·N (QKᵀ and P·V),
//! prefill 4·n_heads·head_dim·N(N+1)/2 (only the unmasked half is computed). Prefill grows ≈4×
//! per doubling of the context, decode ≈2×. Uses rayon's default pool (all cores).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use glassbox::attention::{attention, AttentionShape};
use glassbox::compare::rand_vec;
use glassbox::kv_cache::KvCache;

const SHAPE: AttentionShape = AttentionShape {
    n_heads: 9,
    n_kv_heads: 3,
    head_dim: 64,
};
const CONTEXTS: [usize; 3] = [128, 1024, 4096];

/// A one-layer cache holding `ctx` random keys and values.
fn filled_cache(ctx: usize) -> KvCache {
    let kv = SHAPE.kv_dim();
    let mut cache = KvCache::new(1, ctx, kv);
    cache.write_rows(0, 0, &rand_vec(1, ctx * kv), &rand_vec(2, ctx * kv));
    cache.set_len(ctx);
    cache
}

fn bench_attention(c: &mut Criterion) {
    let (nh, hd) = (SHAPE.n_heads as u64, SHAPE.head_dim as u64);
    let mut g = c.benchmark_group("attention");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for &ctx in &CONTEXTS {
        let cache = filled_cache(ctx);
        // decode: seq = 1 at position ctx − 1
        let q = rand_vec(3, SHAPE.q_dim());
        let mut out = vec![0.0f32; q.len()];
        g.throughput(Throughput::Elements(4 * nh * hd * ctx as u64));
        g.bench_with_input(BenchmarkId::new("decode", ctx), &ctx, |b, &ctx| {
            b.iter(|| attention(black_box(&q), &cache, 0, ctx - 1, &SHAPE, &mut out, None))
        });
        // prefill: seq = ctx from position 0
        let q = rand_vec(4, ctx * SHAPE.q_dim());
        let mut out = vec![0.0f32; q.len()];
        let n = ctx as u64;
        g.throughput(Throughput::Elements(4 * nh * hd * n * (n + 1) / 2));
        g.bench_with_input(BenchmarkId::new("prefill", ctx), &ctx, |b, _| {
            b.iter(|| attention(black_box(&q), &cache, 0, 0, &SHAPE, &mut out, None))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_attention);
criterion_main!(benches);
