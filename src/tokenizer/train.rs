//! Stage 1, training: the fast byte-level BPE trainer.
//!
//! Same result as the naive trainer in `train_naive.rs` (same merges, same tie-break: highest
//! count, then the smallest pair `(left id, right id)`), computed in four stages:
//!
//! ```text
//! 1. stream     files ──▶ ~1 MB chunks, each cut where every pre-tokenizer splits anyway  (corpus.rs)
//! 2. count      chunks ──rayon──▶ per-thread {pre-token bytes: count} ──▶ one map    (corpus.rs)
//! 3. index      unique pre-tokens as symbol lists ("words") with their counts;
//!               pair → total count, pair → the words it occurs in, a max-heap of (count, pair)
//! 4. merge      pop the best pair; rewrite only the words that contain it; update only the
//!               pairs that touch it; repeat
//! ```
//!
//! Why stage 4 is cheap: merging `(a, b) -> X` changes only pairs that contain `a`, `b` or `X`,
//! and only in words that contain `(a, b)`. A word seen 10,000 times is rewritten once, and its
//! pair changes count 10,000 times. Counts of old pairs only ever go down (every new pair
//! contains `X`), so the heap may hold stale, too-high entries: popping one whose count is out of
//! date pushes it back with the true count ("lazy invalidation"), and the first entry popped
//! with a current count is the true maximum.
//!
//! Memory is bounded by the number of *distinct* pre-tokens, not by the corpus (see `corpus.rs`).
//!
//! References: Sennrich et al. 2016 (BPE for words), Radford et al. 2019 (byte-level BPE, GPT-2),
//! huggingface/tokenizers `models/bpe/trainer.rs` (the same incremental scheme).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::PathBuf;
use std::time::Instant;

use super::bpe::{pair_key, pair_of};
use super::corpus::{count_files, count_text, progress, CHUNK_BYTES};
use super::fxhash::FxHashMap;
use super::train_naive::{TrainConfig, FIRST_MERGE_ID};
use super::Tokenizer;
use crate::{Error, Result};

/// What happened during training (the CLI prints it).
#[derive(Clone, Debug, Default)]
pub struct TrainReport {
    pub corpus_bytes: u64,
    /// Pre-token occurrences in the corpus.
    pub pretokens: u64,
    /// Distinct pre-tokens ("words").
    pub unique_pretokens: usize,
    /// The merges learned, in rank order (`FIRST_MERGE_ID + i` is the id of merge `i`).
    pub merges: Vec<(u32, u32)>,
    pub count_secs: f64,
    pub merge_secs: f64,
}

// ---------------------------------------------------------------------------------------------
// 3–4. Index the words, then merge with incremental pair counts
// ---------------------------------------------------------------------------------------------

// ANCHOR: fast_merges
/// Learn up to `num_merges` merges from pre-token counts. Same result as
/// `train_naive::naive_merges` over the corpus those counts describe.
pub fn merges_from_counts<'a>(
    counts: impl IntoIterator<Item = (&'a [u8], u64)>,
    num_merges: usize,
    show_progress: bool,
) -> Vec<(u32, u32)> {
    // 3. words: each distinct pre-token as symbol ids, with its count
    let (mut words, freq): (Vec<Vec<u32>>, Vec<i64>) = counts
        .into_iter()
        .filter(|(w, c)| w.len() >= 2 && *c > 0)
        .map(|(w, c)| (w.iter().map(|&b| b as u32).collect(), c as i64))
        .unzip();
    let mut pair_count: FxHashMap<u64, i64> = FxHashMap::default();
    let mut where_: FxHashMap<u64, Vec<u32>> = FxHashMap::default();
    for (wi, w) in words.iter().enumerate() {
        for x in w.windows(2) {
            let p = pair_key(x[0], x[1]);
            *pair_count.entry(p).or_insert(0) += freq[wi];
            let list = where_.entry(p).or_default();
            if list.last() != Some(&(wi as u32)) {
                list.push(wi as u32);
            }
        }
    }
    // max-heap on (count, smallest pair): Reverse(pair) makes the smaller pair the larger entry
    let mut heap: BinaryHeap<(i64, Reverse<u64>)> =
        pair_count.iter().map(|(&p, &c)| (c, Reverse(p))).collect();

    let bar = progress(
        show_progress,
        num_merges as u64,
        "merging [{bar:30}] {pos}/{len} merges, {msg}, ETA {eta}",
    );
    let started = Instant::now();
    let mut merges = Vec::with_capacity(num_merges);
    let mut delta: FxHashMap<u64, i64> = FxHashMap::default();
    let mut new_where: FxHashMap<u64, Vec<u32>> = FxHashMap::default();
    // 4. merge
    while merges.len() < num_merges {
        let Some((c, Reverse(p))) = heap.pop() else {
            break;
        };
        let current = pair_count.get(&p).copied().unwrap_or(0);
        if current != c {
            if current > 0 {
                heap.push((current, Reverse(p))); // stale entry: re-queue with the true count
            }
            continue;
        }
        let (a, b) = pair_of(p);
        let x = FIRST_MERGE_ID + merges.len() as u32;
        merges.push((a, b));
        let mut list = where_.remove(&p).unwrap_or_default();
        list.sort_unstable();
        list.dedup();
        for &wi in &list {
            let w = &mut words[wi as usize];
            if !w.windows(2).any(|s| s[0] == a && s[1] == b) {
                continue; // stale: an earlier merge already consumed this pair here
            }
            let f = freq[wi as usize];
            // only pairs touching a or b (before) or a, b or X (after) can change
            for s in w.windows(2) {
                if s[0] == a || s[0] == b || s[1] == a || s[1] == b {
                    *delta.entry(pair_key(s[0], s[1])).or_insert(0) -= f;
                }
            }
            merge_in_place(w, a, b, x);
            for s in w.windows(2) {
                let touches_x = s[0] == x || s[1] == x;
                if touches_x || s[0] == a || s[0] == b || s[1] == a || s[1] == b {
                    let q = pair_key(s[0], s[1]);
                    *delta.entry(q).or_insert(0) += f;
                    if touches_x {
                        let l = new_where.entry(q).or_default();
                        if l.last() != Some(&wi) {
                            l.push(wi);
                        }
                    }
                }
            }
        }
        for (q, d) in delta.drain() {
            if d == 0 {
                continue;
            }
            let entry = pair_count.entry(q).or_insert(0);
            *entry += d;
            let now = *entry;
            if now <= 0 {
                pair_count.remove(&q);
            } else if d > 0 {
                heap.push((now, Reverse(q))); // a new pair (it contains X)
            }
        }
        for (q, l) in new_where.drain() {
            where_.entry(q).or_default().extend(l);
        }
        if merges.len() % 64 == 0 {
            bar.set_position(merges.len() as u64);
            let rate = merges.len() as f64 / started.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!("{rate:.0} merges/s"));
        }
    }
    bar.finish_and_clear();
    merges
}
// ANCHOR_END: fast_merges

