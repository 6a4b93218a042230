//! # Stage 3 · a Llama config as Hugging Face's `config.json`, read and written
//!
//! `LlamaForCausalLM` fields (see the table in `config.rs`); `rope_theta` and `rope_scaling`
//! either at the top (older configs) or in one `rope_parameters` object (transformers ≥ 5).
//! Missing optional fields take transformers' defaults; a wrong type names the field.

use std::path::Path;

use serde_json::Value;

use crate::formats::file;
use crate::rope::Llama3RopeScaling;
use crate::weights::config::LlamaConfig;
use crate::weights::family::Family;
use crate::{Error, Result};

impl LlamaConfig {
    /// Read a Hugging Face `config.json` (LlamaForCausalLM).
    pub fn from_hf_json(path: &Path) -> Result<LlamaConfig> {
        Self::from_hf_value(&file::read_json(path)?, path)
    }

    /// The same from an already parsed JSON value (`source` names it in errors).
    pub fn from_hf_value(v: &Value, source: &Path) -> Result<LlamaConfig> {
        if let Some(mt) = v.get("model_type").and_then(Value::as_str) {
            if mt != "llama" {
                return Err(Error::Unsupported(format!(
                    "{}: model_type `{mt}` (glassbox runs the Llama architecture)",
                    source.display()
                )));
            }
        }
        let field = |k: &str| v.get(k).filter(|x| !x.is_null());
        let usize_of = |k: &str, default: Option<usize>| -> Result<usize> {
            match field(k) {
                None => default.ok_or_else(|| Error::format(source, format!("`{k}` is missing"))),
                Some(x) => x.as_u64().map(|n| n as usize).ok_or_else(|| {
                    Error::format(source, format!("`{k}` = {x} is not a non-negative integer"))
                }),
            }
        };
        let f32_of = |x: Option<&Value>, k: &str, default: f32| -> Result<f32> {
            match x.filter(|x| !x.is_null()) {
                None => Ok(default),
                Some(x) => x
                    .as_f64()
                    .map(|f| f as f32)
                    .ok_or_else(|| Error::format(source, format!("`{k}` = {x} is not a number"))),
            }
        };
        let id_of = |x: &Value, k: &str| -> Result<u32> {
            x.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| Error::format(source, format!("`{k}` = {x} is not a token id")))
        };
        let num_attention_heads = usize_of("num_attention_heads", None)?;
        // Older configs put rope_theta and rope_scaling at the top; transformers ≥ 5 writes one
        // `rope_parameters` object with `rope_type`, `rope_theta` and the scaling fields.
        let params = field("rope_parameters").or_else(|| field("rope_scaling"));
        let theta_v = field("rope_theta").or_else(|| params.and_then(|p| p.get("rope_theta")));
        let rope_theta = f32_of(theta_v, "rope_theta", 10_000.0)?;
        let rope_scaling = match params {
            None => None,
            Some(p) => {
                let ty = p
                    .get("rope_type")
                    .or_else(|| p.get("type"))
                    .and_then(Value::as_str)
                    .unwrap_or("default");
                match ty {
                    "default" => None,
                    "llama3" => {
                        let g = |k: &str| f32_of(p.get(k), k, f32::NAN);
                        let s = Llama3RopeScaling {
                            factor: g("factor")?,
                            low_freq_factor: g("low_freq_factor")?,
                            high_freq_factor: g("high_freq_factor")?,
                            original_max_position_embeddings: p
                                .get("original_max_position_embeddings")
                                .and_then(Value::as_u64)
                                .unwrap_or(0)
                                as usize,
                        };
                        if [s.factor, s.low_freq_factor, s.high_freq_factor]
                            .iter()
                            .any(|f| !f.is_finite())
                            || s.original_max_position_embeddings == 0
                        {
                            return Err(Error::format(
                                source,
                                format!("incomplete llama3 rope scaling: {p}"),
                            ));
                        }
                        Some(s)
                    }
                    other => {
                        return Err(Error::Unsupported(format!(
                            "{}: rope_type `{other}` (glassbox supports default and llama3)",
                            source.display()
                        )))
                    }
                }
            }
        };
        let hidden_size = usize_of("hidden_size", None)?;
        let cfg = LlamaConfig {
            hidden_size,
            intermediate_size: usize_of("intermediate_size", None)?,
            num_attention_heads,
            num_key_value_heads: usize_of("num_key_value_heads", Some(num_attention_heads))?,
            num_hidden_layers: usize_of("num_hidden_layers", None)?,
            rms_norm_eps: f32_of(field("rms_norm_eps"), "rms_norm_eps", 1e-6)?,
            rope_theta,
            rope_scaling,
            tie_word_embeddings: field("tie_word_embeddings")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            vocab_size: usize_of("vocab_size", None)?,
            max_position_embeddings: usize_of("max_position_embeddings", Some(2048))?,
            bos_token_id: field("bos_token_id")
                .map(|x| id_of(x, "bos_token_id"))
                .transpose()?,
            eos_token_ids: match field("eos_token_id") {
                None => vec![],
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|x| id_of(x, "eos_token_id"))
                    .collect::<Result<_>>()?,
                Some(x) => vec![id_of(x, "eos_token_id")?],
            },
            family: Family::Llama,
        };
        if let Some(hd) = field("head_dim").and_then(Value::as_u64) {
            if hd as usize != cfg.head_dim() {
                return Err(Error::Unsupported(format!(
                    "{}: head_dim {hd} differs from hidden_size / num_attention_heads = {}",
                    source.display(),
                    cfg.head_dim()
                )));
            }
        }
        cfg.validate(source)?;
        Ok(cfg)
    }

    /// A Hugging Face `config.json` object (LlamaForCausalLM) with every field.
    pub fn to_hf_json(&self, torch_dtype: &str) -> Value {
        let rope_scaling = match &self.rope_scaling {
            None => Value::Null,
            Some(s) => serde_json::json!({
                "rope_type": "llama3",
                "factor": json_f32(s.factor),
                "low_freq_factor": json_f32(s.low_freq_factor),
                "high_freq_factor": json_f32(s.high_freq_factor),
                "original_max_position_embeddings": s.original_max_position_embeddings,
            }),
        };
        let eos = match self.eos_token_ids.as_slice() {
            [] => Value::Null,
            [one] => Value::from(*one),
            many => Value::from(many.to_vec()),
        };
        serde_json::json!({
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "num_hidden_layers": self.num_hidden_layers,
            "head_dim": self.head_dim(),
            "hidden_act": "silu",
            "rms_norm_eps": json_f32(self.rms_norm_eps),
            "rope_theta": json_f32(self.rope_theta),
            "rope_scaling": rope_scaling,
            "tie_word_embeddings": self.tie_word_embeddings,
            "vocab_size": self.vocab_size,
            "max_position_embeddings": self.max_position_embeddings,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": eos,
            "attention_bias": false,
            "mlp_bias": false,
            "attention_dropout": 0.0,
            "initializer_range": 0.02,
            "pretraining_tp": 1,
            "use_cache": true,
            "torch_dtype": torch_dtype,
        })
    }
}

/// An f32 as the JSON number with the same shortest decimal (1e-5, not 9.999999747378752e-6).
fn json_f32(x: f32) -> Value {
    x.to_string()
        .parse::<f64>()
        .map_or(Value::Null, Value::from)
}
