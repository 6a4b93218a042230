//! # Stage 1 for an encoder · WordPiece: BERT's tokenizer
//!
//! The byte-level BPE of this folder *merges* bytes upwards; WordPiece *splits* words downwards,
//! greedily, into the longest pieces its vocabulary has. No bytes, no merge ranks: a word either
//! splits into known pieces or becomes `[UNK]`.
//!
//! ```text
//! "Héllo, 世界! unaffable"
//!   ─normalise──▶ "hello,  世  界 ! unaffable"   clean text, space around CJK, strip accents, lowercase
//!   ─pre-split──▶ hello | , | 世 | 界 | ! | unaffable      whitespace removed, each punctuation alone
//!   ─WordPiece──▶ hello | , | 世 | 界 | ! | una ##ffa ##ble  longest match from the left, "##" = continues
//!   ─template───▶ [CLS] … [SEP]                            101 … 102, truncated to the model's length
//! ```
//!
//! Text that spells a special token (`[SEP]`, `[MASK]`) becomes that token, as in Hugging Face's
//! `tokenizers` and therefore in sentence-transformers: the embeddings must match theirs.
//! [`WordPiece::tokenize_ordinary`] treats it as text instead (`split_special_tokens=True`).
//!
//! The normaliser and the pre-tokenizer are in `bert_normalizer.rs`.
//!
//! Reference: Devlin et al., "BERT" (2018) and google-research/bert `tokenization.py`
//! (`BasicTokenizer`, `WordpieceTokenizer`); huggingface/tokenizers `normalizers/bert.rs`,
//! `pre_tokenizers/bert.rs`, `models/wordpiece/mod.rs`.

use std::path::Path;

use super::bert_normalizer::{pre_tokenize, BertNormalizer};
use super::fxhash::FxHashMap;
use crate::{Error, Result};
use serde_json::Value;

/// A WordPiece tokenizer with BERT's normaliser, pre-tokenizer and `[CLS] … [SEP]` template.
#[derive(Clone, Debug)]
pub struct WordPiece {
    /// token text → id (continuations carry their prefix: `"##able"`).
    vocab: FxHashMap<String, u32>,
    /// id → token text.
    tokens: Vec<String>,
    /// Bytes of the longest token, prefix included: no longer piece can match.
    longest: usize,
    normalizer: Option<BertNormalizer>,
    /// The continuation prefix, `"##"`.
    prefix: String,
    /// A word longer than this (in characters) is `[UNK]` without trying.
    max_word_chars: usize,
    unk: u32,
    cls: u32,
    sep: u32,
    pad: u32,
    /// Added tokens matched in the raw text, (text, id), longest first.
    specials: Vec<(String, u32)>,
}

impl WordPiece {
    // ANCHOR: word_pieces
    /// One word → ids, greedy longest-match-first: from the left, take the longest prefix of
    /// what remains that is in the vocabulary (with `##` in front unless it starts the word),
    /// then continue after it. If some position has no match at all, the *whole* word is
    /// `[UNK]`. `"unaffable"` → `una` `##ffa` `##ble` (MiniLM's vocabulary).
    pub fn word_pieces(&self, word: &str, out: &mut Vec<u32>) {
        if word.chars().count() > self.max_word_chars {
            out.push(self.unk);
            return;
        }
        let first = out.len();
        let mut key = String::with_capacity(word.len() + self.prefix.len());
        let mut start = 0;
        while start < word.len() {
            key.clear();
            if start > 0 {
                key.push_str(&self.prefix);
            }
            let base = key.len();
            // the longest candidate that could be a token; then shorten one character at a time
            let mut end = word.len().min(start + self.longest.saturating_sub(base));
            while !word.is_char_boundary(end) {
                end -= 1;
            }
            let found = loop {
                if end <= start {
                    break None;
                }
                key.truncate(base);
                key.push_str(&word[start..end]);
                if let Some(&id) = self.vocab.get(key.as_str()) {
                    break Some(id);
                }
                end -= word[start..end]
                    .chars()
                    .next_back()
                    .map_or(1, char::len_utf8);
            };
            match found {
                Some(id) => out.push(id),
                None => {
                    out.truncate(first);
                    out.push(self.unk);
                    return;
                }
            }
            start = end;
        }
    }
    // ANCHOR_END: word_pieces

