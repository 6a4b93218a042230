//! Stage 1, training: the fast byte-level BPE trainer.
//!
//! Same result as the naive trainer in `train_naive.rs` (same merges, same tie-break: highest
//! count, then the smallest pair `(left id, right id)`), computed in four stages:
//!
//! ```text
//! 1. stream     files ──▶ ~1 MB chunks, each cut where every pre-tokenizer splits anyway
//! 2. count      chunks ──rayon──▶ per-thread {pre-token bytes: count} ──▶ one map
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
//! Memory is bounded by the number of *distinct* pre-tokens, not by the corpus: a corpus larger
//! than RAM streams through stage 1. Pre-tokens never cross a chunk or file boundary, and a chunk
//! is only cut where the pre-tokenizer splits anyway (see [`safe_cut`]), so the counts equal those
//! of the whole file pre-tokenized at once.
//!
//! References: Sennrich et al. 2016 (BPE for words), Radford et al. 2019 (byte-level BPE, GPT-2),
//! huggingface/tokenizers `models/bpe/trainer.rs` (the same incremental scheme).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use super::bpe::{pair_key, pair_of};
use super::fxhash::FxHashMap;
use super::train_naive::{TrainConfig, FIRST_MERGE_ID};
use super::{Pretokenizer, Tokenizer};
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

/// Pre-token bytes → number of occurrences.
pub type Counts = FxHashMap<Vec<u8>, u64>;

// ---------------------------------------------------------------------------------------------
// 1. Stream: files → chunks cut at safe places
// ---------------------------------------------------------------------------------------------

/// Target chunk size for streaming and parallel counting.
pub const CHUNK_BYTES: usize = 1 << 20;

// ANCHOR: safe_cut
/// The first position `i >= from` where `buf` may be cut into `buf[..i]` and `buf[i..]` without
/// changing any pre-token, for every supported pattern (GPT-2, cl100k, o200k, Llama 3, SmolLM2).
/// Two shapes qualify, both all-ASCII, so a cut is always on a UTF-8 character boundary:
///
/// * `x y` (lowercase letter, space, lowercase letter; cut before the space): a letter run ends
///   at `x`, and ` y…` starts a new pre-token in every pattern.
/// * `!\nA` (printable ASCII, newline, ASCII letter or digit; cut after the newline): the
///   newline ends its pre-token (alone, or after punctuation in cl100k/o200k), and the next
///   starts at `A`. A run of several newlines or `\r\n` is *not* safe: GPT-2's `\s+(?!\S)` looks
///   ahead past it.
pub fn safe_cut(buf: &[u8], from: usize) -> Option<usize> {
    let start = from.max(2);
    (start..buf.len().saturating_sub(1)).find(|&i| {
        let (p, c, n) = (buf[i - 1], buf[i], buf[i + 1]);
        let letter_space_letter = p.is_ascii_lowercase() && c == b' ' && n.is_ascii_lowercase();
        let line_start = p == b'\n' && buf[i - 2].is_ascii_graphic() && c.is_ascii_alphanumeric();
        letter_space_letter || line_start
    })
}
// ANCHOR_END: safe_cut

/// Reads one file as a sequence of UTF-8 chunks of about `chunk_bytes`, never holding more than
/// a chunk (plus the part after its cut) in memory.
struct FileChunks<R> {
    path: PathBuf,
    reader: R,
    chunk_bytes: usize,
    buf: Vec<u8>,
    /// Byte offset of `buf[0]` in the file (for error messages).
    offset: u64,
    done: bool,
}

impl<R: Read> FileChunks<R> {
    fn next_chunk(&mut self) -> Result<Option<String>> {
        let mut scanned = 0;
        loop {
            if self.done {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                let all = std::mem::take(&mut self.buf);
                return self.finish_chunk(all).map(Some);
            }
            if self.buf.len() >= self.chunk_bytes {
                if let Some(cut) = safe_cut(&self.buf, scanned.max(self.chunk_bytes / 2)) {
                    let rest = self.buf.split_off(cut);
                    let chunk = std::mem::replace(&mut self.buf, rest);
                    return self.finish_chunk(chunk).map(Some);
                }
                // No safe cut yet (e.g. CJK text): read more and look again in the new part.
                scanned = self.buf.len().saturating_sub(2);
            }
            let want = self.chunk_bytes.max(4096) as u64;
            let read = (&mut self.reader)
                .take(want)
                .read_to_end(&mut self.buf)
                .map_err(|e| Error::io(&self.path, e))?;
            if read == 0 {
                self.done = true;
            }
        }
    }

