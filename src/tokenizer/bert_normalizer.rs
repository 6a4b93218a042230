//! # Stage 1 for an encoder · BERT's text cleaning: the normaliser and the pre-tokenizer
//!
//! What happens to text before WordPiece sees it (see `wordpiece.rs` for the whole picture):
//!
//! ```text
//! "Héllo,\t世界!"  ─normalise─▶ "hello,  世  界 !"  ─pre-tokenize─▶ hello | , | 世 | 界 | !
//! ```
//!
//! The character classes (control, punctuation, non-spacing mark) come from the
//! `unicode_categories` tables, the ones Hugging Face's `tokenizers` itself uses, so a character
//! assigned in a recent Unicode version is classified the same way on both sides.
//!
//! Reference: google-research/bert `tokenization.py` (`BasicTokenizer`); huggingface/tokenizers
//! `normalizers/bert.rs` and `pre_tokenizers/bert.rs`.

use unicode_categories::UnicodeCategories;
use unicode_normalization::UnicodeNormalization;

/// What BERT's normaliser does, read from `tokenizer.json` (`"normalizer": {"type":
/// "BertNormalizer", ...}`); `strip_accents: null` there means "when lowercasing".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BertNormalizer {
    pub clean_text: bool,
    pub handle_chinese_chars: bool,
    pub strip_accents: bool,
    pub lowercase: bool,
}

// ANCHOR: normalize
/// Whitespace for BERT: Unicode White_Space, which includes `\t`, `\n`, `\r`.
fn is_whitespace(c: char) -> bool {
    c.is_whitespace()
}

/// Control characters are dropped (categories Cc, Cf, Co), except the three whitespace ones.
fn is_control(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r') && c.is_other()
}

/// The CJK Unified Ideographs blocks: written without spaces, so each becomes its own word.
/// (Hiragana, Katakana and Hangul are not in them: those are split like any other letters.)
fn is_chinese_char(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F | 0x2B920..=0x2CEAF | 0xF900..=0xFAFF | 0x2F800..=0x2FA1F)
}

impl BertNormalizer {
    /// The four steps in Hugging Face's order, each over the whole string:
    /// 1. clean: drop NUL, U+FFFD and controls; every whitespace character becomes `' '`;
    /// 2. CJK: `"世界"` → `" 世  界 "`;
    /// 3. strip accents: NFD (`é` → `e` + U+0301), then drop non-spacing marks (Mn);
    /// 4. lowercase, character by character: `ΟΔΟΣ` → `οδοσ` (`str::to_lowercase` would end
    ///    it with the final-sigma form `ς`; Hugging Face maps each character alone).
    pub fn normalize(&self, text: &str) -> String {
        let mut s: String = if self.clean_text {
            text.chars()
                .filter(|&c| !(c == '\0' || c == '\u{fffd}' || is_control(c)))
                .map(|c| if is_whitespace(c) { ' ' } else { c })
                .collect()
        } else {
            text.to_string()
        };
        if self.handle_chinese_chars && s.chars().any(is_chinese_char) {
            let mut t = String::with_capacity(s.len() + 16);
            for c in s.chars() {
                if is_chinese_char(c) {
                    t.extend([' ', c, ' ']);
                } else {
                    t.push(c);
                }
            }
            s = t;
        }
        if self.strip_accents && !s.is_ascii() {
            s = s.nfd().filter(|c| !c.is_mark_nonspacing()).collect();
        }
        if self.lowercase {
            s = s.chars().flat_map(char::to_lowercase).collect();
        }
        s
    }
}
// ANCHOR_END: normalize

// ANCHOR: pre_tokenize
/// BERT's punctuation: ASCII punctuation (so `$`, `+`, `^`, `` ` `` count) or Unicode category P.
fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || c.is_punctuation()
}

/// Split normalised text into words: whitespace separates and is dropped, every punctuation
/// character is a word of its own. `"hi, you!?"` → `hi` `,` `you` `!` `?`.
pub fn pre_tokenize(text: &str, mut word: impl FnMut(&str)) {
    for chunk in text.split(is_whitespace).filter(|w| !w.is_empty()) {
        let mut start = 0;
        for (i, c) in chunk.char_indices() {
            if is_punctuation(c) {
                if start < i {
                    word(&chunk[start..i]);
                }
                word(&chunk[i..i + c.len_utf8()]);
                start = i + c.len_utf8();
            }
        }
        if start < chunk.len() {
            word(&chunk[start..]);
        }
    }
}
// ANCHOR_END: pre_tokenize