    /// Normalise, pre-tokenize and split one stretch of text with no special tokens in it.
    fn tokenize_plain(&self, text: &str, out: &mut Vec<u32>) {
        let normalized;
        let text = match &self.normalizer {
            Some(n) => {
                normalized = n.normalize(text);
                normalized.as_str()
            }
            None => text,
        };
        pre_tokenize(text, |w| self.word_pieces(w, out));
    }

    /// Text → word-piece ids, without `[CLS]`/`[SEP]`. Text that spells an added token
    /// (`[SEP]`, `[MASK]`, exact case) becomes that token first, as in Hugging Face.
    pub fn tokenize(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 4 + 1);
        let mut rest = text;
        while let Some((at, (sp, id))) = self.next_special(rest) {
            self.tokenize_plain(&rest[..at], &mut out);
            out.push(*id);
            rest = &rest[at + sp.len()..];
        }
        self.tokenize_plain(rest, &mut out);
        out
    }

    /// [`WordPiece::tokenize`] with special-token text treated as ordinary text:
    /// `"[SEP]"` → `[` `sep` `]`.
    pub fn tokenize_ordinary(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 4 + 1);
        self.tokenize_plain(text, &mut out);
        out
    }

    /// The leftmost added token in `text` (the longest one at that position).
    fn next_special(&self, text: &str) -> Option<(usize, &(String, u32))> {
        if self.specials.is_empty() {
            return None;
        }
        let starts: Vec<u8> = self.specials.iter().map(|s| s.0.as_bytes()[0]).collect();
        let b = text.as_bytes();
        (0..b.len())
            .filter(|&i| starts.contains(&b[i]))
            .find_map(|i| {
                self.specials
                    .iter()
                    .find(|(sp, _)| b[i..].starts_with(sp.as_bytes()))
                    .map(|s| (i, s))
            })
    }

    // ANCHOR: encode
    /// The model's input: `[CLS]` + word pieces + `[SEP]`, at most `max_len` ids in all (the
    /// word pieces are cut to `max_len − 2`, as `truncation=True` does). `max_len` below 2 is
    /// treated as 2.
    pub fn encode(&self, text: &str, max_len: usize) -> Vec<u32> {
        let mut pieces = self.tokenize(text);
        pieces.truncate(max_len.max(2) - 2);
        let mut ids = Vec::with_capacity(pieces.len() + 2);
        ids.push(self.cls);
        ids.extend(pieces);
        ids.push(self.sep);
        ids
    }
    // ANCHOR_END: encode

    /// Number of word pieces of `text` (no `[CLS]`/`[SEP]`), for sizing chunks.
    pub fn count(&self, text: &str) -> usize {
        self.tokenize(text).len()
    }

    /// The text of a token (`"##able"`), `None` for an unknown id.
    pub fn token_text(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// The id of a token's text.
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.vocab.get(text).copied()
    }

    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }
    pub fn cls_id(&self) -> u32 {
        self.cls
    }
    pub fn sep_id(&self) -> u32 {
        self.sep
    }
    pub fn pad_id(&self) -> u32 {
        self.pad
    }
    pub fn unk_id(&self) -> u32 {
        self.unk
    }
    pub fn normalizer(&self) -> Option<BertNormalizer> {
        self.normalizer
    }
}

// ANCHOR: load
impl WordPiece {
    /// Load from a Hugging Face `tokenizer.json` whose model is WordPiece (BERT and its family:
    /// MiniLM, bge, e5, ...). Anything this file does not implement is a clear error.
    pub fn from_file(path: &Path) -> Result<WordPiece> {
        WordPiece::from_json(&crate::formats::file::read_json(path)?, path)
    }