/// `train_naive::merge` without allocating: `(a, b) -> x`, left to right, in place.
fn merge_in_place(w: &mut Vec<u32>, a: u32, b: u32, x: u32) {
    let (mut r, mut o) = (0, 0);
    while r < w.len() {
        if r + 1 < w.len() && w[r] == a && w[r + 1] == b {
            w[o] = x;
            r += 2;
        } else {
            w[o] = w[r];
            r += 1;
        }
        o += 1;
    }
    w.truncate(o);
}

// ---------------------------------------------------------------------------------------------
// The public entry points
// ---------------------------------------------------------------------------------------------

/// Train on an in-memory text (tests, lessons).
pub fn train_text(text: &str, cfg: &TrainConfig) -> Result<Tokenizer> {
    let num_merges = cfg.num_merges()?;
    let counts = count_text(text, cfg.pattern);
    if counts.is_empty() {
        return Err(Error::invalid(
            "empty corpus: the training text has no pre-tokens",
        ));
    }
    let merges = merges_from_counts(
        counts.iter().map(|(k, &v)| (k.as_slice(), v)),
        num_merges,
        cfg.show_progress,
    );
    Ok(Tokenizer::from_merges(
        &merges,
        cfg.pattern,
        &cfg.special_tokens,
    ))
}

/// Train on text files, streamed (a corpus larger than memory works), counting in parallel.
pub fn train_files(paths: &[PathBuf], cfg: &TrainConfig) -> Result<Tokenizer> {
    train_files_report(paths, cfg, CHUNK_BYTES).map(|(t, _)| t)
}

/// [`train_files`] with a chosen chunk size, also returning what happened.
pub fn train_files_report(
    paths: &[PathBuf],
    cfg: &TrainConfig,
    chunk_bytes: usize,
) -> Result<(Tokenizer, TrainReport)> {
    let num_merges = cfg.num_merges()?;
    let t0 = Instant::now();
    let (counts, pretokens, corpus_bytes) =
        count_files(paths, cfg.pattern, chunk_bytes, cfg.show_progress)?;
    if counts.is_empty() {
        let names: Vec<_> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(Error::invalid(format!(
            "empty corpus: no text in {}",
            if names.is_empty() {
                "(no files given)".to_string()
            } else {
                names.join(", ")
            }
        )));
    }
    let count_secs = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let merges = merges_from_counts(
        counts.iter().map(|(k, &v)| (k.as_slice(), v)),
        num_merges,
        cfg.show_progress,
    );
    let report = TrainReport {
        corpus_bytes,
        pretokens,
        unique_pretokens: counts.len(),
        merges,
        count_secs,
        merge_secs: t1.elapsed().as_secs_f64(),
    };
    let tok = Tokenizer::from_merges(&report.merges, cfg.pattern, &cfg.special_tokens);
    Ok((tok, report))
}
