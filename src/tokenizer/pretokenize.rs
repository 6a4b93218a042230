//! Stage 1, step 1: pre-tokenization — cut the text into pieces that BPE never merges across.
//!
//! Every production BPE first splits text with a regular expression so that a token never
//! spans a word and the space before the next word, a letter and a digit, and so on. The
//! patterns, exactly as published (alternatives are tried left to right at each position;
//! the first one that matches wins — "leftmost-first", not "longest"):
//!
//! * **GPT-2** (`openai/gpt-2 encoder.py`, also HF `ByteLevel(use_regex=true)`):
//!   `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
//! * **cl100k_base** (`tiktoken_ext/openai_public.py`): contractions case-insensitive, one
//!   non-letter may lead a word (`"hello`, ` hello`), numbers in groups of at most 3, newlines
//!   glued to punctuation, `\s+(?!\S)` leaves the last space for the next word.
//! * **Llama 3** (Meta's `tokenizer.py`): cl100k's pattern with `\s*[\r\n]+` and no `\s++$`
//!   (they differ only on trailing whitespace containing a newline at the very end of a text).
//! * **o200k_base**: words split on case changes (`camelCase` → `camel`,`Case`), contractions
//!   attached to the word, combining marks count as letters.
//! * **SmolLM2** (its `tokenizer.json`): `Sequence[Digits(individual_digits), ByteLevel]` — every
//!   digit becomes its own piece first, then the GPT-2 pattern runs on the text between digits.
//!
//! Each pattern is implemented twice: [`Pretokenizer::split_regex`] runs the published pattern
//! through `fancy-regex` (the reference), [`Pretokenizer::split`] is a hand-written scanner that
//! follows the same alternatives in the same order (several times faster; the property tests in
//! `tests/tokenizer_pretokenize.rs` check they agree on arbitrary Unicode).

use crate::{Error, Result};
use std::sync::OnceLock;
use unicode_properties::{GeneralCategory as G, UnicodeGeneralCategory};

/// Which pre-tokenizer a tokenizer uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pretokenizer {
    Gpt2,
    Cl100k,
    O200k,
    /// Meta Llama 3: cl100k's rules, trailing whitespace handled by `\s*[\r\n]+` first.
    Llama3,
    /// SmolLM2: every digit alone, then GPT-2.
    SmolLm,
}

/// The published patterns (the reference implementation compiles these).
pub const GPT2_PATTERN: &str =
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
pub const CL100K_PATTERN: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";
pub const LLAMA3_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
pub const O200K_PATTERN: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
);
/// cl100k's pattern for a Hugging Face `tokenizer.json` (Oniguruma): same meaning, but `$`
/// means end-of-*line* in Oniguruma, so the end-of-text anchor is written `\z`.
const CL100K_PATTERN_ONIG: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++\z|\s*[\r\n]|\s+(?!\S)|\s";

impl Pretokenizer {
    /// Every variant, for tests and `--help` lists.
    pub const ALL: [Pretokenizer; 5] = [
        Pretokenizer::Gpt2,
        Pretokenizer::Cl100k,
        Pretokenizer::O200k,
        Pretokenizer::Llama3,
        Pretokenizer::SmolLm,
    ];

