//! `glassbox rag index` and `glassbox rag ask`: retrieval-augmented generation over your files.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use crate::chat::stop_token_ids;
use crate::cli::common::{chat_template, context_size, ModelArg};
use crate::cli::embed::{display_path, model_id, EmbedderArg};
use crate::generate::{check_budget, generate, GenerateConfig, LlamaRunner};
use crate::rag::cache::{lookup, DEFAULT_THRESHOLD};
use crate::rag::chunk::ChunkConfig;
use crate::rag::index::index_paths;
use crate::rag::prompt::{grounded_messages, source_label};
use crate::rag::search::top_k;
use crate::rag::store::{Store, StoredChunk};
use crate::sampler::SamplerConfig;
use crate::{Error, Result};

/// Answer questions from your own documents: index them once, then ask.
///
/// Examples (the demo corpus is this project's own book):
///   glassbox rag index book/src --db book.db
///   glassbox rag ask "Why does decoding need a KV-cache?" --db book.db
///   glassbox rag ask "What does top-p keep?" --db book.db -k 3 --temperature 0
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Chunk files, embed the chunks and store them (text, source, position, vector) in SQLite.
    Index(IndexArgs),
    /// Retrieve the chunks closest to a question and let the chat model answer from them.
    Ask(AskArgs),
}

/// Index files (directories: every .md and .txt below them) into a store. A file indexed
/// before is skipped when unchanged (SHA-256) and has all its chunks replaced when changed;
/// files gone from an indexed directory are removed. Each file is one transaction: an
/// interrupted run (Ctrl-C, a crash) leaves every file either as it was or fully indexed.
#[derive(clap::Args, Debug)]
pub struct IndexArgs {
    /// Files or directories to index.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The SQLite file (created if missing).
    #[arg(long, value_name = "FILE")]
    pub db: PathBuf,
    /// Most encoder tokens per chunk (at most the encoder's length minus its two special tokens).
    #[arg(long, default_value_t = ChunkConfig::default().max_tokens)]
    pub chunk_tokens: usize,
    /// Tokens of the previous chunk repeated at the start of the next.
    #[arg(long, default_value_t = ChunkConfig::default().overlap_tokens)]
    pub overlap: usize,
    /// Chunks embedded per batch.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// No progress bar.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub embedder: EmbedderArg,
}

/// Ask a question: embed it, look for an earlier question within the cache threshold (its
/// answer is printed without running the model), else retrieve the top-k chunks by cosine
/// similarity (printed with their scores and sources), build a prompt that cites them, and
/// stream the chat model's answer.
#[derive(clap::Args, Debug)]
pub struct AskArgs {
    /// The question.
    #[arg(value_name = "QUESTION")]
    pub question: String,
    /// The SQLite file written by `rag index`.
    #[arg(long, value_name = "FILE")]
    pub db: PathBuf,
    /// How many chunks to retrieve.
    #[arg(short = 'k', long = "top-k", default_value_t = 5)]
    pub k: usize,
    #[command(flatten)]
    pub model: ModelArg,
    /// Most tokens in the answer.
    #[arg(long = "n-predict", short = 'n', default_value_t = 256)]
    pub n: usize,
    /// Reuse an earlier answer when the question's embedding is at least this similar.
    #[arg(long, default_value_t = DEFAULT_THRESHOLD)]
    pub cache_threshold: f32,
    /// Neither read nor write the semantic cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Print the prompt given to the chat model.
    #[arg(long)]
    pub show_prompt: bool,
    /// Sampling temperature. Default 0 (greedy), unlike `generate`: an answer grounded in
    /// sources should be the model's most likely one, and the cache then stores a reproducible
    /// answer.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    /// Repetition penalty (Hugging Face's; 1 = off). A little keeps a small greedy model from
    /// looping over one sentence of a source.
    #[arg(long, default_value_t = 1.1)]
    pub repeat_penalty: f32,
    /// Random seed, used when --temperature is above 0.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub embedder: EmbedderArg,
}

/// Below this best score, retrieval has probably missed: say so next to the answer.
const MISS_SCORE: f32 = 0.3;

pub fn run(args: Args) -> Result<()> {
    match args.command {
        Command::Index(a) => index(a),
        Command::Ask(a) => ask(a),
    }
}

fn index(a: IndexArgs) -> Result<()> {
    let enc = a.embedder.load()?;
    let room = enc.max_len() - 2;
    if a.chunk_tokens == 0 || a.chunk_tokens > room {
        return Err(Error::invalid(format!(
            "--chunk-tokens must be 1 to {room} (the encoder reads {} tokens with [CLS] and [SEP])",
            enc.max_len()
        )));
    }
    if a.overlap >= a.chunk_tokens {
        return Err(Error::invalid(
            "--overlap must be smaller than --chunk-tokens",
        ));
    }
    let mut store = Store::open(&a.db, &model_id(&enc), enc.dim())?;
    let cfg = ChunkConfig {
        max_tokens: a.chunk_tokens,
        overlap_tokens: a.overlap,
    };
    let count = |t: &str| enc.tokenizer.count(t);
    let mut embed = |texts: &[&str]| enc.embed(texts);
    let t0 = Instant::now();
    let r = index_paths(
        &mut store, &a.paths, cfg, a.batch, &count, &mut embed, !a.quiet,
    )?;
    let secs = t0.elapsed().as_secs_f64();
    for d in &r.removed {
        println!("removed {} (no longer on disk)", display_path(d));
    }
    println!(
        "indexed {} files ({} chunks) in {secs:.1} s ({:.0} chunks/s); {} unchanged; {} removed; \
         the store now holds {} chunks of {} files → {}",
        r.indexed.len(),
        r.chunks,
        r.chunks as f64 / secs.max(1e-9),
        r.unchanged.len(),
        r.removed.len(),
        store.n_chunks()?,
        store.documents()?.len(),
        a.db.display()
    );
    Ok(())
}

