//! The forward pass of SmolLM2-135M-Instruct (GGUF Q4_1): prefill at 128 and 512 tokens, decode
//! at a context of 128, with 1 and 2 rayon threads, and the time to load the model.
//!
//! ```text
//! GLASSBOX_DATA=... cargo bench --features oracles --bench forward
//! cargo bench --features oracles --bench forward -- decode      # only the decode benchmarks (~1 minute)
//! ```
//!
//! The full run takes several minutes: criterion's minimum of 10 samples of a 512-token prefill.
//!
//! Throughput is in tokens per second (criterion's "elem/s"): for prefill, prompt tokens per
//! second of one forward pass from an empty cache; for decode, one new token after 128 cached
//! positions (the cache is cut back to 128 before each step, so every step sees the same
//! context). Compare: llama.cpp on this kind of machine, 2 threads, Q4_1: prefill ≈ 222 tok/s,
//! decode ≈ 104 tok/s.

mod common;

use std::time::Duration;

use common::pool;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use glassbox::data;
use glassbox::model::Llama;

fn model() -> Llama {
    let path = data::default_model().expect("the default model (fetched on first use)");
    Llama::load(path).expect("load the default model")
}

/// A prompt of `n` real token ids (a repeated English sentence).
fn prompt(m: &Llama, n: usize) -> Vec<u32> {
    let ids = m
        .tokenizer
        .encode("The history of the printing press begins long before Gutenberg, in East Asia. ");
    ids.iter().copied().cycle().take(n).collect()
}

fn load(c: &mut Criterion) {
    let path = data::default_model().expect("the default model");
    let mut g = c.benchmark_group("load");
    g.sample_size(10);
    g.bench_function("smollm2-135m-q4_1", |b| {
        b.iter(|| Llama::load(&path).expect("load"))
    });
    g.finish();
}

fn prefill(c: &mut Criterion) {
    let m = model();
    let mut g = c.benchmark_group("prefill");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    for threads in [1usize, 2] {
        let p = pool(threads);
        for n in [128usize, 512] {
            let ids = prompt(&m, n);
            let mut s = m.new_session(n).expect("session");
            g.throughput(Throughput::Elements(n as u64));
            g.bench_with_input(
                BenchmarkId::new(format!("{threads}t"), n),
                &ids,
                |b, ids| {
                    p.install(|| {
                        b.iter(|| {
                            s.reset();
                            m.forward(&mut s, ids).expect("forward")[0]
                        })
                    })
                },
            );
        }
    }
    g.finish();
}

fn decode(c: &mut Criterion) {
    let m = model();
    let ctx = 128;
    let ids = prompt(&m, ctx + 1);
    let mut g = c.benchmark_group("decode");
    g.sample_size(20).measurement_time(Duration::from_secs(6));
    g.throughput(Throughput::Elements(1));
    for threads in [1usize, 2] {
        let p = pool(threads);
        let mut s = m.new_session(ctx + 1).expect("session");
        p.install(|| m.forward(&mut s, &ids[..ctx]).map(|_| ()).expect("prefill"));
        g.bench_function(
            BenchmarkId::new(format!("{threads}t"), format!("ctx{ctx}")),
            |b| {
                p.install(|| {
                    b.iter(|| {
                        s.truncate(ctx);
                        m.forward(&mut s, &ids[ctx..ctx + 1]).expect("decode")[0]
                    })
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, load, prefill, decode);
criterion_main!(benches);
