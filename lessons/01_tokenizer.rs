//! Lesson 1: the tokenizer.
//!
//! `cargo run --release --example 01_tokenizer`
//!
//! 1. BPE by hand: the naive trainer on "aaabdaaabac", merge by merge.
//! 2. Train a 512-token byte-level BPE on the Brown corpus (1 million words of 1961 American
//!    English) with the fast trainer, and look at what it learned first.
//! 3. Encode a sentence with it and see the pieces.
//! 4. Load a production tokenizer (OpenAI's o200k_base) and check a claim about its ids.
//! 5. Characters per token for English, code and Hindi — and what that costs.

use std::time::Instant;

use glassbox::data;
use glassbox::tokenizer::corpus::{count_text, CHUNK_BYTES};
use glassbox::tokenizer::train::{merges_from_counts, train_files_report};
use glassbox::tokenizer::train_naive::{merge, naive_merges, TrainConfig, FIRST_MERGE_ID};
use glassbox::tokenizer::{Pretokenizer, Tokenizer};

/// "Building LLM applications is fun!" in o200k_base, as tiktoken encodes it.
const O200K_CLAIM_TEXT: &str = "Building LLM applications is fun!";
const O200K_REFERENCE_IDS: [u32; 7] = [36990, 451, 19641, 9391, 382, 2827, 0];

const HINDI: &str = "भारत दक्षिण एशिया में स्थित एक विशाल देश है। इसकी राजधानी नई दिल्ली है और \
यहाँ सैकड़ों भाषाएँ बोली जाती हैं। हिंदी और अंग्रेज़ी केंद्र सरकार की आधिकारिक भाषाएँ हैं।";
const CODE: &str = include_str!("../src/tokenizer/train_naive.rs");

