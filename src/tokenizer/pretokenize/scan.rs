//! Stage 1, step 1, fast: hand-written scanners for the published pre-tokenizer patterns.
//!
//! Each scanner follows its pattern's alternatives in the pattern's order at every position,
//! as the regex engine would (leftmost-first), but looks at each character once, through one
//! byte of class flags. `mod.rs` holds the patterns and the regex reference these must equal.

use unicode_properties::{GeneralCategory as G, UnicodeGeneralCategory};

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

/// Call `f` with each piece of `text`, `piece(text, i)` giving the end of the piece at `i`.
#[inline(always)]
fn pieces<'t>(text: &'t str, f: &mut impl FnMut(&'t str), piece: impl Fn(&str, usize) -> usize) {
    let mut i = 0;
    while i < text.len() {
        let end = piece(text, i);
        f(&text[i..end]);
        i = end;
    }
}

/// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
pub(super) fn gpt2<'t>(text: &'t str, f: &mut impl FnMut(&'t str)) {
    pieces(text, f, gpt2_piece);
}

/// SmolLM2: every numeric char alone (`Digits(individual_digits)`), GPT-2 between them.
pub(super) fn smollm<'t>(text: &'t str, f: &mut impl FnMut(&'t str)) {
    let mut start = 0;
    let mut i = 0;
    while i < text.len() {
        let (c, len) = char_at(text, i);
        let numeric = if c.is_ascii() {
            c.is_ascii_digit()
        } else {
            c.is_numeric()
        };
        if numeric {
            if start < i {
                gpt2(&text[start..i], f);
            }
            f(&text[i..i + len]);
            start = i + len;
        }
        i += len;
    }
    if start < text.len() {
        gpt2(&text[start..], f);
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

/// cl100k_base, and Llama 3 (`llama3`: no `\s++$` before `\s*[\r\n]`).
pub(super) fn cl100k<'t>(text: &'t str, llama3: bool, f: &mut impl FnMut(&'t str)) {
    pieces(text, f, |t, i| cl100k_piece(t, i, llama3));
}

/// `\p{N}{1,3}` from `i`, whose first char (`len0` bytes) is a number: its end.
#[inline]
fn up_to_3_digits(text: &str, i: usize, len0: usize) -> usize {
    let mut j = i + len0;
    for _ in 0..2 {
        let (f1, len1) = fl_at(text, j);
        if f1 & N == 0 {
            break;
        }
        j += len1;
    }
    j
}

/// ` ?[^\s\p{L}\p{N}]+` then any run of the bytes `trailing` accepts (cl100k: `[\r\n]*`,
/// o200k: `[\r\n/]*`), from `i` whose char has flags `f0`: its end, or `None` when no
/// punctuation run starts here.
#[inline]
fn other_run(text: &str, i: usize, f0: u8, trailing: impl Fn(u8) -> bool) -> Option<usize> {
    let start = if is_other(f0) {
        i
    } else if text.as_bytes()[i] == b' ' && i + 1 < text.len() && is_other(fl_at(text, i + 1).0) {
        i + 1
    } else {
        return None;
    };
    let b = text.as_bytes();
    let mut k = run(text, start, is_other);
    while k < b.len() && trailing(b[k]) {
        k += 1;
    }
    Some(k)
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
        return up_to_3_digits(text, i, len0);
    }
    // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
    if let Some(end) = other_run(text, i, f0, |b| matches!(b, b'\r' | b'\n')) {
        return end;
    }
    whitespace(text, i, !llama3, true)
}

/// o200k_base.
pub(super) fn o200k<'t>(text: &'t str, f: &mut impl FnMut(&'t str)) {
    pieces(text, f, o200k_piece);
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
        return up_to_3_digits(text, i, len0);
    }
    // ` ?[^\s\p{L}\p{N}]+[\r\n/]*`
    if let Some(end) = other_run(text, i, f0, |b| matches!(b, b'\r' | b'\n' | b'/')) {
        return end;
    }
    whitespace(text, i, false, true)
}
