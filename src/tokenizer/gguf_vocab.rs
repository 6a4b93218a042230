//! Stage 1, formats: the tokenizer stored inside a GGUF model file.
//!
//! llama.cpp keeps a byte-level BPE (`tokenizer.ggml.model = "gpt2"`) as metadata arrays:
//!
//! ```text
//! tokenizer.ggml.tokens      [string]  id → token in the GPT-2 byte alphabet ("Ġthe")
//! tokenizer.ggml.merges      [string]  "Ġ t" — rank = position
//! tokenizer.ggml.token_type  [i32]     1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
//! tokenizer.ggml.bos_token_id / eos_token_id / eot_token_id   u32
//! tokenizer.ggml.pre         string    the pre-tokenizer ("smollm", "llama-bpe", "gpt-4o", ...)
//! ```
//!
//! Control and user-defined tokens are the special tokens (their text is stored as is).
//!
//! A SentencePiece BPE (`tokenizer.ggml.model = "llama"`: Gemma, Llama 2) stores no merges but
//! a score per token (`tokenizer.ggml.scores`), its pieces with `▁` for spaces, byte tokens
//! `<0xNN>` (type 6), and `tokenizer.ggml.add_space_prefix` (see `sentencepiece.rs`).
//!
//! Whether a prompt starts with BOS is `tokenizer.ggml.add_bos_token`; a file without the key
//! gets llama.cpp's default: yes for SentencePiece and for Llama 3's BPE (`pre = llama-bpe`),
//! no for other byte-level BPEs.
//! Reference: llama.cpp `src/llama-vocab.cpp`, `gguf-py/gguf/constants.py`.

use super::bytes::gpt2_to_bytes;
use super::fxhash::FxHashMap;
use super::{MergeRules, Pretokenizer, Tokenizer};
use crate::formats::gguf::GgufFile;
use crate::{Error, Result};

/// `tokenizer.ggml.pre` → our pre-tokenizer.
pub fn pretokenizer_for(pre: &str) -> Option<Pretokenizer> {
    Some(match pre {
        "smollm" => Pretokenizer::SmolLm,
        "gpt-2" | "gpt2" | "default" => Pretokenizer::Gpt2,
        "llama-bpe" | "llama3" => Pretokenizer::Llama3,
        "gpt-4o" | "o200k" => Pretokenizer::O200k,
        "cl100k" | "dbrx" => Pretokenizer::Cl100k,
        _ => return None,
    })
}

const CONTROL: i64 = 3;
const USER_DEFINED: i64 = 4;

impl Tokenizer {
    /// The tokenizer of a GGUF model (`tokenizer.ggml.model` `gpt2` or `llama`), with its BOS,
    /// EOS and add-BOS policy.
    pub fn from_gguf(file: &GgufFile) -> Result<Tokenizer> {
        let path = &file.path;
        let model = file.require_str("tokenizer.ggml.model")?;
        let pre = file.get_str("tokenizer.ggml.pre").unwrap_or("default");
        let (mut tok, add_bos_default) = match model {
            "gpt2" => (
                Self::byte_level_from_gguf(file)?,
                matches!(pre, "llama-bpe" | "llama3"),
            ),
            "llama" => (Self::sentencepiece_from_gguf(file)?, true),
            _ => {
                return Err(Error::Unsupported(format!(
                "{}: tokenizer.ggml.model = {model:?} (supported: the byte-level BPE `gpt2`, SentencePiece `llama`)",
                path.display()
            )))
            }
        };
        let n = tok.vocab_size();
        let id = |key: &str| file.get_u32(key).filter(|&i| (i as usize) < n);
        let mut eos: Vec<u32> = Vec::new();
        for key in [
            "tokenizer.ggml.eos_token_id",
            "tokenizer.ggml.eot_token_id",
            "tokenizer.ggml.eom_token_id",
        ] {
            if let Some(i) = id(key) {
                if !eos.contains(&i) {
                    eos.push(i);
                }
            }
        }
        tok.set_bos_eos(id("tokenizer.ggml.bos_token_id"), eos);
        let add_bos = file.get("tokenizer.ggml.add_bos_token");
        tok.set_add_bos(add_bos.and_then(|v| v.as_bool()).unwrap_or(add_bos_default));
        Ok(tok)
    }

