//! RAG, step 1 · chunking: cut a document into pieces the encoder can embed whole.
//!
//! An embedding is one vector per input, and the encoder reads at most 256 tokens (it was
//! trained on 128), so a document is cut into chunks. Where to cut decides what can be found:
//! a chunk that stops mid-sentence embeds half a thought. So the cuts follow the text:
//!
//! ```text
//! document ──blank lines──▶ paragraphs (a ``` code fence stays one paragraph)
//!   paragraph ≤ max tokens            → one unit
//!   longer    ──. ! ? + space──▶ sentences (code: lines) → units; a sentence > max → word windows
//! units ──packed greedily──▶ chunks of ≤ max tokens; each new chunk starts with the last units
//!                           of the one before, up to `overlap` tokens, so a fact cut at a
//!                           boundary is whole in one of the two
//! ```
//!
//! Sizes are counted in the encoder's own WordPiece tokens (`count`), never in characters:
//! "tokens" is what the 256 limit is made of. Because WordPiece splits at every space, joining
//! units with whitespace adds no token, so a chunk's count is the sum of its units' counts.

/// How big a chunk may be, and how much of the previous one it repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkConfig {
    /// Most word-piece tokens in one chunk (without `[CLS]`/`[SEP]`).
    pub max_tokens: usize,
    /// Tokens of the previous chunk repeated at the start of the next, at most.
    pub overlap_tokens: usize,
}

impl Default for ChunkConfig {
    /// 128 tokens, the length all-MiniLM-L6-v2 was trained on; a quarter of it repeated.
    fn default() -> Self {
        ChunkConfig {
            max_tokens: 128,
            overlap_tokens: 32,
        }
    }
}

/// One chunk: its text and where it came from (1-based lines, inclusive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    pub text: String,
    pub first_line: usize,
    pub last_line: usize,
    pub n_tokens: usize,
    /// How many of those tokens, at its start, repeat the end of the chunk before.
    pub overlap_tokens: usize,
}

/// A piece that is never cut further: a paragraph, a sentence or a word window.
#[derive(Clone, Debug)]
struct Unit {
    text: String,
    first_line: usize,
    last_line: usize,
    n_tokens: usize,
    /// The first unit of its paragraph (joined to the one before with a blank line).
    starts_paragraph: bool,
    /// A line of a code block (joined to the one before with a newline, not a space).
    code: bool,
}

/// Paragraphs with their line ranges: blank lines separate, a fenced code block is one.
fn paragraphs(text: &str) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    let mut cur: Vec<&str> = Vec::new();
    let (mut first, mut in_fence) = (0, false);
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start().starts_with("```");
        if line.trim().is_empty() && !in_fence {
            if !cur.is_empty() {
                out.push((cur.join("\n"), first, i));
                cur.clear();
            }
            continue;
        }
        if cur.is_empty() {
            first = i + 1;
        }
        cur.push(line);
        in_fence ^= fence;
    }
    if !cur.is_empty() {
        out.push((cur.join("\n"), first, first + cur.len() - 1));
    }
    out
}

/// Sentences of a paragraph: a cut after `.`, `!` or `?` followed by whitespace; in a code
/// block, after every line.
fn sentences(p: &str) -> Vec<&str> {
    let code = p.trim_start().starts_with("```");
    let mut out = Vec::new();
    let mut start = 0;
    let b = p.as_bytes();
    for i in 0..b.len() {
        let end = match code {
            true => b[i] == b'\n',
            false => {
                matches!(b[i], b'.' | b'!' | b'?')
                    && b.get(i + 1).is_some_and(u8::is_ascii_whitespace)
            }
        };
        if end {
            out.push(&p[start..=i]);
            start = i + 1;
        }
    }
    out.push(&p[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// A sentence longer than `max` tokens as windows of whole words, each ≤ `max` tokens (a single
/// word longer than that is one window; the encoder truncates it).
fn word_windows(s: &str, max: usize, count: &impl Fn(&str) -> usize) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    let (mut cur, mut n) = (String::new(), 0);
    for w in s.split_whitespace() {
        let k = count(w);
        if n + k > max && !cur.is_empty() {
            out.push((std::mem::take(&mut cur), n));
            n = 0;
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(w);
        n += k;
    }
    if !cur.is_empty() {
        out.push((cur, n));
    }
    out
}

// ANCHOR: chunk
/// Cut `text` into chunks of at most `cfg.max_tokens` tokens as `count` measures them.
pub fn chunk_text(text: &str, cfg: ChunkConfig, count: impl Fn(&str) -> usize) -> Vec<Chunk> {
    let max = cfg.max_tokens.max(1);
    // 1. units: whole paragraphs when they fit, else sentences, else word windows
    let mut units = Vec::new();
    for (p, first, last) in paragraphs(text) {
        let n = count(&p);
        if n <= max {
            units.push(Unit {
                text: p,
                first_line: first,
                last_line: last,
                n_tokens: n,
                starts_paragraph: true,
                code: false,
            });
            continue;
        }
        let mut starts_paragraph = true;
        let code = p.trim_start().starts_with("```");
        for s in sentences(&p) {
            // the sentence's lines: the paragraph's first line + the newlines before it, and in it
            let at = s.as_ptr() as usize - p.as_ptr() as usize;
            let first_line = first + p[..at].matches('\n').count();
            let last_line = first_line + s.matches('\n').count();
            let pieces = match count(s) {
                k if k <= max => vec![(s.to_string(), k)],
                _ => word_windows(s, max, &count),
            };
            for (text, n_tokens) in pieces {
                units.push(Unit {
                    text,
                    first_line,
                    last_line,
                    n_tokens,
                    starts_paragraph,
                    code,
                });
                starts_paragraph = false;
            }
        }
    }
    // 2. pack units greedily; a new chunk repeats the previous chunk's tail up to `overlap`
    let mut chunks = Vec::new();
    let (mut cur, mut repeated): (Vec<Unit>, usize) = (Vec::new(), 0);
    for u in units {
        let used: usize = cur.iter().map(|c| c.n_tokens).sum();
        if !cur.is_empty() && used + u.n_tokens > max {
            chunks.push(join(&cur, repeated));
            // the tail to repeat: whole units from the end, within `overlap` and leaving room for u
            let room = cfg.overlap_tokens.min(max.saturating_sub(u.n_tokens));
            let mut keep = 0;
            while keep < cur.len() && repeated_tokens(&cur[cur.len() - keep - 1..]) <= room {
                keep += 1;
            }
            cur.drain(..cur.len() - keep);
            repeated = repeated_tokens(&cur);
        }
        cur.push(u);
    }
    if !cur.is_empty() {
        chunks.push(join(&cur, repeated));
    }
    chunks
}

fn repeated_tokens(units: &[Unit]) -> usize {
    units.iter().map(|u| u.n_tokens).sum()
}
// ANCHOR_END: chunk

/// Units → one chunk: a blank line between paragraphs, a newline between code lines, a space
/// between sentences.
fn join(units: &[Unit], overlap_tokens: usize) -> Chunk {
    let mut text = String::new();
    for (i, u) in units.iter().enumerate() {
        if i > 0 {
            text.push_str(match (u.starts_paragraph, u.code) {
                (true, _) => "\n\n",
                (false, true) => "\n",
                (false, false) => " ",
            });
        }
        text.push_str(&u.text);
    }
    Chunk {
        text,
        first_line: units[0].first_line,
        last_line: units[units.len() - 1].last_line,
        n_tokens: repeated_tokens(units),
        overlap_tokens,
    }
}