    /// The name used on the command line (`--pattern`).
    pub fn name(self) -> &'static str {
        match self {
            Pretokenizer::Gpt2 => "gpt2",
            Pretokenizer::Cl100k => "cl100k",
            Pretokenizer::O200k => "o200k",
            Pretokenizer::Llama3 => "llama3",
            Pretokenizer::SmolLm => "smollm",
        }
    }

    /// Parse a `--pattern` name (`gpt2`, `cl100k`, `o200k`, `llama3`, `smollm`).
    pub fn from_name(name: &str) -> Result<Pretokenizer> {
        let n = name.to_ascii_lowercase();
        Pretokenizer::ALL
            .into_iter()
            .find(|p| p.name() == n || format!("{}_base", p.name()) == n)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "unknown pre-tokenizer `{name}`: expected one of gpt2, cl100k, o200k, llama3, smollm"
                ))
            })
    }

    /// The published regular expression (SmolLM: the one applied between the digits).
    pub fn pattern(self) -> &'static str {
        match self {
            Pretokenizer::Gpt2 | Pretokenizer::SmolLm => GPT2_PATTERN,
            Pretokenizer::Cl100k => CL100K_PATTERN,
            Pretokenizer::O200k => O200K_PATTERN,
            Pretokenizer::Llama3 => LLAMA3_PATTERN,
        }
    }

    /// The pattern as written into a Hugging Face `tokenizer.json` (Oniguruma syntax).
    pub fn onig_pattern(self) -> &'static str {
        match self {
            Pretokenizer::Cl100k => CL100K_PATTERN_ONIG,
            p => p.pattern(),
        }
    }

    fn regex(self) -> &'static fancy_regex::Regex {
        static RE: [OnceLock<fancy_regex::Regex>; 5] = [const { OnceLock::new() }; 5];
        let i = Pretokenizer::ALL
            .iter()
            .position(|&p| p == self)
            .unwrap_or(0);
        RE[i].get_or_init(|| {
            fancy_regex::Regex::new(self.pattern()).expect("the published patterns compile")
        })
    }

    /// Reference split: the published regex via `fancy-regex`.
    pub fn split_regex<'t>(self, text: &'t str) -> Vec<&'t str> {
        let mut out = Vec::new();
        let regex_pieces = |seg: &'t str, out: &mut Vec<&'t str>| {
            for m in self.regex().find_iter(seg) {
                // the patterns cannot fail at run time (no backtracking limits are reached on
                // these simple alternations); an error would only drop the rest of the segment
                match m {
                    Ok(m) => out.push(m.as_str()),
                    Err(_) => break,
                }
            }
        };
        if self == Pretokenizer::SmolLm {
            // Digits(individual_digits=true): every `char::is_numeric` char is a piece
            let mut start = 0;
            for (i, c) in text.char_indices() {
                if c.is_numeric() {
                    if start < i {
                        regex_pieces(&text[start..i], &mut out);
                    }
                    out.push(&text[i..i + c.len_utf8()]);
                    start = i + c.len_utf8();
                }
            }
            if start < text.len() {
                regex_pieces(&text[start..], &mut out);
            }
        } else {
            regex_pieces(text, &mut out);
        }
        out
    }

    /// Fast split: calls `f` with each piece, in order. The pieces concatenate to `text`.
    #[inline]
    pub fn split<'t, F: FnMut(&'t str)>(self, text: &'t str, mut f: F) {
        match self {
            Pretokenizer::Gpt2 => split_gpt2(text, &mut f),
            Pretokenizer::Cl100k => split_cl100k(text, false, &mut f),
            Pretokenizer::Llama3 => split_cl100k(text, true, &mut f),
            Pretokenizer::O200k => split_o200k(text, &mut f),
            Pretokenizer::SmolLm => {
                let b = text.as_bytes();
                let mut start = 0;
                let mut i = 0;
                while i < b.len() {
                    let (c, len) = char_at(text, i);
                    let numeric = if c.is_ascii() {
                        c.is_ascii_digit()
                    } else {
                        c.is_numeric()
                    };
                    if numeric {
                        if start < i {
                            split_gpt2(&text[start..i], &mut f);
                        }
                        f(&text[i..i + len]);
                        start = i + len;
                    }
                    i += len;
                }
                if start < b.len() {
                    split_gpt2(&text[start..], &mut f);
                }
            }
        }
    }

    /// Collect [`Pretokenizer::split`] into a vector.
    pub fn split_vec(self, text: &str) -> Vec<&str> {
        let mut v = Vec::new();
        self.split(text, |p| v.push(p));
        v
    }
}

// ---------------------------------------------------------------------------------------------
// Character classes. One byte of flags per character; ASCII from a table, the rest from the
// Unicode general category (`unicode-properties`) and White_Space (`char::is_whitespace`,
// which is exactly regex's `\s`).

const L: u8 = 1; // \p{L}
const U: u8 = 2; // o200k "upper":  [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
const W: u8 = 4; // o200k "lower":  [\p{Ll}\p{Lm}\p{Lo}\p{M}]
const N: u8 = 8; // \p{N}
const S: u8 = 16; // \s
const NL: u8 = 32; // \r or \n

const fn ascii_flags(b: u8) -> u8 {
    match b {
        b'A'..=b'Z' => L | U,
        b'a'..=b'z' => L | W,
        b'0'..=b'9' => N,
        b'\r' | b'\n' => S | NL,
        b'\t' | 0x0b | 0x0c | b' ' => S,
        _ => 0,
    }
}

static ASCII: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut i = 0;
    while i < 128 {
        t[i] = ascii_flags(i as u8);
        i += 1;
    }
    t
};

#[inline]
fn flags(c: char) -> u8 {
    if c.is_ascii() {
        return ASCII[c as usize];
    }
    if c.is_whitespace() {
        return S;
    }
    match c.general_category() {
        G::UppercaseLetter | G::TitlecaseLetter => L | U,
        G::LowercaseLetter => L | W,
        G::ModifierLetter | G::OtherLetter => L | U | W,
        G::NonspacingMark | G::SpacingMark | G::EnclosingMark => U | W,
        G::DecimalNumber | G::LetterNumber | G::OtherNumber => N,
        _ => 0,
    }
}

/// `[^\s\p{L}\p{N}]`
#[inline]
fn is_other(f: u8) -> bool {
    f & (S | L | N) == 0
}

