//! Stage 1, formats: the Hugging Face `tokenizer.json` (byte-level BPE), read and written.
//!
//! The parts that matter for a byte-level BPE:
//!
//! ```text
//! { "added_tokens": [{"id": 0, "content": "<|endoftext|>", "special": true, ...}],
//!   "normalizer": null,
//!   "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
//!        {"type": "Split", "pattern": {"Regex": "..."}, "behavior": "Isolated", "invert": false},
//!        {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]},
//!   "decoder": {"type": "ByteLevel", ...},
//!   "model": {"type": "BPE", "byte_fallback": false, "ignore_merges": false,
//!             "vocab": {"Ġthe": 262, ...},            // tokens in the GPT-2 byte alphabet (bytes.rs)
//!             "merges": ["Ġ t", ...] or [["Ġ", "t"], ...]}}  // rank = position in the list
//! ```
//!
//! Reference: huggingface/tokenizers `tokenizers/src/models/bpe/serialization.rs`,
//! `pre_tokenizers/{byte_level,split,digits,sequence}.rs`.

use super::bytes::{byte_to_char_table, bytes_to_gpt2, gpt2_to_bytes};
use super::{Kind, MergeRules, Pretokenizer, Tokenizer};
use crate::formats::file;
use crate::{Error, Result};
use serde_json::{json, Map, Value};
use std::path::Path;

/// The `pre_tokenizer` object for a pre-tokenizer.
pub fn pre_tokenizer_json(p: Pretokenizer) -> Value {
    match p {
        Pretokenizer::SmolLm => json!({
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Digits", "individual_digits": true},
                {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
            ]
        }),
        _ => json!({
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": p.onig_pattern()}, "behavior": "Isolated", "invert": false},
                {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}
            ]
        }),
    }
}

impl Tokenizer {
    /// A complete Hugging Face `tokenizer.json` for this tokenizer: the `tokenizers` library
    /// loads it, encodes to the same ids and decodes back to the same text.
    ///
    /// `model.vocab` holds an ordinary token in the GPT-2 byte alphabet and a special token
    /// under its text as is, as Hugging Face's trainer writes it: its reader gives an added
    /// token the id model.vocab has for the token's `content`, so a special whose text the
    /// alphabet would change (`<|a\0|>` → `<|aĀ|>`, a space, any non-ASCII character) must be
    /// there unchanged or it becomes a new token with a new id. A special whose text is some
    /// ordinary token's byte-level spelling stays out of model.vocab (`added_tokens` keeps its
    /// id, which our reader honours); entries are in id order, the first id keeping a repeat.
    pub fn to_tokenizer_json(&self) -> Value {
        let table = byte_to_char_table();
        let spelled: Vec<(usize, String, Kind)> = self
            .kinds
            .iter()
            .enumerate()
            .filter_map(|(id, &kind)| {
                let t = self.tokens.get(id as u32);
                match kind {
                    Kind::Missing => None,
                    Kind::Normal => Some((id, bytes_to_gpt2(t, &table), kind)),
                    Kind::Special => Some((id, String::from_utf8_lossy(t).into_owned(), kind)),
                }
            })
            .collect();
        let ordinary: std::collections::HashSet<&str> = spelled
            .iter()
            .filter(|e| e.2 == Kind::Normal)
            .map(|e| e.1.as_str())
            .collect();
        let mut vocab = Map::new();
        for (id, text, kind) in &spelled {
            if *kind == Kind::Special && ordinary.contains(text.as_str()) {
                continue;
            }
            vocab.entry(text.clone()).or_insert(json!(id));
        }
        let merges: Vec<Value> = self
            .merge_list
            .iter()
            .map(|&(a, b)| {
                json!([
                    bytes_to_gpt2(self.tokens.get(a), &table),
                    bytes_to_gpt2(self.tokens.get(b), &table)
                ])
            })
            .collect();
        let added: Vec<Value> = self
            .special_tokens()
            .map(|(s, id)| {
                json!({"id": id, "content": s, "single_word": false, "lstrip": false,
                       "rstrip": false, "normalized": false, "special": true})
            })
            .collect();
        json!({
            "version": "1.0",
            "truncation": null,
            "padding": null,
            "added_tokens": added,
            "normalizer": null,
            "pre_tokenizer": pre_tokenizer_json(self.pretokenizer),
            "post_processor": null,
            "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
            "model": {
                "type": "BPE", "dropout": null, "unk_token": null,
                "continuing_subword_prefix": null, "end_of_word_suffix": null,
                "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                "vocab": vocab, "merges": merges
            }
        })
    }

    /// Read a Hugging Face `tokenizer.json` (byte-level BPE only).
    pub fn from_tokenizer_json_file(path: &Path) -> Result<Tokenizer> {
        Tokenizer::from_tokenizer_json(&file::read_json(path)?, path)
    }

