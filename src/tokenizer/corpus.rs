//! Stage 1, training, stages 1–2 of the fast trainer: a corpus streamed into pre-token counts.
//!
//! ```text
//! 1. stream     files ──▶ ~1 MB chunks, each cut where every pre-tokenizer splits anyway
//! 2. count      chunks ──rayon──▶ per-thread {pre-token bytes: count} ──▶ one map
//! ```
//!
//! Memory is bounded by the number of *distinct* pre-tokens, not by the corpus: a corpus larger
//! than RAM streams through. Pre-tokens never cross a chunk or file boundary, and a chunk is
//! only cut where the pre-tokenizer splits anyway (see [`safe_cut`]), so the counts equal those
//! of the whole file pre-tokenized at once. `train.rs` merges from these counts.

use std::io::Read;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use super::fxhash::FxHashMap;
use super::Pretokenizer;
use crate::{Error, Result};

/// Pre-token bytes → number of occurrences.
pub type Counts = FxHashMap<Vec<u8>, u64>;

// 1. Stream: files → chunks cut at safe places

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

// 2. Count pre-tokens

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

pub(super) fn progress(show: bool, len: u64, template: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
