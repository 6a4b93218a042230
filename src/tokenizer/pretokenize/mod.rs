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
//! through `fancy-regex` (the reference, this file), [`Pretokenizer::split`] is a hand-written
//! scanner (`scan.rs`) that follows the same alternatives in the same order (several times
//! faster; the property tests in `tests/tokenizer_pretokenize.rs` check they agree on
//! arbitrary Unicode).

mod scan;

use crate::{Error, Result};
use std::sync::OnceLock;

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
            Pretokenizer::Gpt2 => scan::gpt2(text, &mut f),
            Pretokenizer::Cl100k => scan::cl100k(text, false, &mut f),
            Pretokenizer::Llama3 => scan::cl100k(text, true, &mut f),
            Pretokenizer::O200k => scan::o200k(text, &mut f),
            Pretokenizer::SmolLm => scan::smollm(text, &mut f),
        }
    }

    /// Collect [`Pretokenizer::split`] into a vector.
    pub fn split_vec(self, text: &str) -> Vec<&str> {
        let mut v = Vec::new();
        self.split(text, |p| v.push(p));
        v
    }
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
