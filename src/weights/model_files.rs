//! # Stage 3 · one entry point for a model on disk: a `.gguf` file or a Hugging Face directory
//!
//! Whatever the format, the result is the same: a [`LlamaConfig`], a [`Tokenizer`], the chat
//! template, and every weight in a [`LlamaWeights`]: under its Hugging Face name, in Hugging
//! Face row order, its shape checked against the config (`checkpoint.rs` says how). The model
//! code never sees a GGUF name.

use std::path::{Path, PathBuf};

use crate::formats::file;
use crate::formats::gguf::{looks_like_gguf, GgufFile};
use crate::formats::safetensors::SafetensorsModel;
use crate::tokenizer::Tokenizer;
use crate::weights::checkpoint::{LlamaWeights, TensorSource};
use crate::weights::config::LlamaConfig;
use crate::weights::tensor::release_pages;
use crate::{Error, Result};

/// Which kind of file a model came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelFormat {
    Gguf,
    HfSafetensors,
}

/// A model on disk, opened: config, tokenizer, chat template and HF-named weights as stored.
pub struct ModelFiles {
    pub path: PathBuf,
    pub format: ModelFormat,
    pub config: LlamaConfig,
    pub tokenizer: Tokenizer,
    pub chat_template: Option<String>,
    /// Every weight (mapped, or an owned copy for GGUF Q/K), under its Hugging Face name.
    pub weights: LlamaWeights,
}

impl ModelFiles {
    /// Open a `.gguf` file or a Hugging Face directory (config.json + safetensors + tokenizer.json).
    pub fn open(path: &Path) -> Result<ModelFiles> {
        if path.is_dir() {
            return Self::open_hf(path);
        }
        if looks_like_gguf(path) {
            return Self::open_gguf(path);
        }
        if !path.exists() {
            return Err(Error::io(
                path,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
            ));
        }
        Err(Error::format(
            path,
            "not a model: expected a .gguf file or a Hugging Face directory with config.json and model.safetensors",
        ))
    }

    /// A GGUF file: tensors renamed to HF names, Q/K rows converted to HF order.
    pub fn open_gguf(path: &Path) -> Result<ModelFiles> {
        Self::from_gguf(GgufFile::open(path)?)
    }

    /// [`Self::open_gguf`] of a GGUF already parsed (from a file or from bytes in memory).
    pub fn from_gguf(g: GgufFile) -> Result<ModelFiles> {
        let path = &g.path.clone();
        let config = LlamaConfig::from_gguf(&g)?;
        // The tokenizer (≈ 30 ms of hashing for SmolLM2's 49,152 tokens and merges, on one
        // thread) and the weights do not depend on each other: build them at the same time, on
        // two threads when there are two. The weights' side first maps every data page (≈ 10 ms
        // when the file is in the page cache), so the first forward pass takes no page faults;
        // then the Q/K row copies (≈ 8 MB), whose mapped originals `load` releases again.
        let (tokenizer, weights) = rayon::join(
            || Tokenizer::from_gguf(&g),
            || {
                g.prefault_data();
                LlamaWeights::load(TensorSource::Gguf(&g), &config)
            },
        );
        let tokenizer = tokenizer?;
        config.check_tokenizer(&tokenizer, path)?;
        let weights = weights?;
        let chat_template = g.get_str("tokenizer.chat_template").map(str::to_string);
        // the metadata (for SmolLM2 ~2 MB of token strings and merges) is parsed: its pages of
        // the mapped file need not stay resident beside the weights
        release_pages(g.map(), 0, g.data_offset);
        let files = ModelFiles {
            path: path.to_path_buf(),
            format: ModelFormat::Gguf,
            chat_template,
            config,
            tokenizer,
            weights,
        };
        Ok(files)
    }

    /// A Hugging Face directory: config.json, model.safetensors (or shards), tokenizer.json,
    /// and the chat template from tokenizer_config.json or chat_template.jinja.
    pub fn open_hf(dir: &Path) -> Result<ModelFiles> {
        let config_path = dir.join("config.json");
        if !config_path.is_file() {
            return Err(Error::format(
                dir,
                "no config.json: not a Hugging Face model directory",
            ));
        }
        let config = LlamaConfig::from_hf_json(&config_path)?;
        let tok_path = dir.join("tokenizer.json");
        if !tok_path.is_file() {
            return Err(Error::format(
                dir,
                "no tokenizer.json in this model directory",
            ));
        }
        let mut tokenizer = Tokenizer::from_tokenizer_json_file(&tok_path)?;
        let tok_config = file::read_json_if_present(&dir.join("tokenizer_config.json"))?;
        if tokenizer.bos_id().is_none() && tokenizer.eos_ids().is_empty() {
            tokenizer.set_bos_eos(config.bos_token_id, config.eos_token_ids.clone());
        }
        config.check_tokenizer(&tokenizer, dir)?;
        let st = SafetensorsModel::open(dir)?;
        let weights = LlamaWeights::load(TensorSource::Safetensors(&st), &config)?;
        let chat_template = chat_template_of(dir, tok_config.as_ref())?;
        let files = ModelFiles {
            path: dir.to_path_buf(),
            format: ModelFormat::HfSafetensors,
            config,
            tokenizer,
            chat_template,
            weights,
        };
        Ok(files)
    }
}

/// `chat_template` of tokenizer_config.json (a string, or a list of `{name, template}` of which
/// we take `default`), else `chat_template.jinja` (where transformers ≥ 4.43 may save it).
fn chat_template_of(dir: &Path, tok_config: Option<&serde_json::Value>) -> Result<Option<String>> {
    if let Some(t) = tok_config.and_then(|c| c.get("chat_template")) {
        if let Some(s) = t.as_str() {
            return Ok(Some(s.to_string()));
        }
        if let Some(list) = t.as_array() {
            let default = list
                .iter()
                .find(|x| x.get("name").and_then(|n| n.as_str()) == Some("default"));
            if let Some(s) = default
                .and_then(|x| x.get("template"))
                .and_then(|t| t.as_str())
            {
                return Ok(Some(s.to_string()));
            }
        }
    }
    let jinja = dir.join("chat_template.jinja");
    if jinja.is_file() {
        return std::fs::read_to_string(&jinja)
            .map(Some)
            .map_err(|e| Error::io(&jinja, e));
    }
    Ok(None)
}
