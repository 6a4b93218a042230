//! Field-aware values for the structure-aware targets: integers and floats biased toward the
//! values that break parsers (2ⁿ, 2ⁿ−1, u64::MAX, NaN, ±∞, subnormals), and JSON documents
//! built from a target's own keywords and serialised as *text* (so a number can be 1e999 or
//! 18446744073709551616, a string can hold a lone surrogate escape, and nesting can be deep).
//! Random bytes rarely reach such values; a few choices of `arbitrary` reach them at once.
//!
//! ```text
//! fuzzer bytes ──arbitrary──▶ Json { Object[(Keyword 3, Array[Int(Pow2 32)]), …] }
//!              ──write──▶ {"messages":[4294967296],…}  ──▶ the parser under test
//! ```

use arbitrary::Arbitrary;

/// Text longer than this stops growing (a `Repeat` inside a `Repeat` would otherwise write
/// 4096² copies): the server refuses bodies over 2 MiB before parsing anyway.
const MAX_TEXT: usize = 3 << 20;

/// An integer biased toward the values that break things.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Int {
    Small(u8),
    Pow2(u8),
    Pow2Minus1(u8),
    Pow2Plus(u8, u8),
    Max,
    Raw(u64),
}

impl Int {
    pub fn get(self) -> u64 {
        match self {
            Int::Small(v) => v as u64,
            Int::Pow2(p) => 1u64.checked_shl(p as u32 % 64).unwrap_or(0),
            Int::Pow2Minus1(p) => (1u64 << (p % 64)).wrapping_sub(1),
            Int::Pow2Plus(p, k) => (1u64 << (p % 64)).wrapping_add(k as u64),
            Int::Max => u64::MAX,
            Int::Raw(v) => v,
        }
    }
}

/// A float biased toward the values that break things.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Float {
    Nan,
    Inf,
    NegInf,
    Zero,
    NegZero,
    Subnormal,
    Max,
    Small(i8),
    Raw(f32),
}

impl Float {
    pub fn get(self) -> f32 {
        match self {
            Float::Nan => f32::NAN,
            Float::Inf => f32::INFINITY,
            Float::NegInf => f32::NEG_INFINITY,
            Float::Zero => 0.0,
            Float::NegZero => -0.0,
            Float::Subnormal => f32::from_bits(1),
            Float::Max => f32::MAX,
            Float::Small(v) => v as f32 / 8.0,
            Float::Raw(v) => v,
        }
    }
}

/// A string: one of the target's words, any text, or text JSON parsers stumble on.
#[derive(Arbitrary, Debug)]
pub enum Str {
    Word(u8),
    Text(String),
    /// `\ud800`: a lone surrogate escape (not a Unicode scalar value).
    LoneSurrogate,
    /// Raw bytes that are not UTF-8, inside the quotes.
    NotUtf8(Vec<u8>),
    /// `n` copies of one character (long strings; `n` < 65536).
    Long(u16, char),
}

/// A JSON document, written by [`Json::write`].
#[derive(Arbitrary, Debug)]
pub enum Json {
    Null,
    Bool(bool),
    Int(Int),
    NegInt(Int),
    Float(Float),
    /// A number beyond f64 (`1e999`) or with 400 digits.
    HugeNumber(bool),
    Str(Str),
    Array(Vec<Json>),
    Object(Vec<(Str, Json)>),
    /// `n` (< 4096) copies of the value in an array (thousands of messages, long id lists).
    Repeat(u16, Box<Json>),
    /// The value wrapped in `n` (< 256) arrays or objects.
    Nest(u8, bool, Box<Json>),
}

impl Json {
    /// JSON text; `words` are the target's keywords and values (`Str::Word` picks one).
    pub fn write(&self, words: &[&str], out: &mut Vec<u8>) {
        match self {
            Json::Null => out.extend_from_slice(b"null"),
            Json::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Json::Int(i) => out.extend_from_slice(i.get().to_string().as_bytes()),
            Json::NegInt(i) => out.extend_from_slice(format!("-{}", i.get()).as_bytes()),
            Json::Float(f) => {
                let x = f.get();
                let text = if x.is_finite() {
                    format!("{x:?}")
                } else if x.is_nan() {
                    "NaN".into()
                } else {
                    format!("{}1e999", if x < 0.0 { "-" } else { "" })
                };
                out.extend_from_slice(text.as_bytes());
            }
            Json::HugeNumber(exp) => {
                if *exp {
                    out.extend_from_slice(b"1e999");
                } else {
                    out.extend(std::iter::repeat_n(b'9', 400));
                }
            }
            Json::Str(s) => write_str(s, words, out),
            Json::Array(items) => {
                out.push(b'[');
                for (i, v) in items.iter().enumerate() {
                    if out.len() > MAX_TEXT {
                        break;
                    }
                    if i > 0 {
                        out.push(b',');
                    }
                    v.write(words, out);
                }
                out.push(b']');
            }
            Json::Object(fields) => {
                out.push(b'{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(k, words, out);
                    out.push(b':');
                    v.write(words, out);
                }
                out.push(b'}');
            }
            Json::Repeat(n, v) => {
                let mut one = Vec::new();
                v.write(words, &mut one);
                out.push(b'[');
                for i in 0..(*n % 4096) {
                    if out.len() > MAX_TEXT {
                        break;
                    }
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(&one);
                }
                out.push(b']');
            }
            Json::Nest(n, array, v) => {
                let (open, close): (&[u8], &[u8]) = if *array {
                    (b"[", b"]")
                } else {
                    (b"{\"a\":", b"}")
                };
                for _ in 0..*n {
                    out.extend_from_slice(open);
                }
                v.write(words, out);
                for _ in 0..*n {
                    out.extend_from_slice(close);
                }
            }
        }
    }
}

fn write_str(s: &Str, words: &[&str], out: &mut Vec<u8>) {
    match s {
        Str::Word(i) if !words.is_empty() => {
            let w = words[*i as usize % words.len()];
            out.extend_from_slice(serde_json::to_string(w).unwrap_or_default().as_bytes());
        }
        Str::Word(_) => out.extend_from_slice(b"\"\""),
        Str::Text(t) => {
            out.extend_from_slice(serde_json::to_string(t).unwrap_or_default().as_bytes())
        }
        Str::LoneSurrogate => out.extend_from_slice(b"\"\\ud800\""),
        Str::NotUtf8(b) => {
            out.push(b'"');
            out.extend(
                b.iter()
                    .map(|&c| if c == b'"' || c == b'\\' { 0xff } else { c }),
            );
            out.push(b'"');
        }
        Str::Long(n, c) => {
            let text: String = std::iter::repeat_n(*c, *n as usize).collect();
            out.extend_from_slice(serde_json::to_string(&text).unwrap_or_default().as_bytes());
        }
    }
}