    fn finish_chunk(&mut self, bytes: Vec<u8>) -> Result<String> {
        let start = self.offset;
        self.offset += bytes.len() as u64;
        String::from_utf8(bytes).map_err(|e| {
            let at = start + e.utf8_error().valid_up_to() as u64;
            Error::format(&self.path, format!("not valid UTF-8 at byte offset {at}"))
        })
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Count pre-tokens
// ---------------------------------------------------------------------------------------------

/// Add the pre-tokens of `text` to `counts`; returns how many there were.
pub fn count_into(counts: &mut Counts, text: &str, pattern: Pretokenizer) -> u64 {
    let mut n = 0;
    pattern.split(text, |piece| {
        n += 1;
        match counts.get_mut(piece.as_bytes()) {
            Some(c) => *c += 1,
            None => {
                counts.insert(piece.as_bytes().to_vec(), 1);
            }
        }
    });
    n
}

/// Pre-token counts of one in-memory text.
pub fn count_text(text: &str, pattern: Pretokenizer) -> Counts {
    let mut counts = Counts::default();
    count_into(&mut counts, text, pattern);
    counts
}

fn merge_counts(a: (Counts, u64), b: (Counts, u64)) -> (Counts, u64) {
    let (mut big, small) = if a.0.len() >= b.0.len() {
        (a, b)
    } else {
        (b, a)
    };
    for (k, v) in small.0 {
        *big.0.entry(k).or_insert(0) += v;
    }
    (big.0, big.1 + small.1)
}

/// The chunks of one file, or the error that stopped reading it.
fn file_chunks(path: &Path, chunk_bytes: usize) -> impl Iterator<Item = Result<String>> + '_ {
    let mut state = Some(
        std::fs::File::open(path)
            .map_err(|e| Error::io(path, e))
            .map(|f| FileChunks {
                path: path.to_path_buf(),
                reader: std::io::BufReader::with_capacity(1 << 16, f),
                chunk_bytes: chunk_bytes.max(16),
                buf: Vec::new(),
                offset: 0,
                done: false,
            }),
    );
    std::iter::from_fn(move || match state.take()? {
        Err(e) => Some(Err(e)),
        Ok(mut s) => match s.next_chunk() {
            Ok(Some(chunk)) => {
                state = Some(Ok(s));
                Some(Ok(chunk))
            }
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        },
    })
}

/// Stream `paths`, cut them into chunks of about `chunk_bytes`, and count pre-tokens on all
/// rayon threads. Returns the counts, the number of pre-tokens and the corpus size in bytes.
pub fn count_files(
    paths: &[PathBuf],
    pattern: Pretokenizer,
    chunk_bytes: usize,
    show_progress: bool,
) -> Result<(Counts, u64, u64)> {
    let mut total = 0u64;
    for p in paths {
        total += std::fs::metadata(p).map_err(|e| Error::io(p, e))?.len();
    }
    let bar = progress(
        show_progress,
        total,
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}, ETA {eta}",
    );
    bar.set_message("counting pre-tokens");
    let chunks = paths.iter().flat_map(|path| file_chunks(path, chunk_bytes));
    let (counts, pretokens) = chunks
        .par_bridge()
        .try_fold(
            || (Counts::default(), 0u64),
            |(mut counts, n), chunk: Result<String>| {
                let chunk = chunk?;
                let added = count_into(&mut counts, &chunk, pattern);
                bar.inc(chunk.len() as u64);
                Ok((counts, n + added))
            },
        )
        .try_reduce(|| (Counts::default(), 0), |a, b| Ok(merge_counts(a, b)))?;
    bar.finish_and_clear();
    Ok((counts, pretokens, total))
}

fn progress(show: bool, len: u64, template: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
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
