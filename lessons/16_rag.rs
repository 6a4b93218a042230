//! Lesson 16: retrieval-augmented generation — ask the book.
//!
//! Chunks the book (chapters 0-11 of book/src, with the outputs they include), embeds the chunks into a fresh SQLite store, then for three
//! questions prints the top-3 chunks with their scores and the time of each step; one question
//! the book cannot answer shows a retrieval miss; three pairs of questions show what the
//! semantic cache would do; and SmolLM2 answers the first question without the book and from
//! the grounded prompt.
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
    // the decoder half of the book, chapters 0 to 11 (6b and 10b too), as a reader sees them:
    // the outputs a chapter includes (`{{#include ch08-lesson-output.txt}}`) written in. Not the
    // chapters on embeddings and RAG: they discuss these very questions, and would answer
    // themselves.
    let pages = std::env::temp_dir().join(format!("glassbox-lesson16-{}", std::process::id()));
    std::fs::create_dir_all(&pages).map_err(|e| glassbox::Error::io(&pages, e))?;
    let mut chapters: Vec<PathBuf> = Vec::new();
    for entry in
        std::fs::read_dir(root.join("book/src")).map_err(|e| glassbox::Error::io("book/src", e))?
    {
        let path = entry
            .map_err(|e| glassbox::Error::io("book/src", e))?
            .path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        let number = name
            .strip_prefix("ch")
            .and_then(|r| r.get(..2))
            .and_then(|n| n.parse::<u32>().ok());
        // chapters only: the tables a chapter includes (chNN-bench-*.md, -table.md) come in with it
        let fragment = name.contains("-bench-") || name.ends_with("-table.md");
        if name.ends_with(".md") && !fragment && number.is_some_and(|n| n <= 11) {
            let text = std::fs::read_to_string(&path).map_err(|e| glassbox::Error::io(&path, e))?;
            let page = pages.join(&name);
            std::fs::write(&page, with_outputs(&root.join("book/src"), &text))
                .map_err(|e| glassbox::Error::io(&page, e))?;
            chapters.push(page);
        }
    }
    chapters.sort();
    let report = index_paths(
        &mut store,
        &chapters,
        ChunkConfig::default(),
        32,
        &|t| bert.tokenizer.count(t),
        &mut |texts| bert.embed(texts),
        false,
    )?;
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "\nindexed chapters 0-11 and their outputs ({} files): {} chunks in {secs:.1} s ({:.0} chunks/s)",
        report.indexed.len(),
        report.chunks,
        report.chunks as f64 / secs
    );
    // ANCHOR_END: index

    // ANCHOR: ask
    let vectors = store.vectors()?; // [n, 384], loaded once
    let questions = [
        "How many bytes of KV-cache does one token of context take?",
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
        (
            "How long does the Moon take to go around the Earth?",
            "how long does the moon take to go around the earth",
        ),
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
    // The first question, answered by SmolLM2 without the book, then from its top-3 chunks.
    let llama = Llama::load(glassbox::data::default_model()?)?;
    let template =
        glassbox::chat::ChatTemplate::for_model(llama.chat_template.as_deref(), &llama.tokenizer)?;
    let grounded = grounded_messages(questions[0], &first_sources);
    let bare = vec![glassbox::chat::Message::user(questions[0])];
    for (name, messages) in [
        ("without the book", bare),
        ("from its top-3 chunks", grounded),
    ] {
        let ids = template.encode(&llama.tokenizer, &messages, true)?;
        let cfg = GenerateConfig {
            max_new_tokens: Some(60),
            stop_ids: stop_token_ids(&llama.tokenizer),
            stop_strings: vec![],
            top_logprobs: 0,
            sampler: SamplerConfig {
                repeat_penalty: 1.1,
                ..SamplerConfig::default()
            }, // greedy
        };
        let mut runner = LlamaRunner::new(&llama, ids.len() + 60)?;
        let out = generate(&mut runner, &llama.tokenizer, &ids, &cfg, &mut |_| {})?;
        println!(
            "\nSmolLM2-135M, greedy, {name} ({} prompt tokens):\n{}",
            ids.len(),
            out.text.trim()
        );
    }
    let has = first_sources
        .iter()
        .any(|c| c.text.contains("46080") || c.text.contains("46,080"));
    println!("\nthe top-3 chunks contain the answer (46,080 bytes): {has}");
    // ANCHOR_END: answer
    let _ = std::fs::remove_file(&db);
    let _ = std::fs::remove_dir_all(&pages);
    Ok(())
}

/// A chapter's text with each `{{#include FILE}}` of a file beside it in book/src (a lesson's
/// output, a table, the machine) replaced by that file, as mdBook renders it; code listings
/// (`{{#include ../../src/…:anchor}}`) stay include lines.
fn with_outputs(src: &std::path::Path, text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{#include ") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        let file = rest[start + "{{#include ".len()..start + len].trim();
        out.push_str(&rest[..start]);
        match std::fs::read_to_string(src.join(file)) {
            Ok(included) if !file.contains('/') => out.push_str(included.trim_end()),
            _ => out.push_str(&rest[start..start + len + 2]),
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}
