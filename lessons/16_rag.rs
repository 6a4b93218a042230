//! Lesson 16: retrieval-augmented generation — ask the book.
//!
//! Chunks the book (book/src), embeds the chunks into a fresh SQLite store, then for three
//! questions prints the top-3 chunks with their scores and the time of each step; one question
//! the book cannot answer shows a retrieval miss; two rewordings show what the semantic cache
//! would do; and the first question is answered by SmolLM2 from the grounded prompt.
//!
//!     cargo run --release --example 16_rag

use std::path::PathBuf;
use std::time::Instant;

use glassbox::chat::stop_token_ids;
use glassbox::generate::{generate, GenerateConfig, LlamaRunner};
use glassbox::model::bert::cosine;
use glassbox::model::{Bert, Llama};
use glassbox::rag::cache::DEFAULT_THRESHOLD;
use glassbox::rag::chunk::{chunk_text, ChunkConfig};
use glassbox::rag::index::index_paths;
use glassbox::rag::prompt::{grounded_messages, source_label};
use glassbox::rag::search::top_k;
use glassbox::rag::store::{Store, StoredChunk};
use glassbox::sampler::SamplerConfig;

fn main() -> glassbox::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bert = Bert::load(glassbox::data::default_embedder()?)?;

    // ANCHOR: chunk
    let chapter = std::fs::read_to_string(root.join("book/src/ch08-kv-cache.md"))
        .map_err(|e| glassbox::Error::io("ch08", e))?;
    let chunks = chunk_text(&chapter, ChunkConfig::default(), |t| {
        bert.tokenizer.count(t)
    });
    let sizes: Vec<usize> = chunks.iter().map(|c| c.n_tokens).collect();
    println!(
        "ch08-kv-cache.md: {} tokens → {} chunks of {:?} tokens (max 128, overlap ≤ 32)",
        bert.tokenizer.count(&chapter),
        chunks.len(),
        sizes
    );
    // ANCHOR_END: chunk

    // ANCHOR: index
    let db = std::env::temp_dir().join(format!("glassbox-lesson16-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&db);
    let mut store = Store::open(&db, "all-MiniLM-L6-v2", bert.dim())?;
    let t0 = Instant::now();
    let report = index_paths(
        &mut store,
        &[root.join("book/src")],
        ChunkConfig::default(),
        32,
        &|t| bert.tokenizer.count(t),
        &mut |texts| bert.embed(texts),
        false,
    )?;
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "\nindexed {} files of book/src: {} chunks in {secs:.1} s ({:.0} chunks/s)",
        report.indexed.len(),
        report.chunks,
        report.chunks as f64 / secs
    );
    // ANCHOR_END: index

    // ANCHOR: ask
    let vectors = store.vectors()?; // [n, 384], loaded once
    let questions = [
        "Why is the 64th generated token no slower than the first?",
        "What does top-p sampling keep?",
        "What is the boiling point of water at sea level?", // not in the book
    ];
    let mut first_sources = Vec::new();
    for q in questions {
        let t0 = Instant::now();
        let qv = bert.embed(&[q])?.remove(0);
        let t1 = Instant::now();
        let hits = top_k(&vectors.data, &qv, 3);
        let scan = t1.elapsed();
        println!(
            "\n{q:?}  (embedded in {:.1} ms, top-3 of {} in {:.3} ms)",
            (t1 - t0).as_secs_f64() * 1e3,
            vectors.ids.len(),
            scan.as_secs_f64() * 1e3
        );
        for (i, h) in hits.iter().enumerate() {
            let mut c: StoredChunk = store.chunk(vectors.ids[h.index])?;
            c.path = c.path.rsplit('/').next().unwrap_or("").to_string();
            println!("  [{}] {:.3}  {}", i + 1, h.score, source_label(&c));
            if first_sources.len() < 3 && q == questions[0] {
                first_sources.push(c);
            }
        }
    }
    // ANCHOR_END: ask

    // ANCHOR: cache
    let pairs = [
        ("How does the KV-cache work?", "how does the kv cache work"),
        ("What is top-k sampling?", "What is top-p sampling?"),
    ];
    println!("\nsemantic cache, threshold {DEFAULT_THRESHOLD}:");
    for (a, b) in pairs {
        let v = bert.embed(&[a, b])?;
        let s = cosine(&v[0], &v[1]);
        let verdict = if s >= DEFAULT_THRESHOLD {
            "cached answer reused"
        } else {
            "asked again"
        };
        println!("  {s:.3}  {a:?} vs {b:?}: {verdict}");
    }
    // ANCHOR_END: cache

    // ANCHOR: answer
    let llama = Llama::load(glassbox::data::default_model()?)?;
    let messages = grounded_messages(questions[0], &first_sources);
    let template =
        glassbox::chat::ChatTemplate::for_model(llama.chat_template.as_deref(), &llama.tokenizer)?;
    let ids = template.encode(&llama.tokenizer, &messages, true)?;
    let cfg = GenerateConfig {
        max_new_tokens: Some(80),
        stop_ids: stop_token_ids(&llama.tokenizer),
        stop_strings: vec![],
        sampler: SamplerConfig {
            repeat_penalty: 1.1,
            ..SamplerConfig::default()
        }, // greedy
    };
    let mut runner = LlamaRunner::new(&llama, ids.len() + 80)?;
    let out = generate(&mut runner, &llama.tokenizer, &ids, &cfg, &mut |_| {})?;
    println!(
        "\nSmolLM2-135M, greedy, from a {}-token grounded prompt:\n{}",
        ids.len(),
        out.text.trim()
    );
    // ANCHOR_END: answer
    let _ = std::fs::remove_file(&db);
    Ok(())
}
