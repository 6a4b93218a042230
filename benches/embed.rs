//! Sentence embeddings (all-MiniLM-L6-v2) and retrieval.
//!
//! ```text
//! GLASSBOX_BENCH_THREADS=2 cargo bench --bench embed
//! cargo bench --bench embed -- retrieval        # only the scans
//! ```
//!
//! * `embed/Nt/batchB`: sentences per second of `Bert::embed` on a batch of B sentences
//!   (tokenize, forward, pool, normalise), B = 1, 8, 64: the fixture sentences under 300
//!   characters (2 to 32 tokens), cycled.
//! * `retrieval/N`: one top-5 scan over N random unit vectors of 384 dimensions, on one thread.
//!
//! After criterion, a plain `cargo bench --bench embed` also runs sentence-transformers on
//! PyTorch CPU (`scripts/bench_minilm.py --serve`, same sentences, same threads) *interleaved*
//! with glassbox: batch by batch, glassbox then PyTorch, five rounds; the ratio is the median of
//! the five. One more row, "64 mixed", puts the fixture's 256-token paragraph in the batch:
//! PyTorch pads every sentence to it, glassbox packs (no padding), so that row measures padding. It needs a Python with sentence-transformers: `GLASSBOX_BENCH_PYTHON` (default
//! `python3`); without one the table is skipped with a message.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use glassbox::model::Bert;
use glassbox::rag::search::top_k;

fn threads() -> usize {
    std::env::var("GLASSBOX_BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2)
}

fn pool(t: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(t)
        .build()
        .expect("rayon pool")
}

fn model() -> Bert {
    Bert::load(glassbox::data::default_embedder().expect("all-MiniLM-L6-v2 (fetched on first use)"))
        .expect("load")
}

/// The fixture sentences under 300 characters (2 to 32 tokens), cycled to `n`; with `mixed`,
/// the 256-token paragraph first. scripts/bench_minilm.py picks the same ones.
fn sentences(n: usize, mixed: bool) -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/minilm/sentences.json"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("sentences.json"))
            .expect("JSON");
    let all: Vec<String> = v["sentences"]
        .as_array()
        .expect("sentences")
        .iter()
        .map(|s| s["text"].as_str().unwrap_or("").to_string())
        .collect();
    let mut batch: Vec<String> = all
        .iter()
        .filter(|t| t.len() < 300)
        .cycle()
        .take(n)
        .cloned()
        .collect();
    if mixed {
        batch[0] = all
            .iter()
            .max_by_key(|t| t.len())
            .cloned()
            .unwrap_or_default();
    }
    batch
}

const BATCHES: [usize; 3] = [1, 8, 64];

fn embed(c: &mut Criterion) {
    let m = model();
    let t = threads();
    let p = pool(t);
    let mut g = c.benchmark_group("embed");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    for b in BATCHES {
        let s = sentences(b, false);
        let texts: Vec<&str> = s.iter().map(String::as_str).collect();
        g.throughput(Throughput::Elements(b as u64));
        g.bench_with_input(
            BenchmarkId::new(format!("{t}t"), format!("batch{b}")),
            &texts,
            |bench, texts| p.install(|| bench.iter(|| m.embed(texts).expect("embed"))),
        );
    }
    g.finish();
}

/// `n` random unit vectors of `dim` (a fixed LCG: the same store every run).
fn random_store(n: usize, dim: usize) -> Vec<f32> {
    let mut s = 0x9e3779b97f4a7c15u64;
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let v: Vec<f32> = (0..dim)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (s >> 40) as f32 / 16_777_216.0 - 0.5
            })
            .collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        out.extend(v.iter().map(|x| x / norm));
    }
    out
}

fn retrieval(c: &mut Criterion) {
    let dim = 384;
    let mut g = c.benchmark_group("retrieval");
    g.sample_size(20);
    for n in [10_000usize, 100_000] {
        let store = random_store(n, dim);
        let q = random_store(1, dim);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::new("1t-top5", n), |b| {
            b.iter(|| top_k(&store, &q, 5))
        });
    }
    g.finish();
}

criterion_group!(benches, embed, retrieval);

/// glassbox and sentence-transformers, batch by batch, alternating.
fn interleaved_vs_sentence_transformers() {
    let python = std::env::var("GLASSBOX_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let dir = glassbox::data::default_embedder().expect("model");
    let t = threads();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/bench_minilm.py");
    let reps = 5;
    let child = Command::new(&python)
        .args([
            script,
            dir.to_str().unwrap_or_default(),
            "--serve",
            "--threads",
            &t.to_string(),
            "--reps",
            &reps.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        println!("interleaved vs sentence-transformers: skipped (no `{python}`; set GLASSBOX_BENCH_PYTHON)");
        return;
    };
    let mut to_py = child.stdin.take().expect("stdin");
    let mut from_py = BufReader::new(child.stdout.take().expect("stdout")).lines();
    if from_py.next().and_then(|l| l.ok()).as_deref() != Some("ready") {
        println!("interleaved vs sentence-transformers: skipped ({python} has no sentence-transformers; set GLASSBOX_BENCH_PYTHON)");
        let _ = child.kill();
        return;
    }
    let m = model();
    let p = pool(t);
    println!("\ninterleaved, {t} threads, best of {reps} per turn, 5 turns (sentences/s):");
    println!("   batch | glassbox | sentence-transformers (PyTorch CPU) | ratio (median of turns)");
    let rows = BATCHES.iter().map(|&b| (b, false)).chain([(64, true)]);
    for (b, mixed) in rows {
        let s = sentences(b, mixed);
        let texts: Vec<&str> = s.iter().map(String::as_str).collect();
        let (mut ours, mut theirs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..5 {
            let best = (0..reps)
                .map(|_| {
                    let t0 = Instant::now();
                    p.install(|| m.embed(&texts).expect("embed"));
                    t0.elapsed().as_secs_f64()
                })
                .fold(f64::INFINITY, f64::min);
            writeln!(to_py, "{b}{}", if mixed { " mixed" } else { "" }).expect("to python");
            let py: f64 = from_py
                .next()
                .and_then(|l| l.ok())
                .and_then(|l| l.trim().parse().ok())
                .expect("python timing");
            ours.push(b as f64 / best);
            theirs.push(b as f64 / py);
            ratios.push(py / best);
        }
        let med = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let label = if mixed {
            format!("{b} mixed")
        } else {
            b.to_string()
        };
        println!(
            "{label:>8} | {:8.1} | {:8.1} | {:.2}×",
            med(&mut ours),
            med(&mut theirs),
            med(&mut ratios)
        );
    }
    drop(to_py);
    let _ = child.wait();
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // as in benches/matmul.rs: the interleaved table only on a plain `cargo bench --bench embed`
    // (or the filter `interleaved`), never under `cargo test` (no `--bench` argument)
    let args: Vec<String> = std::env::args().skip(1).collect();
    let benching = args.iter().any(|a| a == "--bench");
    let filtered = args
        .iter()
        .any(|a| !a.starts_with('-') && a != "interleaved");
    if benching && !filtered {
        interleaved_vs_sentence_transformers();
    }
}
