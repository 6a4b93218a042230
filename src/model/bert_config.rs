//! Stage 3 (encoder) · what a sentence-transformers directory says about its BERT model.
//!
//! ```text
//! all-MiniLM-L6-v2/
//!   config.json                  BertConfig: sizes, "hidden_act": "gelu", "layer_norm_eps": 1e-12
//!   model.safetensors            the weights (embeddings.*, encoder.layer.N.*, pooler.*)
//!   tokenizer.json               WordPiece (src/tokenizer/wordpiece.rs)
//!   modules.json                 the pipeline: Transformer → Pooling ("1_Pooling") → Normalize
//!   1_Pooling/config.json        {"pooling_mode_mean_tokens": true, ...}
//!   sentence_bert_config.json    {"max_seq_length": 256}: longer inputs are truncated
//! ```
//!
//! Reference: `transformers.BertConfig`; sentence-transformers `models/Pooling.py`,
//! `models/Normalize.py`, `SentenceTransformer._load_sbert_model`.

use std::path::Path;

use crate::formats::file::read_json;
use crate::{Error, Result};

/// The sizes of a BERT encoder, from `config.json`.
#[derive(Clone, Debug, PartialEq)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f32,
}

impl BertConfig {
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }
}

/// How token vectors become one sentence vector (sentence-transformers' Pooling module).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pooling {
    /// The average of every token's vector, `[CLS]` and `[SEP]` included (all-MiniLM-L6-v2).
    Mean,
    /// The vector of the first token, `[CLS]` (bge).
    Cls,
}

/// The sentence-transformers pipeline around the encoder.
#[derive(Clone, Debug, PartialEq)]
pub struct SentenceConfig {
    pub pooling: Pooling,
    /// A Normalize module follows: sentence vectors have length 1.
    pub normalize: bool,
    /// Inputs are cut to this many tokens, `[CLS]` and `[SEP]` included.
    pub max_seq_length: usize,
}

impl BertConfig {
    /// Parse `config.json`; only the BERT architecture with the exact (erf) GELU is accepted.
    pub fn from_file(path: &Path) -> Result<BertConfig> {
        let v = read_json(path)?;
        let size = |k: &str| -> Result<usize> {
            v[k].as_u64()
                .filter(|&n| n > 0)
                .map(|n| n as usize)
                .ok_or_else(|| {
                    Error::format(path, format!("`{k}` is missing or not a positive integer"))
                })
        };
        let model_type = v["model_type"].as_str().unwrap_or("");
        if !matches!(model_type, "bert") {
            return Err(Error::Unsupported(format!(
                "{}: model_type {model_type:?}; glassbox's encoder is BERT (MiniLM, bge, e5 are BERTs)",
                path.display()
            )));
        }
        let act = v["hidden_act"].as_str().unwrap_or("gelu");
        if act != "gelu" {
            return Err(Error::Unsupported(format!(
                "{}: hidden_act {act:?}; glassbox's encoder has the exact GELU (\"gelu\")",
                path.display()
            )));
        }
        if let Some(p) = v["position_embedding_type"]
            .as_str()
            .filter(|&p| p != "absolute")
        {
            return Err(Error::Unsupported(format!(
                "{}: position_embedding_type {p:?} (glassbox reads \"absolute\")",
                path.display()
            )));
        }
        let c = BertConfig {
            vocab_size: size("vocab_size")?,
            hidden_size: size("hidden_size")?,
            num_hidden_layers: size("num_hidden_layers")?,
            num_attention_heads: size("num_attention_heads")?,
            intermediate_size: size("intermediate_size")?,
            max_position_embeddings: size("max_position_embeddings")?,
            type_vocab_size: size("type_vocab_size")?,
            layer_norm_eps: v["layer_norm_eps"].as_f64().unwrap_or(1e-12) as f32,
        };
        if !c.hidden_size.is_multiple_of(c.num_attention_heads) {
            return Err(Error::format(
                path,
                format!(
                    "hidden_size {} does not split into {} heads",
                    c.hidden_size, c.num_attention_heads
                ),
            ));
        }
        Ok(c)
    }
}

impl SentenceConfig {
    /// Read `modules.json`, the Pooling module's config and `sentence_bert_config.json` from a
    /// sentence-transformers directory. `max_positions` caps the length.
    pub fn from_dir(dir: &Path, max_positions: usize) -> Result<SentenceConfig> {
        let modules_path = dir.join("modules.json");
        if !modules_path.is_file() {
            return Err(Error::format(
                dir,
                "no modules.json: not a sentence-transformers directory (it says how token \
                 vectors are pooled into one sentence vector)",
            ));
        }
        let modules = read_json(&modules_path)?;
        let list = modules
            .as_array()
            .ok_or_else(|| Error::format(&modules_path, "not a list"))?;
        let of_type = |t: &str| list.iter().find(|m| m["type"].as_str() == Some(t));
        let pool_dir = of_type("sentence_transformers.models.Pooling")
            .and_then(|m| m["path"].as_str())
            .ok_or_else(|| {
                Error::format(
                    &modules_path,
                    "no sentence_transformers.models.Pooling module",
                )
            })?;
        let pool_path = dir.join(pool_dir).join("config.json");
        let p = read_json(&pool_path)?;
        let on = |k: &str| p[k].as_bool() == Some(true);
        let pooling = match (on("pooling_mode_mean_tokens"), on("pooling_mode_cls_token")) {
            (true, false)
                if !on("pooling_mode_max_tokens") && !on("pooling_mode_mean_sqrt_len_tokens") =>
            {
                Pooling::Mean
            }
            (false, true)
                if !on("pooling_mode_max_tokens") && !on("pooling_mode_mean_sqrt_len_tokens") =>
            {
                Pooling::Cls
            }
            _ => {
                return Err(Error::Unsupported(format!(
                    "{}: glassbox pools by one mode, mean or cls",
                    pool_path.display()
                )))
            }
        };
        let normalize = of_type("sentence_transformers.models.Normalize").is_some();
        let sb = dir.join("sentence_bert_config.json");
        let max_seq_length = match sb.is_file() {
            true => read_json(&sb)?["max_seq_length"]
                .as_u64()
                .map(|n| n as usize),
            false => None,
        }
        .unwrap_or(max_positions)
        .min(max_positions);
        Ok(SentenceConfig {
            pooling,
            normalize,
            max_seq_length,
        })
    }
}