    /// `tokenizer.ggml.token_type` as integers (all normal when absent), one per token.
    fn token_types(file: &GgufFile, n: usize) -> Result<Vec<i64>> {
        let path = &file.path;
        let types: Vec<i64> = match file.get_array("tokenizer.ggml.token_type") {
            Some(a) => a
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_i64().ok_or_else(|| {
                        Error::format(
                            path,
                            format!("tokenizer.ggml.token_type[{i}] is not an integer"),
                        )
                    })
                })
                .collect::<Result<_>>()?,
            None => vec![1; n],
        };
        if types.len() != n {
            return Err(Error::format(
                path,
                format!(
                    "tokenizer.ggml.token_type has {} entries but tokenizer.ggml.tokens has {n}",
                    types.len()
                ),
            ));
        }
        Ok(types)
    }

    /// A SentencePiece BPE: tokens, scores, types and `add_space_prefix`.
    fn sentencepiece_from_gguf(file: &GgufFile) -> Result<Tokenizer> {
        let path = &file.path;
        let texts = file.require_str_array("tokenizer.ggml.tokens")?;
        let types = Self::token_types(file, texts.len())?;
        let scores: Vec<f32> = match file.get_array("tokenizer.ggml.scores") {
            Some(a) => a
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_f32().filter(|f| f.is_finite()).ok_or_else(|| {
                        Error::format(
                            path,
                            format!("tokenizer.ggml.scores[{i}] is not a finite number"),
                        )
                    })
                })
                .collect::<Result<_>>()?,
            None => vec![0.0; texts.len()],
        };
        let prefix = file.get("tokenizer.ggml.add_space_prefix");
        let add_space_prefix = prefix.and_then(|v| v.as_bool()).unwrap_or(true);
        Tokenizer::from_sentencepiece(&texts, &scores, &types, add_space_prefix)
            .map_err(|e| Error::format(path, e))
    }

    /// A byte-level BPE: tokens in the GPT-2 alphabet, merges, the pre-tokenizer by name.
    fn byte_level_from_gguf(file: &GgufFile) -> Result<Tokenizer> {
        let path = &file.path;
        let pre = file.get_str("tokenizer.ggml.pre").unwrap_or("default");
        let pretokenizer = pretokenizer_for(pre).ok_or_else(|| {
            Error::Unsupported(format!(
                "{}: tokenizer.ggml.pre = {pre:?} (known: smollm, gpt-2, default, llama-bpe, gpt-4o, cl100k)",
                path.display()
            ))
        })?;
        let texts = file.require_str_array("tokenizer.ggml.tokens")?;
        let types = Self::token_types(file, texts.len())?;
        let mut tokens = Vec::with_capacity(texts.len());
        let mut specials = Vec::new();
        let mut by_text = FxHashMap::default(); // token text → first id, to read the merges
        by_text.reserve(texts.len());
        for (id, (&text, &ty)) in texts.iter().zip(&types).enumerate() {
            by_text.entry(text).or_insert(id as u32);
            if ty == CONTROL || ty == USER_DEFINED {
                specials.push((text.to_string(), id as u32));
                tokens.push(None);
                continue;
            }
            let bytes = gpt2_to_bytes(text).ok_or_else(|| {
                Error::format(
                    path,
                    format!(
                        "tokenizer.ggml.tokens[{id}] = {text:?} is not in the GPT-2 byte alphabet"
                    ),
                )
            })?;
            tokens.push(Some(bytes));
        }
        let merge_texts = file.require_str_array("tokenizer.ggml.merges")?;
        let mut merges = Vec::with_capacity(merge_texts.len());
        for (i, m) in merge_texts.iter().enumerate() {
            let bad = |what: String| {
                Error::format(path, format!("tokenizer.ggml.merges[{i}] = {m:?}: {what}"))
            };
            let (a, b) = m
                .split_once(' ')
                .ok_or_else(|| bad("expected \"left right\"".into()))?;
            let id = |x: &str| {
                by_text
                    .get(x)
                    .copied()
                    .ok_or_else(|| bad(format!("{x:?} is not a token")))
            };
            merges.push((id(a)?, id(b)?));
        }
        Tokenizer::assemble(
            tokens,
            specials,
            MergeRules::Pairs(merges),
            pretokenizer,
            false,
        )
        .map_err(|e| Error::format(path, e))
    }
}
