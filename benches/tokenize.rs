//! Encode throughput (MB/s, one thread): glassbox vs tiktoken-rs on English prose and on code,
//! for o200k_base and cl100k_base; and the hand-written pre-tokenizer vs the regex reference.
//!
//! `GLASSBOX_DATA=/work/data cargo bench --features oracles --bench tokenize`
//!
//! Prose: the Brown corpus (`data::brown::brown_corpus`, fetched on first use); if it cannot
//! be fetched, the Markdown documentation of the crates in ~/.cargo/registry. Code: the Rust
//! sources of the crates in ~/.cargo/registry. Both cut to `TEXT_BYTES`.
//! Before criterion runs, a plain timing loop prints a summary table with the ratio.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use glassbox::tokenizer::{Pretokenizer, Tokenizer};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Enough text that one encode takes well over a timer tick, small enough for a quick bench.
const TEXT_BYTES: usize = 1 << 20;

fn registry_files(ext: &str) -> Vec<PathBuf> {
    let home = std::env::var("HOME").unwrap_or_default();
    let mut out = Vec::new();
    let mut stack = vec![Path::new(&home).join(".cargo/registry/src")];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == ext) {
                out.push(p);
            }
        }
    }
    out
}

fn gather(files: &[PathBuf]) -> String {
    let mut s = String::new();
    for f in files {
        if let Ok(t) = std::fs::read_to_string(f) {
            s.push_str(&t);
            s.push('\n');
        }
        if s.len() >= TEXT_BYTES {
            break;
        }
    }
    cut(s)
}

fn cut(mut s: String) -> String {
    let mut n = TEXT_BYTES.min(s.len());
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    s.truncate(n);
    s
}

fn prose() -> (String, &'static str) {
    match glassbox::data::brown::brown_corpus()
        .and_then(|p| std::fs::read_to_string(&p).map_err(|e| glassbox::Error::io(&p, e)))
    {
        Ok(t) => (cut(t), "Brown corpus"),
        Err(e) => {
            eprintln!("brown corpus unavailable ({e}); using Markdown docs from ~/.cargo/registry");
            (gather(&registry_files("md")), "crate docs (Markdown)")
        }
    }
}

fn mbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
}

/// Best of `reps` runs.
fn best(reps: usize, mut f: impl FnMut()) -> Duration {
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn benches(c: &mut Criterion) {
    let (prose, prose_name) = prose();
    let code = gather(&registry_files("rs"));
    let texts = [("prose", prose.as_str()), ("code", code.as_str())];
    let encodings: Vec<(&str, Tokenizer, &tiktoken_rs::CoreBPE)> = vec![
        (
            "o200k",
            Tokenizer::from_tiktoken_name("o200k_base").expect("o200k"),
            tiktoken_rs::o200k_base_singleton(),
        ),
        (
            "cl100k",
            Tokenizer::from_tiktoken_name("cl100k_base").expect("cl100k"),
            tiktoken_rs::cl100k_base_singleton(),
        ),
    ];

    // Summary with ratios (best of 5), and a check that both give the same ids.
    println!(
        "\nprose: {prose_name}, {} bytes; code: Rust sources, {} bytes",
        prose.len(),
        code.len()
    );
    println!(
        "{:<8} {:<7} {:>12} {:>12} {:>7}",
        "encoding", "text", "glassbox", "tiktoken-rs", "ratio"
    );
    for (name, ours, theirs) in &encodings {
        for (tname, text) in texts {
            assert_eq!(
                ours.encode(text),
                theirs.encode_ordinary(text),
                "{name} {tname}: ids differ"
            );
            let a = best(5, || {
                black_box(ours.encode(black_box(text)));
            });
            let b = best(5, || {
                black_box(theirs.encode_ordinary(black_box(text)));
            });
            println!(
                "{name:<8} {tname:<7} {:>8.1} MB/s {:>8.1} MB/s {:>6.2}x",
                mbps(text.len(), a),
                mbps(text.len(), b),
                b.as_secs_f64() / a.as_secs_f64()
            );
        }
    }
    println!(
        "{:<8} {:<7} {:>12} {:>12} {:>7}",
        "pattern", "text", "hand", "regex", "ratio"
    );
    for p in Pretokenizer::ALL {
        for (tname, text) in texts {
            let a = best(3, || {
                let mut n = 0;
                p.split(black_box(text), |_| n += 1);
                black_box(n);
            });
            let b = best(3, || {
                black_box(p.split_regex(black_box(text)));
            });
            println!(
                "{:<8} {tname:<7} {:>8.1} MB/s {:>8.1} MB/s {:>6.2}x",
                p.name(),
                mbps(text.len(), a),
                mbps(text.len(), b),
                b.as_secs_f64() / a.as_secs_f64()
            );
        }
    }
    println!();

    let mut g = c.benchmark_group("encode");
    g.sample_size(10).measurement_time(Duration::from_secs(4));
    for (name, ours, theirs) in &encodings {
        for (tname, text) in texts {
            g.throughput(Throughput::Bytes(text.len() as u64));
            g.bench_with_input(
                BenchmarkId::new(format!("{name}/{tname}"), "glassbox"),
                text,
                |b, t| b.iter(|| ours.encode(t)),
            );
            g.bench_with_input(
                BenchmarkId::new(format!("{name}/{tname}"), "tiktoken-rs"),
                text,
                |b, t| b.iter(|| theirs.encode_ordinary(t)),
            );
        }
    }
    g.finish();

    let mut g = c.benchmark_group("pretokenize");
    g.sample_size(10).measurement_time(Duration::from_secs(3));
    for p in [Pretokenizer::O200k, Pretokenizer::Cl100k] {
        g.throughput(Throughput::Bytes(prose.len() as u64));
        g.bench_with_input(
            BenchmarkId::new(p.name(), "hand"),
            prose.as_str(),
            |b, t| {
                b.iter(|| {
                    let mut n = 0usize;
                    p.split(t, |_| n += 1);
                    n
                })
            },
        );
        g.bench_with_input(
            BenchmarkId::new(p.name(), "regex"),
            prose.as_str(),
            |b, t| b.iter(|| p.split_regex(t).len()),
        );
    }
    g.finish();
}

criterion_group!(tokenize, benches);
criterion_main!(tokenize);
