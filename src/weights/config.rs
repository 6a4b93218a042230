//! # Stage 3 · the model's hyper-parameters, from `config.json` or from GGUF metadata
//!
//! The same Llama architecture is described two ways:
//!
//! ```text
//! Hugging Face config.json          GGUF metadata (llama.*)
//! hidden_size                       llama.embedding_length
//! intermediate_size                 llama.feed_forward_length
//! num_attention_heads               llama.attention.head_count
//! num_key_value_heads               llama.attention.head_count_kv
//! num_hidden_layers                 llama.block_count
//! rms_norm_eps                      llama.attention.layer_norm_rms_epsilon
//! rope_theta                        llama.rope.freq_base
//! max_position_embeddings           llama.context_length
//! vocab_size                        length of tokenizer.ggml.tokens
//! bos_token_id / eos_token_id       tokenizer.ggml.bos_token_id / eos_token_id
//! tie_word_embeddings               true when there is no output.weight tensor
//! ```
//!
//! Every check of a config happens here: [`LlamaConfig::validate`] (shapes the forward pass can
//! run) and [`LlamaConfig::check_tokenizer`] (a tokenizer that fits the embedding table).

use std::path::Path;

use serde_json::Value;

use crate::attention::KvCache;
use crate::formats::file;
use crate::formats::gguf::GgufFile;
use crate::rope::Llama3RopeScaling;
use crate::tokenizer::Tokenizer;
use crate::{Error, Result};

/// A Llama-architecture model's shape and constants.
#[derive(Clone, Debug, PartialEq)]
pub struct LlamaConfig {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    pub num_hidden_layers: usize,
    pub rms_norm_eps: f32,
    pub rope_theta: f32,
    pub rope_scaling: Option<Llama3RopeScaling>,
    pub tie_word_embeddings: bool,
    pub vocab_size: usize,
    pub max_position_embeddings: usize,
    pub bos_token_id: Option<u32>,
    pub eos_token_ids: Vec<u32>,
}

/// Parameters by tensor group (what `glassbox inspect` prints).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParamCounts {
    pub embeddings: usize,
    pub attention: usize,
    pub mlp: usize,
    pub norms: usize,
    /// 0 when the output head is tied to the embeddings.
    pub head: usize,
}

impl ParamCounts {
    pub fn total(&self) -> usize {
        self.embeddings + self.attention + self.mlp + self.norms + self.head
    }
}

impl LlamaConfig {
    /// Size of one attention head: `hidden_size / num_attention_heads`.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }
    /// Width of K and V: `num_key_value_heads × head_dim`.
    pub fn kv_dim(&self) -> usize {
        self.num_key_value_heads * self.head_dim()
    }

    /// Bytes of a KV-cache for `seq_len` positions (the formula is `KvCache::bytes_for`).
    pub fn kv_cache_bytes(&self, seq_len: usize, bytes_per_elem: usize) -> usize {
        KvCache::bytes_for(
            self.num_hidden_layers,
            self.num_key_value_heads,
            self.head_dim(),
            seq_len,
            bytes_per_elem,
        )
    }

    // ANCHOR: param_counts
    /// Parameter counts from the shapes alone (no file needed).
    pub fn param_counts(&self) -> ParamCounts {
        let (d, hd, l) = (self.hidden_size, self.head_dim(), self.num_hidden_layers);
        let q = self.num_attention_heads * hd;
        let kv = self.kv_dim();
        ParamCounts {
            embeddings: self.vocab_size * d,
            // q_proj [q, d] + k_proj, v_proj [kv, d] + o_proj [d, q]
            attention: l * (q * d + 2 * kv * d + d * q),
            // gate_proj, up_proj [ffn, d] + down_proj [d, ffn]
            mlp: l * 3 * self.intermediate_size * d,
            // input_layernorm + post_attention_layernorm per layer, + the final norm
            norms: (2 * l + 1) * d,
            head: if self.tie_word_embeddings {
                0
            } else {
                self.vocab_size * d
            },
        }
    }
    // ANCHOR_END: param_counts

