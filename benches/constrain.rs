//! Constrained decoding: the cost of one token mask on the real SmolLM2 vocabulary (49,152
//! tokens), trie walk vs the naive pass over every id, against one decode step of the default
//! model (the budget: ≤ 10% of a step).
//!
//! ```text
//! cargo bench --bench constrain
//! ```
//!
//! The masks are taken along a real trace: an invoice instance (the pydantic-style schema of
//! lesson 13) tokenized with SmolLM2's tokenizer, one mask per token, so the mix of states
//! (keys, strings, numbers, a date, an enum) is what a generation meets. criterion times the
//! whole trace; the table after it prints per-token figures from interleaved runs (trie, naive,
//! decode, in turn), which is the comparison to trust on a shared machine.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use glassbox::chat::stop_token_ids;
use glassbox::constrain::{compile, mask_naive, Grammar, Masker, Recognizer, TokenSet, Vocab};
use glassbox::data;
use glassbox::model::Llama;
use std::time::{Duration, Instant};

/// The schema pydantic writes for `class Invoice(BaseModel): company: str; amount: float;
/// currency: Currency; date: datetime.date` (Currency an Enum), with a length bound.
pub const INVOICE_SCHEMA: &str = r##"{
  "$defs": {"Currency": {"enum": ["USD", "EUR", "GBP"], "title": "Currency", "type": "string"}},
  "properties": {
    "company": {"title": "Company", "type": "string", "maxLength": 40},
    "amount": {"title": "Amount", "type": "number"},
    "currency": {"$ref": "#/$defs/Currency"},
    "date": {"format": "date", "title": "Date", "type": "string"}
  },
  "required": ["company", "amount", "currency", "date"],
  "title": "Invoice",
  "type": "object"
}"##;

const INSTANCE: &str = r#"{"company": "ACME Rocket-Powered Products", "amount": 120.5, "currency": "EUR", "date": "2024-03-03"}"#;

struct Trace {
    g: Grammar,
    vocab: Vocab,
    /// The recognizer before each token of the instance, and at the end.
    states: Vec<Recognizer>,
}

fn trace(m: &Llama) -> Trace {
    let schema: serde_json::Value = serde_json::from_str(INVOICE_SCHEMA).expect("schema JSON");
    let g = compile(&schema).expect("the invoice schema compiles");
    let vocab = Vocab::new(&m.tokenizer, &stop_token_ids(&m.tokenizer));
    let mut states = vec![Recognizer::new()];
    for id in m.tokenizer.encode(INSTANCE) {
        let mut r = states.last().expect("a state").clone();
        assert!(
            r.try_bytes(&g, &vocab.tokens[id as usize]),
            "the instance is valid"
        );
        states.push(r);
    }
    Trace { g, vocab, states }
}

fn mask_all(t: &Trace, masker: &mut Masker, out: &mut TokenSet) -> usize {
    t.states
        .iter()
        .map(|s| {
            masker.mask(&t.g, &t.vocab, s, out);
            out.count()
        })
        .sum()
}

fn naive_all(t: &Trace, out: &mut TokenSet) -> usize {
    t.states
        .iter()
        .map(|s| {
            mask_naive(&t.g, &t.vocab, s, out);
            out.count()
        })
        .sum()
}

/// One decode step after 128 cached positions (the cache cut back before each step).
fn decode_step(m: &Llama, s: &mut glassbox::model::Session, ids: &[u32]) {
    s.truncate(128);
    std::hint::black_box(m.forward(s, &ids[128..129]).expect("decode"));
}

fn bench(c: &mut Criterion) {
    let m = Llama::load(data::default_model().expect("the default model")).expect("load");
    let t = trace(&m);
    let steps = t.states.len();
    let mut masker = Masker::new();
    let mut out = TokenSet::new(t.vocab.size());
    assert_eq!(mask_all(&t, &mut masker, &mut out), naive_all(&t, &mut out));

    let mut g = c.benchmark_group("mask");
    g.throughput(Throughput::Elements(steps as u64));
    g.bench_function("trie (invoice trace)", |b| {
        b.iter(|| mask_all(&t, &mut masker, &mut out))
    });
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("naive (invoice trace)", |b| {
        b.iter(|| naive_all(&t, &mut out))
    });
    g.finish();

    // Interleaved: trie, naive, decode in turn, best of 5 rounds each. Only under `cargo bench`
    // (`cargo test` runs each benchmark once, without `--bench`, to check that it works).
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let ids: Vec<u32> = m
        .tokenizer
        .encode(INSTANCE)
        .into_iter()
        .cycle()
        .take(129)
        .collect();
    let mut session = m.new_session(256).expect("session");
    m.forward(&mut session, &ids[..128]).expect("prefill");
    let (mut trie, mut naive, mut decode) = (f64::MAX, f64::MAX, f64::MAX);
    for _ in 0..5 {
        let t0 = Instant::now();
        mask_all(&t, &mut masker, &mut out);
        trie = trie.min(t0.elapsed().as_secs_f64() / steps as f64);
        let t0 = Instant::now();
        naive_all(&t, &mut out);
        naive = naive.min(t0.elapsed().as_secs_f64() / steps as f64);
        let t0 = Instant::now();
        for _ in 0..10 {
            decode_step(&m, &mut session, &ids);
        }
        decode = decode.min(t0.elapsed().as_secs_f64() / 10.0);
    }
    let allowed: Vec<usize> = t
        .states
        .iter()
        .map(|s| {
            masker.mask(&t.g, &t.vocab, s, &mut out);
            out.count()
        })
        .collect();
    println!("\nmask per token over the invoice trace ({steps} masks, allowed ids per mask: min {}, max {}), best of 5 interleaved rounds:", allowed.iter().min().unwrap_or(&0), allowed.iter().max().unwrap_or(&0));
    println!("| | per token | share of a decode step |");
    println!("|---|---|---|");
    println!(
        "| trie mask | {:.1} µs | {:.2}% |",
        trie * 1e6,
        100.0 * trie / decode
    );
    println!(
        "| naive mask (all 49,152 ids) | {:.1} µs | {:.1}% |",
        naive * 1e6,
        100.0 * naive / decode
    );
    println!(
        "| decode step (SmolLM2 Q4_1, 128 cached, {} threads) | {:.2} ms | 100% |",
        rayon::current_num_threads(),
        decode * 1e3
    );
    println!("trie vs naive: {:.0}× faster", naive / trie);
}

criterion_group!(benches, bench);
criterion_main!(benches);