    /// Build from a parsed `tokenizer.json`; `path` names the file in errors.
    pub fn from_tokenizer_json(v: &Value, path: &Path) -> Result<Tokenizer> {
        let bad = |what: String| Error::format(path, what);
        let model = v
            .get("model")
            .ok_or_else(|| bad("no `model` field".into()))?;
        if let Some(t) = model.get("type").and_then(Value::as_str) {
            if t != "BPE" {
                return Err(Error::Unsupported(format!(
                    "{}: tokenizer model `{t}` (only byte-level BPE is supported)",
                    path.display()
                )));
            }
        }
        if model.get("byte_fallback").and_then(Value::as_bool) == Some(true) {
            return Err(Error::Unsupported(format!(
                "{}: a BPE with byte_fallback (SentencePiece-style, e.g. Llama 2); only byte-level BPE is supported",
                path.display()
            )));
        }
        if let Some(n) = v.get("normalizer").filter(|n| !n.is_null()) {
            let kind = n.get("type").and_then(Value::as_str).unwrap_or("?");
            return Err(Error::Unsupported(format!(
                "{}: normalizer `{kind}`",
                path.display()
            )));
        }
        let pretokenizer =
            parse_pre_tokenizer(v.get("pre_tokenizer").unwrap_or(&Value::Null), path)?;

        // added tokens: matched before pre-tokenization when specials are allowed
        let added = v
            .get("added_tokens")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        let vocab = model
            .get("vocab")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("model.vocab is missing or not an object".into()))?;
        let check_id = id_bound(vocab.len() + added.len());
        let mut specials: Vec<(String, u32)> = Vec::new();
        for (i, t) in added.iter().enumerate() {
            let id = t.get("id").and_then(Value::as_u64);
            let content = t.get("content").and_then(Value::as_str);
            let (Some(id), Some(content)) = (id, content) else {
                return Err(bad(format!("added_tokens[{i}] lacks `id` or `content`")));
            };
            let id = check_id(id, &format!("added_tokens[{i}] {content:?}")).map_err(bad)?;
            if let Some((other, _)) = specials.iter().find(|(s, sid)| *sid == id && s != content) {
                return Err(bad(format!(
                    "added_tokens[{i}] {content:?} and {other:?} both have id {id}"
                )));
            }
            specials.push((content.to_string(), id));
        }

        let mut tokens: Vec<Option<Vec<u8>>> = Vec::new();
        let mut text_of: Vec<Option<&str>> = Vec::new(); // id → its vocab text (to name a repeat)
        let mut by_text = std::collections::HashMap::with_capacity(vocab.len());
        for (text, id) in vocab {
            let id = id
                .as_u64()
                .ok_or_else(|| bad(format!("model.vocab[{text:?}] is not an id")))?;
            let id = check_id(id, &format!("model.vocab[{text:?}]")).map_err(bad)? as usize;
            if text_of.len() <= id {
                text_of.resize(id + 1, None);
            }
            if let Some(other) = text_of[id] {
                return Err(bad(format!(
                    "model.vocab[{text:?}] and model.vocab[{other:?}] both have id {id}"
                )));
            }
            text_of[id] = Some(text);
            by_text.insert(text.as_str(), id as u32);
            if specials
                .iter()
                .any(|(s, sid)| *sid as usize == id && s == text)
            {
                continue; // an added token stored in the vocab too
            }
            let bytes = gpt2_to_bytes(text).ok_or_else(|| {
                bad(format!(
                    "model.vocab token {text:?} (id {id}) is not in the GPT-2 byte alphabet: not a byte-level BPE"
                ))
            })?;
            if tokens.len() <= id {
                tokens.resize(id + 1, None);
            }
            tokens[id] = Some(bytes);
        }
        // An added token may repeat a vocabulary entry (same id, same text), never replace one.
        for (s, id) in &specials {
            if let Some(Some(t)) = text_of
                .get(*id as usize)
                .filter(|t| **t != Some(s.as_str()))
            {
                return Err(bad(format!(
                    "added token {s:?} has id {id}, which model.vocab gives to {t:?}"
                )));
            }
        }

        let merges_json = model
            .get("merges")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("model.merges is missing or not a list".into()))?;
        let mut merges = Vec::with_capacity(merges_json.len());
        for (i, m) in merges_json.iter().enumerate() {
            let (a, b) = match m {
                Value::String(s) => s
                    .split_once(' ')
                    .ok_or_else(|| bad(format!("model.merges[{i}] {s:?} is not \"left right\"")))?,
                Value::Array(p) if p.len() == 2 => match (p[0].as_str(), p[1].as_str()) {
                    (Some(a), Some(b)) => (a, b),
                    _ => return Err(bad(format!("model.merges[{i}] is not two strings"))),
                },
                _ => {
                    return Err(bad(format!(
                        "model.merges[{i}] is neither \"a b\" nor [\"a\", \"b\"]"
                    )))
                }
            };
            let id = |x: &str| {
                by_text.get(x).copied().ok_or_else(|| {
                    bad(format!(
                        "model.merges[{i}] refers to {x:?}, which is not in model.vocab"
                    ))
                })
            };
            merges.push((id(a)?, id(b)?));
        }
        let ignore_merges = model.get("ignore_merges").and_then(Value::as_bool) == Some(true);
        Tokenizer::assemble(
            tokens,
            specials,
            MergeRules::Pairs(merges),
            pretokenizer,
            ignore_merges,
        )
        .map_err(bad)
    }
}

