//! # Stage 3 · the model's hyper-parameters, from `config.json` or from GGUF metadata
//!
//! The same Llama architecture is described two ways (a Gemma 3 GGUF has the same keys under
//! `gemma3.*`, and what Gemma does differently is its [`Family`], `family.rs`):
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
//! Reading and writing `config.json` is `hf_config.rs`. Every check of a config happens here: [`LlamaConfig::validate`] (shapes the forward pass can
//! run) and [`LlamaConfig::check_tokenizer`] (a tokenizer that fits the embedding table).

use std::path::Path;

use crate::formats::gguf::GgufFile;
use crate::kv_cache::KvCache;
use crate::rope::Llama3RopeScaling;
use crate::tokenizer::Tokenizer;
use crate::weights::family::Family;
use crate::{Error, Result};

/// The most layers a config may name (`validate`): 2¹⁶, a hundred times today's largest models.
pub const MAX_LAYERS: usize = 1 << 16;

/// The widest a config's widths may be (`validate`): hidden_size, intermediate_size, the query
/// width heads × head_dim and the vocabulary, each ≤ 2²⁴ (today's largest: d 16384 = 2¹⁴,
/// vocabulary 262144 = 2¹⁸). With at most [`MAX_LAYERS`] layers no product in `param_counts`
/// or `kv_cache_bytes` can then overflow (each is < 2⁶⁰; a fuzz finding: a hidden_size of
/// 6.6·10¹⁷ passed every other check and overflowed `vocab_size × d`).
pub const MAX_WIDTH: usize = 1 << 24;

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
    /// Llama, or a family that differs from it in the named places of `family.rs`.
    pub family: Family,
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
    /// Size of one attention head: `hidden_size / num_attention_heads`, unless the family
    /// sets it (Gemma 3: 256).
    pub fn head_dim(&self) -> usize {
        self.family
            .head_dim()
            .unwrap_or(self.hidden_size / self.num_attention_heads.max(1))
    }
    /// Width of K and V: `num_key_value_heads × head_dim`.
    pub fn kv_dim(&self) -> usize {
        self.num_key_value_heads * self.head_dim()
    }

    /// Bytes of a KV-cache for `seq_len` positions written at most `chunk` at a time (the
    /// formula is `KvCache::bytes_for`; a sliding-window layer keeps only
    /// `KvCache::rows_for` rows).
    pub fn kv_cache_bytes_chunked(
        &self,
        seq_len: usize,
        chunk: usize,
        bytes_per_elem: usize,
    ) -> usize {
        let one_row = KvCache::bytes_for(
            1,
            self.num_key_value_heads,
            self.head_dim(),
            1,
            bytes_per_elem,
        );
        let rows: usize = (0..self.num_hidden_layers)
            .map(|l| KvCache::rows_for(self.family.window(l), seq_len, chunk))
            .sum();
        rows * one_row
    }

    /// Bytes of a KV-cache for `seq_len` positions, as a session allocates it (prefill chunks
    /// of at most `kv_cache::PREFILL_CHUNK` tokens).
    pub fn kv_cache_bytes(&self, seq_len: usize, bytes_per_elem: usize) -> usize {
        let chunk = seq_len.min(crate::kv_cache::PREFILL_CHUNK);
        self.kv_cache_bytes_chunked(seq_len, chunk, bytes_per_elem)
    }

    // ANCHOR: param_counts
    /// Parameter counts from the shapes alone (no file needed).
    pub fn param_counts(&self) -> ParamCounts {
        let (d, hd, l) = (self.hidden_size, self.head_dim(), self.num_hidden_layers);
        let q = self.num_attention_heads * hd;
        let kv = self.kv_dim();
        let f = &self.family;
        // Gemma: q_norm, k_norm [hd] and the two sandwich norms [d] in every layer
        let extra_norms =
            usize::from(f.has_qk_norm()) * 2 * hd + usize::from(f.has_sandwich_norms()) * 2 * d;
        ParamCounts {
            embeddings: self.vocab_size * d,
            // q_proj [q, d] + k_proj, v_proj [kv, d] + o_proj [d, q]
            attention: l * (q * d + 2 * kv * d + d * q),
            // gate_proj, up_proj [ffn, d] + down_proj [d, ffn]
            mlp: l * 3 * self.intermediate_size * d,
            // input_layernorm + post_attention_layernorm per layer, + the final norm
            norms: (2 * l + 1) * d + l * extra_norms,
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
        // A count no model comes near (the largest have a few hundred layers) is refused here,
        // before anything walks the layers: the per-layer sums (`kv_cache_bytes`, the window of
        // each layer) would otherwise run for hours on a config.json's 2.3·10¹⁴ (a fuzz finding).
        if self.num_hidden_layers > MAX_LAYERS {
            return bad(format!(
                "num_hidden_layers (GGUF `block_count`) {} is more than {MAX_LAYERS}, far beyond any real model",
                self.num_hidden_layers
            ));
        }
        let query_width = self.num_attention_heads.saturating_mul(self.head_dim());
        for (name, width) in [
            ("hidden_size (GGUF `embedding_length`)", self.hidden_size),
            (
                "intermediate_size (GGUF `feed_forward_length`)",
                self.intermediate_size,
            ),
            ("num_attention_heads × head_dim", query_width),
            ("vocab_size", self.vocab_size),
        ] {
            if width > MAX_WIDTH {
                return bad(format!(
                    "{name} {width} is more than {MAX_WIDTH}, far beyond any real model"
                ));
            }
        }
        if self.family.head_dim().is_none()
            && !self.hidden_size.is_multiple_of(self.num_attention_heads)
        {
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
        self.validate_floats(source)?;
        self.family.validate(source)
    }

    // ANCHOR: validate_floats
    /// Every float of the config is finite and in the range where the forward pass stays
    /// finite; the error names the field (with its GGUF key where it has one). Without this a
    /// NaN `rope_theta` gives NaN logits, and a NaN threshold once emptied the sampler.
    ///
    /// ```text
    /// rms_norm_eps   0 < ε < 1      x / sqrt(mean(x²) + ε): ε ≤ 0 divides 0 by 0 on a zero row
    /// rope_theta     θ > 1          θ_i = θ^(−2i/d): a subnormal θ makes θ_i infinite
    /// llama3 scaling factor ≥ 1, 0 < low_freq_factor < high_freq_factor (θ_i / factor, and
    ///                (L / λ − low) / (high − low) divides by high − low)
    /// ```
    fn validate_floats(&self, source: &Path) -> Result<()> {
        let check = |name: &str, gguf_key: Option<&str>, x: f32, ok: bool, rule: &str| {
            if x.is_finite() && ok {
                return Ok(());
            }
            let key = gguf_key
                .map(|k| format!(" (GGUF `{k}`)"))
                .unwrap_or_default();
            Err(Error::format(
                source,
                format!("`{name}`{key} = {x:e} is out of range: it must be {rule}"),
            ))
        };
        let eps = self.rms_norm_eps;
        check(
            "rms_norm_eps",
            Some("llama.attention.layer_norm_rms_epsilon"),
            eps,
            eps > 0.0 && eps < 1.0,
            "a finite number with 0 < eps < 1 (typically 1e-5 or 1e-6)",
        )?;
        let theta = self.rope_theta;
        check(
            "rope_theta",
            Some("llama.rope.freq_base"),
            theta,
            theta > 1.0,
            "a finite number > 1 (typically 10000 or 500000)",
        )?;
        if let Some(s) = &self.rope_scaling {
            let (f, lo, hi) = (s.factor, s.low_freq_factor, s.high_freq_factor);
            check(
                "rope_scaling.factor",
                None,
                f,
                f >= 1.0,
                "a finite number ≥ 1",
            )?;
            check(
                "rope_scaling.low_freq_factor",
                None,
                lo,
                lo > 0.0,
                "a finite number > 0",
            )?;
            check(
                "rope_scaling.high_freq_factor",
                None,
                hi,
                hi > lo,
                "a finite number > low_freq_factor",
            )?;
        }
        Ok(())
    }
    // ANCHOR_END: validate_floats

    /// The tokenizer must not produce ids past the embedding table (a smaller tokenizer is
    /// fine: models often pad their vocabulary to a round number). `source` names the model.
    pub fn check_tokenizer(&self, tokenizer: &Tokenizer, source: &Path) -> Result<()> {
        let (tv, mv) = (tokenizer.vocab_size(), self.vocab_size);
        if tv > mv {
            return Err(Error::format(
                source,
                format!(
                    "the tokenizer has {tv} tokens but the model's vocabulary (embedding rows) is {mv}: \
                     the tokenizer does not belong to this model"
                ),
            ));
        }
        Ok(())
    }

    /// Read the `llama.*` (or `gemma3.*`) metadata of a GGUF file.
    pub fn from_gguf(g: &GgufFile) -> Result<LlamaConfig> {
        let arch = g.require_str("general.architecture")?;
        let family = Family::from_gguf(g, arch)?;
        let key = |k: &str| format!("{arch}.{k}");
        if g.tensor_info("rope_freqs.weight").is_some() {
            return Err(Error::Unsupported(format!(
                "{}: llama3 RoPE scaling stored as `rope_freqs.weight`; convert the Hugging Face model instead",
                g.path.display()
            )));
        }
        if let Some(t) = g
            .get_str(&key("rope.scaling.type"))
            .filter(|t| *t != "none")
        {
            return Err(Error::Unsupported(format!(
                "{}: rope scaling type `{t}`",
                g.path.display()
            )));
        }
        let u = |k: &str| g.require_u32(&key(k)).map(|v| v as usize);
        let heads = u("attention.head_count")?;
        let vocab_size = match g.get_array("tokenizer.ggml.tokens") {
            Some(t) => t.len(),
            None => u("vocab_size")?,
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
            hidden_size: u("embedding_length")?,
            intermediate_size: u("feed_forward_length")?,
            num_attention_heads: heads,
            num_key_value_heads: g
                .get_u32(&key("attention.head_count_kv"))
                .map_or(heads, |v| v as usize),
            num_hidden_layers: u("block_count")?,
            rms_norm_eps: g.require_f32(&key("attention.layer_norm_rms_epsilon"))?,
            rope_theta: g.get_f32(&key("rope.freq_base")).unwrap_or(10_000.0),
            rope_scaling: None,
            tie_word_embeddings: g.tensor_info("output.weight").is_none(),
            vocab_size,
            max_position_embeddings: u("context_length")?,
            bos_token_id: g.get_u32("tokenizer.ggml.bos_token_id"),
            eos_token_ids,
            family,
        };
        if let (Family::Llama, Some(kl)) = (&cfg.family, g.get_u32(&key("attention.key_length"))) {
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
}