fn main() -> glassbox::Result<()> {
    // ── 1. By hand ──────────────────────────────────────────────────────────────────────────
    println!("== 1. BPE by hand: \"aaabdaaabac\", 3 merges ==");
    let mut ids: Vec<u32> = "aaabdaaabac".bytes().map(u32::from).collect();
    println!("  bytes:              {ids:?}");
    let merges = naive_merges(vec![ids.clone()], 3);
    for (i, &pair) in merges.iter().enumerate() {
        let new_id = FIRST_MERGE_ID + i as u32;
        ids = merge(&ids, pair, new_id);
        println!("  merge {pair:?} -> {new_id}: {ids:?}");
    }

    // ── 2. Train on real text ───────────────────────────────────────────────────────────────
    println!("\n== 2. Train a 512-token BPE on the Brown corpus ==");
    let brown = data::brown::brown_corpus()?;
    let cfg = TrainConfig {
        vocab_size: 512,
        pattern: Pretokenizer::Gpt2,
        special_tokens: vec!["<|endoftext|>".into()],
        show_progress: false,
    };
    let t = Instant::now();
    let (ours, report) = train_files_report(std::slice::from_ref(&brown), &cfg, CHUNK_BYTES)?;
    println!(
        "  {:.1} MB, {} pre-tokens ({} distinct), {} merges in {:.2} s",
        report.corpus_bytes as f64 / 1e6,
        report.pretokens,
        report.unique_pretokens,
        report.merges.len(),
        t.elapsed().as_secs_f64()
    );
    println!("  the first 12 merges (the most frequent pairs of English):");
    for (i, &(a, b)) in report.merges.iter().enumerate().take(12) {
        println!(
            "    {:>3}: {:>6} + {:<6} -> {:?}",
            FIRST_MERGE_ID as usize + i,
            show(&ours, a),
            show(&ours, b),
            text(&ours, FIRST_MERGE_ID + i as u32)
        );
    }
    let last = FIRST_MERGE_ID + report.merges.len() as u32 - 1;
    println!(
        "  ... and the last one: {} -> {:?}",
        last,
        text(&ours, last)
    );

    // ── 2b. Vocabulary size: the sweet spot between characters and words ───────────────────
    // The merges of a small vocabulary are a prefix of a larger one's, so one training run
    // gives every size: `from_merges(&merges[..n])`.
    println!("\n  vocabulary size vs. characters per token on the first 200k characters of Brown:");
    let full = std::fs::read_to_string(&brown).map_err(|e| glassbox::Error::io(&brown, e))?;
    let english: String = full.chars().take(200_000).collect();
    let counts = count_text(&english, Pretokenizer::Gpt2);
    let big = merges_from_counts(
        counts.iter().map(|(k, &v)| (k.as_slice(), v)),
        16384 - 256,
        false,
    );
    let chars = english.chars().count() as f64;
    for vocab in [256usize, 512, 1024, 4096, 16384] {
        let n = (vocab - 256).min(big.len());
        let t = Tokenizer::from_merges(&big[..n], Pretokenizer::Gpt2, &[]);
        println!(
            "    vocab {vocab:>6}: {:>5.2} characters per token",
            chars / t.encode(&english).len() as f64
        );
    }
    let words = english.split_whitespace().count() as f64;
    println!(
        "    whole words: {:.2} characters per word, but {} distinct pre-tokens already in 200k characters",
        chars / words,
        counts.len()
    );

    // ── 3. Encode a sentence ────────────────────────────────────────────────────────────────
    println!("\n== 3. Encode with our tokenizer ==");
    let sentence = "The capital of France is Paris.";
    let ids = ours.encode(sentence);
    println!("  {sentence:?} -> {} tokens {ids:?}", ids.len());
    println!("  pieces: {}", pieces(&ours, &ids));
    assert_eq!(ours.decode(&ids)?, sentence, "decode(encode(s)) == s");

    // ── 4. A production tokenizer, and checking a claim ─────────────────────────────────────
    println!("\n== 4. o200k_base (GPT-4o) ==");
    let o200k = Tokenizer::from_tiktoken_name("o200k_base")?;
    let ids = o200k.encode(O200K_CLAIM_TEXT);
    println!("  {O200K_CLAIM_TEXT:?} -> {ids:?}");
    println!("  pieces: {}", pieces(&o200k, &ids));
    println!(
        "  equals tiktoken's ids {:?}: {}",
        O200K_REFERENCE_IDS,
        ids == O200K_REFERENCE_IDS
    );
    // How to check a published list of ids: decode it with the encoding it claims to use.
    // A common slip is to use another encoding: the same text in cl100k_base (GPT-4) is
    let cl100k = Tokenizer::from_tiktoken_name("cl100k_base")?;
    let cl_ids = cl100k.encode(O200K_CLAIM_TEXT);
    println!("  in cl100k_base instead: {cl_ids:?}");
    // Decoding them with o200k gives garbage: the ids only mean something in their own vocabulary.
    let garbage = String::from_utf8_lossy(&o200k.decode_bytes(&cl_ids)?).into_owned();
    println!("  those cl100k ids read as o200k ids: {garbage:?}");

    // ── 5. Characters per token ─────────────────────────────────────────────────────────────
    println!("\n== 5. Characters per token (more is cheaper) ==");
    println!(
        "  {:<10} {:>10} {:>10} {:>10}",
        "text", "brown-512", "cl100k", "o200k"
    );
    for (name, sample) in [
        ("English", english.as_str()),
        ("code", CODE),
        ("Hindi", HINDI),
    ] {
        let chars = sample.chars().count() as f64;
        let per = |t: &Tokenizer| chars / t.encode(sample).len() as f64;
        println!(
            "  {name:<10} {:>10.2} {:>10.2} {:>10.2}",
            per(&ours),
            per(&cl100k),
            per(&o200k)
        );
    }
    for number in ["7", "1234567", "3.14159265"] {
        println!(
            "  the number {number:<11} costs {} tokens in cl100k, {} in o200k",
            cl100k.encode(number).len(),
            o200k.encode(number).len()
        );
    }

    // ── 6. Speed and cost ───────────────────────────────────────────────────────────────────
    let t = Instant::now();
    let n = o200k.encode(&full).len();
    let secs = t.elapsed().as_secs_f64();
    let mb = full.len() as f64 / 1e6;
    println!("\n== 6. Encode speed and cost ==");
    println!("  o200k encodes the whole Brown corpus ({mb:.1} MB) in {secs:.2} s: {:.1} MB/s on 1 thread", mb / secs);
    let usd_per_million = 2.50;
    println!(
        "  that is {n} tokens; sent as input at ${usd_per_million:.2} per 1M tokens it costs ${:.2}",
        n as f64 * usd_per_million / 1e6
    );
    Ok(())
}

/// The text of one token, with invisible bytes escaped.
fn text(tok: &Tokenizer, id: u32) -> String {
    String::from_utf8_lossy(tok.token_bytes(id).unwrap_or(&[])).into_owned()
}
fn show(tok: &Tokenizer, id: u32) -> String {
    format!("{:?}", text(tok, id))
}
/// Tokens separated by `|`.
fn pieces(tok: &Tokenizer, ids: &[u32]) -> String {
    let parts: Vec<String> = ids.iter().map(|&id| text(tok, id)).collect();
    format!("|{}|", parts.join("|"))
}