    /// [`WordPiece::from_file`] on parsed JSON; `path` names the file in errors.
    pub fn from_json(v: &Value, path: &Path) -> Result<WordPiece> {
        let bad = |what: String| Error::format(path, what);
        let model = &v["model"];
        if model["type"].as_str() != Some("WordPiece") {
            return Err(Error::Unsupported(format!(
                "{}: model type {} is not WordPiece (a byte-level BPE tokenizer.json loads with \
                 `Tokenizer::load`)",
                path.display(),
                model["type"]
            )));
        }
        let vocab_json = model["vocab"]
            .as_object()
            .ok_or_else(|| bad("`model.vocab` is not an object of token → id".into()))?;
        let n = vocab_json.len();
        let mut tokens = vec![None::<String>; n];
        let mut vocab = FxHashMap::default();
        for (t, id) in vocab_json {
            let id = id.as_u64().filter(|&i| (i as usize) < n).ok_or_else(|| {
                bad(format!(
                    "`model.vocab[{t:?}]` = {id} is not an id below {n}"
                ))
            })?;
            if tokens[id as usize].replace(t.clone()).is_some() {
                return Err(bad(format!(
                    "`model.vocab`: id {id} is given to two tokens"
                )));
            }
            vocab.insert(t.clone(), id as u32);
        }
        let tokens: Vec<String> = tokens.into_iter().map(Option::unwrap_or_default).collect();
        let id_of = |t: &str, field: &str| {
            vocab
                .get(t)
                .copied()
                .ok_or_else(|| bad(format!("{field} {t:?} is not in the vocabulary")))
        };
        let unk = id_of(
            model["unk_token"].as_str().unwrap_or("[UNK]"),
            "`model.unk_token`",
        )?;
        let prefix = model["continuing_subword_prefix"]
            .as_str()
            .unwrap_or("##")
            .to_string();
        let max_word_chars = model["max_input_chars_per_word"].as_u64().unwrap_or(100) as usize;

        let normalizer = match &v["normalizer"] {
            Value::Null => None,
            n if n["type"] == "BertNormalizer" => {
                let flag = |k: &str, default: bool| n[k].as_bool().unwrap_or(default);
                let lowercase = flag("lowercase", true);
                Some(BertNormalizer {
                    clean_text: flag("clean_text", true),
                    handle_chinese_chars: flag("handle_chinese_chars", true),
                    strip_accents: flag("strip_accents", lowercase), // null: follow lowercase
                    lowercase,
                })
            }
            n => {
                return Err(Error::Unsupported(format!(
                    "{}: normalizer {} (glassbox reads BertNormalizer)",
                    path.display(),
                    n["type"]
                )))
            }
        };
        if v["pre_tokenizer"]["type"] != "BertPreTokenizer" {
            return Err(Error::Unsupported(format!(
                "{}: pre_tokenizer {} (glassbox reads BertPreTokenizer)",
                path.display(),
                v["pre_tokenizer"]["type"]
            )));
        }
        // [CLS] and [SEP]: BertProcessing {"cls": ["[CLS]", 101], "sep": [...]} or the
        // TemplateProcessing of newer files {"special_tokens": {"[CLS]": {"ids": [101]}, ...}}
        let pp = &v["post_processor"];
        let special = |name: &str, key: &str| -> Result<u32> {
            let id = match pp["type"].as_str() {
                Some("BertProcessing") => pp[key][1].as_u64(),
                Some("TemplateProcessing") => pp["special_tokens"][name]["ids"][0].as_u64(),
                _ => vocab.get(name).map(|&i| i as u64),
            };
            id.map(|i| i as u32)
                .filter(|&i| (i as usize) < n)
                .ok_or_else(|| bad(format!("`post_processor`: no id for {name}")))
        };
        let (cls, sep) = (special("[CLS]", "cls")?, special("[SEP]", "sep")?);
        let pad = match v["padding"]["pad_id"].as_u64() {
            Some(p) => p as u32,
            None => vocab.get("[PAD]").copied().unwrap_or(0),
        };

        let mut specials = Vec::new();
        for (i, a) in v["added_tokens"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let (Some(content), Some(id)) = (a["content"].as_str(), a["id"].as_u64()) else {
                return Err(bad(format!("`added_tokens[{i}]` needs `content` and `id`")));
            };
            let on = |k: &str| a[k].as_bool() == Some(true);
            if on("normalized") || on("single_word") || on("lstrip") || on("rstrip") {
                return Err(Error::Unsupported(format!(
                    "{}: added token {content:?} is normalized or single-word or strips spaces; \
                     glassbox matches added tokens in the raw text only",
                    path.display()
                )));
            }
            if content.is_empty() || id as usize >= n {
                return Err(bad(format!(
                    "`added_tokens[{i}]`: {content:?} with id {id}"
                )));
            }
            specials.push((content.to_string(), id as u32));
        }
        specials.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));
        let longest = tokens.iter().map(String::len).max().unwrap_or(0);
        Ok(WordPiece {
            vocab,
            tokens,
            longest,
            normalizer,
            prefix,
            max_word_chars,
            unk,
            cls,
            sep,
            pad,
            specials,
        })
    }
}
// ANCHOR_END: load