/// `[^\r\n\p{L}\p{N}]`
#[inline]
fn is_prefix(f: u8) -> bool {
    f & (NL | L | N) == 0
}

/// The char starting at byte `i` and its length in bytes.
#[inline(always)]
fn char_at(text: &str, i: usize) -> (char, usize) {
    let b = text.as_bytes()[i];
    if b < 0x80 {
        return (b as char, 1);
    }
    // SAFETY-free slow path: `i` is always a char boundary (we only step by char lengths)
    let c = text[i..].chars().next().unwrap_or('\u{fffd}');
    (c, c.len_utf8())
}

/// Flags of the char at `i` (0 past the end) and its length.
#[inline(always)]
fn fl_at(text: &str, i: usize) -> (u8, usize) {
    if i >= text.len() {
        return (0, 0);
    }
    let (c, len) = char_at(text, i);
    (flags(c), len)
}

/// End of the run of chars from `i` whose flags satisfy `pred`.
#[inline(always)]
fn run(text: &str, mut i: usize, pred: impl Fn(u8) -> bool) -> usize {
    let b = text.as_bytes();
    while i < b.len() {
        let (f, len) = fl_at(text, i);
        if !pred(f) {
            break;
        }
        i += len;
    }
    i
}

/// The whitespace run from `i`: (end, start of its last char, end of its last \r or \n if any).
#[inline]
fn ws_run(text: &str, mut i: usize) -> (usize, usize, Option<usize>) {
    let mut last = i;
    let mut nl = None;
    while i < text.len() {
        let (f, len) = fl_at(text, i);
        if f & S == 0 {
            break;
        }
        if f & NL != 0 {
            nl = Some(i + len);
        }
        last = i;
        i += len;
    }
    (i, last, nl)
}

/// Length of a contraction at `i` (`'s 't 're 've 'm 'll 'd`), case-insensitive if asked.
/// Case-insensitive matching follows Unicode simple case folding, so `s` also matches `ſ`
/// (U+017F), as the regex engines do.
#[inline]
fn contraction(text: &str, i: usize, case_insensitive: bool) -> usize {
    let b = &text.as_bytes()[i..];
    if b.first() != Some(&b'\'') {
        return 0;
    }
    let lower = |k: usize| -> u8 {
        match b.get(k) {
            Some(&c) if case_insensitive => c.to_ascii_lowercase(),
            Some(&c) => c,
            None => 0,
        }
    };
    if case_insensitive && b.len() >= 3 && b[1] == 0xc5 && b[2] == 0xbf {
        return 3; // 'ſ
    }
    match (lower(1), lower(2)) {
        (b's' | b't' | b'm' | b'd', _) => 2,
        (b'r' | b'v', b'e') | (b'l', b'l') => 3,
        _ => 0,
    }
}

/// Whitespace alternatives shared by all patterns, at `i` where a whitespace run starts.
/// `end_first`: cl100k's `\s++$` comes before `\s*[\r\n]`; `newlines`: whether the pattern
/// has a newline alternative at all (GPT-2 does not).
#[inline]
fn whitespace(text: &str, i: usize, end_first: bool, newlines: bool) -> usize {
    let (end, last, nl) = ws_run(text, i);
    if end_first && end == text.len() {
        return end; // \s++$
    }
    if newlines {
        if let Some(nl_end) = nl {
            return nl_end; // \s*[\r\n]+ : up to the last newline of the run
        }
    }
    if end == text.len() {
        return end; // \s+(?!\S) at the end of the text
    }
    if last > i {
        return last; // \s+(?!\S): all but the last char, which goes with the next piece
    }
    end // \s or \s+: a single whitespace char before a non-space
}

fn split_gpt2<'t>(text: &'t str, f: &mut impl FnMut(&'t str)) {
    let mut i = 0;
    while i < text.len() {
        let end = gpt2_piece(text, i);
        f(&text[i..end]);
        i = end;
    }
}

#[inline]
fn gpt2_piece(text: &str, i: usize) -> usize {
    let n = contraction(text, i, false);
    if n > 0 {
        return i + n;
    }
    let (f0, _) = fl_at(text, i);
    // ` ?X+`: the optional space counts only if an X follows it
    let (start, f) = if text.as_bytes()[i] == b' ' {
        let (f1, _) = fl_at(text, i + 1);
        if i + 1 < text.len() && (f1 & (L | N) != 0 || is_other(f1)) {
            (i + 1, f1)
        } else {
            (i, f0)
        }
    } else {
        (i, f0)
    };
    if f & L != 0 {
        return run(text, start, |g| g & L != 0);
    }
    if f & N != 0 {
        return run(text, start, |g| g & N != 0);
    }
    if is_other(f) {
        return run(text, start, is_other);
    }
    whitespace(text, i, false, false)
}

