//! # Stage 3 · one entry point for a model on disk: a `.gguf` file or a Hugging Face directory
//!
//! Whatever the format, the result is the same: a [`LlamaConfig`], a [`Tokenizer`], the chat
//! template, and every weight under its **Hugging Face name**, in Hugging Face row order,
//! with its shape checked against the config. The model code never sees a GGUF name.
//!
//! ```text
//! GGUF                         Hugging Face                                   shape [rows, cols]
//! token_embd.weight            model.embed_tokens.weight                      [vocab, d]
//! blk.N.attn_norm.weight       model.layers.N.input_layernorm.weight          [d]
//! blk.N.attn_q.weight    (*)   model.layers.N.self_attn.q_proj.weight         [heads·hd, d]
//! blk.N.attn_k.weight    (*)   model.layers.N.self_attn.k_proj.weight         [kv_heads·hd, d]
//! blk.N.attn_v.weight          model.layers.N.self_attn.v_proj.weight         [kv_heads·hd, d]
//! blk.N.attn_output.weight     model.layers.N.self_attn.o_proj.weight         [d, heads·hd]
//! blk.N.ffn_norm.weight        model.layers.N.post_attention_layernorm.weight [d]
//! blk.N.ffn_gate.weight        model.layers.N.mlp.gate_proj.weight            [ffn, d]
//! blk.N.ffn_up.weight          model.layers.N.mlp.up_proj.weight              [ffn, d]
//! blk.N.ffn_down.weight        model.layers.N.mlp.down_proj.weight            [d, ffn]
//! output_norm.weight           model.norm.weight                              [d]
//! output.weight                lm_head.weight (absent when tied)              [vocab, d]
//! ```
//!
//! (*) llama.cpp's converter reorders the rows of Q and K inside each head so that RoPE rotates
//! neighbouring pairs (2i, 2i+1) instead of Hugging Face's (i, i + hd/2). We undo it here, once,
//! with `rope::gguf_row_of_hf_row`: HF row `h` of a head is GGUF row `2i + j` where
//! `h = j·hd/2 + i`. Q uses `heads`, K uses `kv_heads`; the permutation never crosses heads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::formats::file;
use crate::formats::gguf::{looks_like_gguf, GgufFile};
use crate::formats::safetensors::SafetensorsModel;
use crate::rope::gguf_row_of_hf_row;
use crate::tokenizer::Tokenizer;
use crate::weights::config::LlamaConfig;
use crate::weights::tensor::WeightMatrix;
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
    /// Hugging Face name → weight (mapped, or an owned copy for GGUF Q/K).
    pub tensors: BTreeMap<String, WeightMatrix>,
}

/// The tensors a Llama with this config has: HF name and shape (`[d]` for norm vectors).
pub fn expected_tensors(c: &LlamaConfig) -> Vec<(String, Vec<usize>)> {
    let (d, ffn, vocab) = (c.hidden_size, c.intermediate_size, c.vocab_size);
    let (q, kv) = (c.num_attention_heads * c.head_dim(), c.kv_dim());
    let mut v = vec![("model.embed_tokens.weight".to_string(), vec![vocab, d])];
    for l in 0..c.num_hidden_layers {
        let p = format!("model.layers.{l}");
        v.push((format!("{p}.input_layernorm.weight"), vec![d]));
        v.push((format!("{p}.self_attn.q_proj.weight"), vec![q, d]));
        v.push((format!("{p}.self_attn.k_proj.weight"), vec![kv, d]));
        v.push((format!("{p}.self_attn.v_proj.weight"), vec![kv, d]));
        v.push((format!("{p}.self_attn.o_proj.weight"), vec![d, q]));
        v.push((format!("{p}.post_attention_layernorm.weight"), vec![d]));
        v.push((format!("{p}.mlp.gate_proj.weight"), vec![ffn, d]));
        v.push((format!("{p}.mlp.up_proj.weight"), vec![ffn, d]));
        v.push((format!("{p}.mlp.down_proj.weight"), vec![d, ffn]));
    }
    v.push(("model.norm.weight".to_string(), vec![d]));
    if !c.tie_word_embeddings {
        v.push(("lm_head.weight".to_string(), vec![vocab, d]));
    }
    v
}