    /// Refuse shapes the forward pass cannot run, with the field named.
    pub fn validate(&self, source: &Path) -> Result<()> {
        let bad = |what: String| Err(Error::format(source, what));
        if self.hidden_size == 0 || self.num_attention_heads == 0 || self.num_hidden_layers == 0 {
            return bad(
                "hidden_size, num_attention_heads and num_hidden_layers must be positive".into(),
            );
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return bad(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if !self.head_dim().is_multiple_of(2) {
            return bad(format!(
                "head_dim {} is odd; RoPE rotates pairs",
                self.head_dim()
            ));
        }
        if self.num_key_value_heads == 0
            || !self
                .num_attention_heads
                .is_multiple_of(self.num_key_value_heads)
        {
            return bad(format!(
                "num_attention_heads {} is not a multiple of num_key_value_heads {}",
                self.num_attention_heads, self.num_key_value_heads
            ));
        }
        if self.vocab_size == 0 || self.intermediate_size == 0 || self.max_position_embeddings == 0
        {
            return bad(
                "vocab_size, intermediate_size and max_position_embeddings must be positive".into(),
            );
        }
        Ok(())
    }

    /// The tokenizer must not produce ids past the embedding table (a smaller tokenizer is
    /// fine: models often pad their vocabulary to a round number). `source` names the model.
    pub fn check_tokenizer(&self, tokenizer: &Tokenizer, source: &Path) -> Result<()> {
        let (tv, mv) = (tokenizer.vocab_size(), self.vocab_size);
        if tv > mv {
            return Err(Error::invalid(format!(
                "{}: the tokenizer has {tv} tokens but the model's vocabulary (embedding rows) is {mv}: \
                 the tokenizer does not belong to this model",
                source.display()
            )));
        }
        Ok(())
    }

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

    /// Read the `llama.*` metadata of a GGUF file.
    pub fn from_gguf(g: &GgufFile) -> Result<LlamaConfig> {
        let arch = g.require_str("general.architecture")?;
        if arch != "llama" {
            return Err(Error::Unsupported(format!(
                "{}: architecture `{arch}` (glassbox runs the Llama architecture)",
                g.path.display()
            )));
        }
        if g.tensor_info("rope_freqs.weight").is_some() {
            return Err(Error::Unsupported(format!(
                "{}: llama3 RoPE scaling stored as `rope_freqs.weight`; convert the Hugging Face model instead",
                g.path.display()
            )));
        }
        if let Some(t) = g
            .get_str("llama.rope.scaling.type")
            .filter(|t| *t != "none")
        {
            return Err(Error::Unsupported(format!(
                "{}: rope scaling type `{t}`",
                g.path.display()
            )));
        }
        let u = |k: &str| g.require_u32(k).map(|v| v as usize);
        let heads = u("llama.attention.head_count")?;
        let vocab_size = match g.get_array("tokenizer.ggml.tokens") {
            Some(t) => t.len(),
            None => u("llama.vocab_size")?,
        };
        let mut eos_token_ids: Vec<u32> = g
            .get_u32("tokenizer.ggml.eos_token_id")
            .into_iter()
            .collect();
        if let Some(eot) = g.get_u32("tokenizer.ggml.eot_token_id") {
            if !eos_token_ids.contains(&eot) {
                eos_token_ids.push(eot);
            }
        }
        let cfg = LlamaConfig {
            hidden_size: u("llama.embedding_length")?,
            intermediate_size: u("llama.feed_forward_length")?,
            num_attention_heads: heads,
            num_key_value_heads: g
                .get_u32("llama.attention.head_count_kv")
                .map_or(heads, |v| v as usize),
            num_hidden_layers: u("llama.block_count")?,
            rms_norm_eps: g.require_f32("llama.attention.layer_norm_rms_epsilon")?,
            rope_theta: g.get_f32("llama.rope.freq_base").unwrap_or(10_000.0),
            rope_scaling: None,
            tie_word_embeddings: g.tensor_info("output.weight").is_none(),
            vocab_size,
            max_position_embeddings: u("llama.context_length")?,
            bos_token_id: g.get_u32("tokenizer.ggml.bos_token_id"),
            eos_token_ids,
        };
        if let Some(kl) = g.get_u32("llama.attention.key_length") {
            if kl as usize != cfg.head_dim() {
                return Err(Error::Unsupported(format!(
                    "{}: attention.key_length {kl} differs from embedding_length / head_count = {}",
                    g.path.display(),
                    cfg.head_dim()
                )));
            }
        }
        cfg.validate(&g.path)?;
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