fn split_cl100k<'t>(text: &'t str, llama3: bool, f: &mut impl FnMut(&'t str)) {
    let mut i = 0;
    while i < text.len() {
        let end = cl100k_piece(text, i, llama3);
        f(&text[i..end]);
        i = end;
    }
}

#[inline]
fn cl100k_piece(text: &str, i: usize, llama3: bool) -> usize {
    let n = contraction(text, i, true);
    if n > 0 {
        return i + n;
    }
    let (f0, len0) = fl_at(text, i);
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if f0 & L != 0 {
        return run(text, i + len0, |g| g & L != 0);
    }
    if is_prefix(f0) {
        let (f1, len1) = fl_at(text, i + len0);
        if f1 & L != 0 {
            return run(text, i + len0 + len1, |g| g & L != 0);
        }
    }
    // \p{N}{1,3}
    if f0 & N != 0 {
        let mut j = i + len0;
        for _ in 0..2 {
            let (f1, len1) = fl_at(text, j);
            if f1 & N == 0 {
                break;
            }
            j += len1;
        }
        return j;
    }
    // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
    let other_start = if is_other(f0) {
        Some(i)
    } else if text.as_bytes()[i] == b' ' && is_other(fl_at(text, i + 1).0) && i + 1 < text.len() {
        Some(i + 1)
    } else {
        None
    };
    if let Some(s) = other_start {
        let j = run(text, s, is_other);
        return run(text, j, |g| g & NL != 0);
    }
    whitespace(text, i, !llama3, true)
}

fn split_o200k<'t>(text: &'t str, f: &mut impl FnMut(&'t str)) {
    let mut i = 0;
    while i < text.len() {
        let end = o200k_piece(text, i);
        f(&text[i..end]);
        i = end;
    }
}

/// `[U]*[W]+` from `s` (U = upper-ish, W = lower-ish; Lm, Lo and marks are both): the greedy
/// `U*` gives back chars until a `W` can follow, so the match ends after the `W` run that
/// follows the longest possible `U` prefix.
#[inline]
fn o200k_alt1(text: &str, s: usize) -> Option<usize> {
    let mut i = s;
    let mut last_w_end = None; // end of the last char in the U run that is also W
    while i < text.len() {
        let (f, len) = fl_at(text, i);
        if f & U == 0 {
            break;
        }
        if f & W != 0 {
            last_w_end = Some(i + len);
        }
        i += len;
    }
    let (f, _) = fl_at(text, i);
    if i < text.len() && f & W != 0 {
        return Some(run(text, i, |g| g & W != 0));
    }
    // the last W inside the U run: the chars after it in the run are Lu/Lt (not W)
    last_w_end
}

/// `[U]+[W]*` from `s`.
#[inline]
fn o200k_alt2(text: &str, s: usize) -> Option<usize> {
    let e = run(text, s, |g| g & U != 0);
    (e > s).then(|| run(text, e, |g| g & W != 0))
}

#[inline]
fn o200k_piece(text: &str, i: usize) -> usize {
    let (f0, len0) = fl_at(text, i);
    let with_prefix = is_prefix(f0);
    for alt in [o200k_alt1, o200k_alt2] {
        let end = if with_prefix {
            alt(text, i + len0).or_else(|| alt(text, i))
        } else {
            alt(text, i)
        };
        if let Some(e) = end {
            return e + contraction(text, e, true);
        }
    }
    // \p{N}{1,3}
    if f0 & N != 0 {
        let mut j = i + len0;
        for _ in 0..2 {
            let (f1, len1) = fl_at(text, j);
            if f1 & N == 0 {
                break;
            }
            j += len1;
        }
        return j;
    }
    // ` ?[^\s\p{L}\p{N}]+[\r\n/]*`
    let other_start = if is_other(f0) {
        Some(i)
    } else if text.as_bytes()[i] == b' ' && i + 1 < text.len() && is_other(fl_at(text, i + 1).0) {
        Some(i + 1)
    } else {
        None
    };
    if let Some(s) = other_start {
        let j = run(text, s, is_other);
        let b = text.as_bytes();
        let mut k = j;
        while k < b.len() && matches!(b[k], b'\r' | b'\n' | b'/') {
            k += 1;
        }
        return k;
    }
    whitespace(text, i, false, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_splits() {
        let t = "Hello world's  42 camelCase!!\n\n  x";
        for p in Pretokenizer::ALL {
            assert_eq!(p.split_vec(t), p.split_regex(t), "{p:?}");
        }
        assert_eq!(
            Pretokenizer::O200k.split_vec("camelCase HELLOworld don'T"),
            ["camel", "Case", " HELLOworld", " don'T"]
        );
        assert_eq!(Pretokenizer::Cl100k.split_vec("12345"), ["123", "45"]);
        assert_eq!(
            Pretokenizer::SmolLm.split_vec("a  42"),
            ["a", "  ", "4", "2"]
        );
    }
}