/// The GGUF (llama.cpp) name of a Hugging Face tensor name, per the table in the module docs.
pub fn gguf_name_of(hf: &str) -> Option<String> {
    match hf {
        "model.embed_tokens.weight" => return Some("token_embd.weight".into()),
        "model.norm.weight" => return Some("output_norm.weight".into()),
        "lm_head.weight" => return Some("output.weight".into()),
        _ => {}
    }
    let rest = hf.strip_prefix("model.layers.")?;
    let (n, part) = rest.split_once('.')?;
    let n: usize = n.parse().ok()?;
    let g = match part {
        "input_layernorm.weight" => "attn_norm",
        "self_attn.q_proj.weight" => "attn_q",
        "self_attn.k_proj.weight" => "attn_k",
        "self_attn.v_proj.weight" => "attn_v",
        "self_attn.o_proj.weight" => "attn_output",
        "post_attention_layernorm.weight" => "ffn_norm",
        "mlp.gate_proj.weight" => "ffn_gate",
        "mlp.up_proj.weight" => "ffn_up",
        "mlp.down_proj.weight" => "ffn_down",
        _ => return None,
    };
    Some(format!("blk.{n}.{g}.weight"))
}

/// A matrix's shape in the notation of [`expected_tensors`] (vectors as `[n]`).
fn shape_of(w: &WeightMatrix) -> Vec<usize> {
    if w.rows == 1 {
        vec![w.cols]
    } else {
        vec![w.rows, w.cols]
    }
}

fn check_shape(name: &str, w: &WeightMatrix, want: &[usize]) -> Result<()> {
    let found = shape_of(w);
    if found != want {
        return Err(Error::Shape {
            name: name.to_string(),
            expected: want.to_vec(),
            found,
        });
    }
    Ok(())
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
        let g = GgufFile::open(path)?;
        let config = LlamaConfig::from_gguf(&g)?;
        let tokenizer = Tokenizer::from_gguf(&g)?;
        check_vocab(path, &tokenizer, &config)?;
        let hd = config.head_dim();
        let mut tensors = BTreeMap::new();
        for (hf, shape) in expected_tensors(&config) {
            let gname = gguf_name_of(&hf)
                .ok_or_else(|| Error::invalid(format!("no GGUF name for `{hf}`")))?;
            if g.tensor_info(&gname).is_none() {
                return Err(Error::format(
                    path,
                    format!("missing tensor `{gname}` (Hugging Face `{hf}`)"),
                ));
            }
            let mut w = WeightMatrix::from_gguf(&g, &gname)?;
            check_shape(&gname, &w, &shape)?;
            // ANCHOR: qk_permute
            if hf.ends_with("q_proj.weight") || hf.ends_with("k_proj.weight") {
                // new row h (HF order) = stored row gguf_row_of_hf_row(h) (GGUF order)
                w = w.permute_rows(|h| gguf_row_of_hf_row(h, hd));
            }
            // ANCHOR_END: qk_permute
            w.name = hf.clone();
            tensors.insert(hf, w);
        }
        let files = ModelFiles {
            path: path.to_path_buf(),
            format: ModelFormat::Gguf,
            chat_template: g.get_str("tokenizer.chat_template").map(str::to_string),
            config,
            tokenizer,
            tensors,
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
        check_vocab(dir, &tokenizer, &config)?;
        let st = SafetensorsModel::open(dir)?;
        let mut tensors = BTreeMap::new();
        for (name, shape) in expected_tensors(&config) {
            if st.tensor(&name).is_none() {
                let file = st
                    .shards
                    .first()
                    .map_or(dir.to_path_buf(), |s| s.path.clone());
                return Err(Error::format(file, format!("missing tensor `{name}`")));
            }
            let w = WeightMatrix::from_safetensors(&st, &name)?;
            check_shape(&name, &w, &shape)?;
            tensors.insert(name, w);
        }
        let chat_template = chat_template_of(dir, tok_config.as_ref())?;
        let files = ModelFiles {
            path: dir.to_path_buf(),
            format: ModelFormat::HfSafetensors,
            config,
            tokenizer,
            chat_template,
            tensors,
        };
        Ok(files)
    }

    /// Stored bytes of all weights.
    pub fn weight_bytes(&self) -> usize {
        self.tensors.values().map(|w| w.bytes().len()).sum()
    }
}

/// The tokenizer must not produce ids past the embedding table (a smaller tokenizer is fine:
/// models often pad their vocabulary to a round number).
fn check_vocab(path: &Path, tokenizer: &Tokenizer, config: &LlamaConfig) -> Result<()> {
    let (tv, mv) = (tokenizer.vocab_size(), config.vocab_size);
    if tv > mv {
        return Err(Error::invalid(format!(
            "{}: the tokenizer has {tv} tokens but the model's vocabulary (embedding rows) is {mv}: \
             the tokenizer does not belong to this model",
            path.display()
        )));
    }
    Ok(())
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