fn ask(a: AskArgs) -> Result<()> {
    if !a.db.is_file() {
        return Err(Error::invalid(format!(
            "no store at {}: run `glassbox rag index PATH... --db {0}` first",
            a.db.display()
        )));
    }
    let enc = a.embedder.load()?;
    let store = Store::open(&a.db, &model_id(&enc), enc.dim())?;
    let t0 = Instant::now();
    let q = enc.embed(&[a.question.as_str()])?.remove(0);
    let embed_ms = t0.elapsed().as_secs_f64() * 1e3;

    // 1. the semantic cache
    if !a.no_cache {
        let answers = store.answers()?;
        if let Some(hit) = lookup(&answers, &q, a.cache_threshold) {
            println!(
                "answered from the semantic cache: cosine {:.3} with the earlier question {:?} \
                 (threshold {}; --no-cache to ask the model again)\n",
                hit.similarity, hit.earlier.question, a.cache_threshold
            );
            println!(
                "{}\n\nsources:\n{}",
                hit.earlier.answer.trim(),
                hit.earlier.sources
            );
            return Ok(());
        }
    }

    // 2. retrieval: every stored vector scored against the question, the k best kept
    let t0 = Instant::now();
    let vectors = store.vectors()?;
    let load_ms = t0.elapsed().as_secs_f64() * 1e3;
    if vectors.ids.is_empty() {
        return Err(Error::invalid(format!(
            "{} holds no chunks: index some files first",
            a.db.display()
        )));
    }
    let t0 = Instant::now();
    let hits = top_k(&vectors.data, &q, a.k.max(1));
    let scan_ms = t0.elapsed().as_secs_f64() * 1e3;
    let mut chunks: Vec<StoredChunk> = Vec::with_capacity(hits.len());
    for h in &hits {
        let mut c = store.chunk(vectors.ids[h.index])?;
        c.path = display_path(&c.path);
        chunks.push(c);
    }
    println!("retrieved {} of {} chunks:", hits.len(), vectors.ids.len());
    let mut sources = String::new();
    for (i, (h, c)) in hits.iter().zip(&chunks).enumerate() {
        let line = format!("  [{}] {:.3}  {}", i + 1, h.score, source_label(c));
        let preview: String = c
            .text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(110)
            .collect();
        println!("{line}\n        {preview}…");
        sources.push_str(&line);
        sources.push('\n');
    }
    eprintln!("[question embedded in {embed_ms:.1} ms; vectors loaded in {load_ms:.1} ms; top-{} scan over {} × {} in {scan_ms:.2} ms]", a.k, vectors.ids.len(), vectors.dim);
    if hits[0].score < MISS_SCORE {
        println!(
            "note: the best chunk scores only {:.3}: the documents may not answer this.",
            hits[0].score
        );
    }

    // 3. the grounded prompt, answered by the chat model, streamed
    let sampler = SamplerConfig {
        temperature: a.temperature,
        repeat_penalty: a.repeat_penalty,
        seed: a.seed,
        top_p: if a.temperature > 0.0 { 0.95 } else { 1.0 },
        ..SamplerConfig::default()
    };
    sampler.validate()?; // a bad --temperature or --repeat-penalty is named
    let model = a.model.load()?;
    let messages = grounded_messages(&a.question, &chunks);
    let tok = &model.tokenizer;
    let template = chat_template(&model)?;
    if a.show_prompt {
        println!(
            "\n--- prompt ---\n{}--- end of prompt ---",
            template.render(&messages, true)?
        );
    }
    let ids = template.encode(tok, &messages, true)?;
    let ctx = context_size(&model, None)?;
    check_budget(ids.len(), Some(a.n), ctx)?;
    let cfg = GenerateConfig {
        max_new_tokens: Some(a.n),
        stop_ids: stop_token_ids(tok),
        stop_strings: vec![],
        top_logprobs: 0,
        sampler,
    };
    let mut runner = LlamaRunner::new(&model, ctx)?;
    println!("\nanswer:");
    let mut stdout = std::io::stdout().lock();
    let mut on_text = |piece: &str| {
        let _ = stdout.write_all(piece.as_bytes());
        let _ = stdout.flush();
    };
    let out = generate(&mut runner, tok, &ids, &cfg, &mut on_text)?;
    println!();
    eprintln!("[{} | prompt {} tokens]", out.stats.summary(), ids.len());
    if !a.no_cache {
        store.add_answer(&a.question, &q, &out.text, &sources)?;
    }
    Ok(())
}