// ANCHOR: id_bound
/// The rule for ids in a tokenizer.json of `entries` tokens (vocab + added tokens): an id is
/// below `2 × entries` (and fits in 32 bits). A vocabulary is dense apart from a few holes
/// (files converted from tiktoken skip ids before their specials: cl100k leaves 100256 and
/// 100261..=100275 unused), so this admits every real file, while an id of 2³² + 3 is never
/// truncated to 3 and an id of 10⁸ never sizes a table: memory stays proportional to the file.
pub(crate) fn id_bound(entries: usize) -> impl Fn(u64, &str) -> std::result::Result<u32, String> {
    let limit = (2 * entries as u64).min(1 << 32);
    move |id, what| {
        if id < limit {
            return Ok(id as u32);
        }
        Err(format!(
            "{what} has id {id}, but the file's {entries} tokens imply ids below {limit} \
             (a vocabulary is dense, apart from a few holes before its special tokens)"
        ))
    }
}
// ANCHOR_END: id_bound

/// One step of a (flattened) pre-tokenizer sequence.
#[derive(Debug, PartialEq)]
enum Step {
    Split(String),
    ByteLevel { use_regex: bool },
    Digits { individual: bool },
}

fn flatten(v: &Value, path: &Path, out: &mut Vec<Step>) -> Result<()> {
    let kind = v.get("type").and_then(Value::as_str).unwrap_or("");
    let unsupported =
        |what: String| Error::Unsupported(format!("{}: pre_tokenizer {what}", path.display()));
    match kind {
        "Sequence" => {
            let list = v
                .get("pretokenizers")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    Error::format(path, "pre_tokenizer Sequence without `pretokenizers`")
                })?;
            for p in list {
                flatten(p, path, out)?;
            }
        }
        "Split" => {
            let pat = v.get("pattern");
            let regex = pat
                .and_then(|p| p.get("Regex"))
                .and_then(Value::as_str)
                .ok_or_else(|| unsupported("Split without a `Regex` pattern".into()))?;
            let behavior = v
                .get("behavior")
                .and_then(Value::as_str)
                .unwrap_or("Isolated");
            let invert = v.get("invert").and_then(Value::as_bool).unwrap_or(false);
            if behavior != "Isolated" || invert {
                return Err(unsupported(format!(
                    "Split with behavior {behavior}, invert {invert}"
                )));
            }
            out.push(Step::Split(regex.to_string()));
        }
        "ByteLevel" => {
            if v.get("add_prefix_space").and_then(Value::as_bool) == Some(true) {
                return Err(unsupported("ByteLevel with add_prefix_space=true".into()));
            }
            let use_regex = v.get("use_regex").and_then(Value::as_bool).unwrap_or(true);
            out.push(Step::ByteLevel { use_regex });
        }
        "Digits" => {
            let individual = v
                .get("individual_digits")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            out.push(Step::Digits { individual });
        }
        other => return Err(unsupported(format!("`{other}`"))),
    }
    Ok(())
}

fn parse_pre_tokenizer(v: &Value, path: &Path) -> Result<Pretokenizer> {
    if v.is_null() {
        return Err(Error::Unsupported(format!(
            "{}: no pre_tokenizer (a byte-level BPE needs at least ByteLevel)",
            path.display()
        )));
    }
    let mut steps = Vec::new();
    flatten(v, path, &mut steps)?;
    let by_pattern = |p: &str| {
        Pretokenizer::ALL
            .into_iter()
            .filter(|&x| x != Pretokenizer::SmolLm)
            .find(|x| x.pattern() == p || x.onig_pattern() == p)
            .ok_or_else(|| {
                Error::Unsupported(format!(
                    "{}: pre_tokenizer Split regex {p:?} is not one of the known patterns (gpt2, cl100k, o200k, llama3)",
                    path.display()
                ))
            })
    };
    match steps.as_slice() {
        [Step::ByteLevel { use_regex: true }] => Ok(Pretokenizer::Gpt2),
        [Step::Split(p), Step::ByteLevel { use_regex: false }] => by_pattern(p),
        [Step::Digits { individual: true }, Step::ByteLevel { use_regex: true }] => Ok(Pretokenizer::SmolLm),
        other => Err(Error::Unsupported(format!(
            "{}: pre_tokenizer sequence {other:?} (supported: ByteLevel; Split+ByteLevel; Digits(individual)+ByteLevel)",
            path.display()
        ))),
    }
}
