//! # Stage 3 · model families: what Gemma 3 does differently from Llama, named in one place
//!
//! glassbox has one forward pass (`model/llama.rs`) for every model it runs. A [`Family`]
//! answers each question on which two families differ; the forward pass asks, and Llama's
//! answers leave each step exactly as it was. Read top to bottom, this table *is* the
//! difference between the two architectures:
//!
//! ```text
//! question                      Llama (SmolLM2)           Gemma 3 (270M)                 from the GGUF
//! head_dim                      d / n_heads  (576/9=64)   key_length 256 (640/4 = 160)   gemma3.attention.key_length
//! embedding rows × ?            1                         √d (√640 = 25.3)               (the architecture)
//! a norm weight w scales by     w                         1 + w                          HF stores w, GGUF 1 + w
//! QK-norm                       no                        RMSNorm on each q, k head      attn_q_norm, attn_k_norm
//! norms around a branch         before it                 before and after (sandwich)    post_attention_norm, post_ffw_norm
//! MLP gate                      SiLU (SwiGLU)             tanh-GELU (GeGLU)              (the architecture)
//! attention scores ×            1/√head_dim               1/√query_pre_attn_scalar       = 1/√key_length, but 27B
//! layers that see everything    all                       every 6th: 5, 11, 17           sliding_window_pattern (or 6)
//! the other layers see          —                         the last 512 positions         gemma3.attention.sliding_window
//! RoPE base θ                   rope_theta                1e6 global, 1e4 local          rope.freq_base, rope.freq_base_swa (or 1e4)
//! GGUF Q/K rows                 interleaved: permuted     half-split: as stored          (llama.cpp's converter)
//! ```
//!
//! Where the GGUF is silent, the value is the one the architecture defines, as llama.cpp's
//! loader sets it (`llama-model.cpp`, `LLM_ARCH_GEMMA3`: SWA pattern 6, local base 10000,
//! attention scale 1/√(d/heads) for the 62-layer 27B, else 1/√key_length); every other number
//! is read from the file. Reference: `transformers.models.gemma3.modeling_gemma3`
//! (`Gemma3TextScaledWordEmbedding`, `Gemma3RMSNorm`, `Gemma3Attention`, `Gemma3DecoderLayer`).

use std::path::Path;

use crate::formats::gguf::GgufFile;
use crate::swiglu::Activation;
use crate::{Error, Result};

/// The architecture a config describes, with what sets it apart from Llama.
#[derive(Clone, Debug, PartialEq)]
pub enum Family {
    /// Llama (SmolLM2, Llama 2/3): the baseline every question is asked against.
    Llama,
    /// Gemma 3 (text): its own numbers below.
    Gemma3(Gemma3),
}

/// What Gemma 3 needs beyond a Llama config.
#[derive(Clone, Debug, PartialEq)]
pub struct Gemma3 {
    /// Width of one attention head (not `d / n_heads`).
    pub head_dim: usize,
    /// Attention scores are `q·k / √query_pre_attn_scalar`.
    pub query_pre_attn_scalar: f32,
    /// A local layer's query at `p` sees positions `p − sliding_window + 1 ..= p`.
    pub sliding_window: usize,
    /// Every `sliding_window_pattern`-th layer (1-based) is global: full causal attention.
    pub sliding_window_pattern: usize,
    /// RoPE base of the local layers (the global ones use the config's `rope_theta`).
    pub rope_local_theta: f32,
}

/// The SWA pattern and local RoPE base of Gemma 3, for files that do not store them
/// (llama.cpp's loader sets the same two numbers).
pub const GEMMA3_DEFAULT_PATTERN: usize = 6;
pub const GEMMA3_DEFAULT_LOCAL_THETA: f32 = 10_000.0;

impl Family {
    /// The GGUF `general.architecture` name.
    pub fn name(&self) -> &'static str {
        match self {
            Family::Llama => "llama",
            Family::Gemma3(_) => "gemma3",
        }
    }

    /// The Hugging Face class that runs this family.
    pub fn hf_architecture(&self) -> &'static str {
        match self {
            Family::Llama => "LlamaForCausalLM",
            Family::Gemma3(_) => "Gemma3ForCausalLM",
        }
    }

    /// The head width when it is not `d / n_heads`.
    pub fn head_dim(&self) -> Option<usize> {
        match self {
            Family::Llama => None,
            Family::Gemma3(g) => Some(g.head_dim),
        }
    }

    // ANCHOR: differences
    /// The embedding rows are multiplied by this (Gemma: `√d`, so that the residual stream
    /// starts at the scale the norms expect, while the tied head reads the rows unscaled).
    pub fn embedding_scale(&self, d_model: usize) -> Option<f32> {
        match self {
            Family::Llama => None,
            Family::Gemma3(_) => Some((d_model as f32).sqrt()),
        }
    }

    /// Hugging Face stores a norm weight `w` that scales by `offset + w` (Gemma: 1, so a
    /// weight initialised to 0 is the identity). GGUF files already hold `1 + w`.
    pub fn norm_weight_offset(&self) -> f32 {
        match self {
            Family::Llama => 0.0,
            Family::Gemma3(_) => 1.0,
        }
    }

    /// RMSNorm on every query and key head before RoPE (keeps q·k bounded without softcaps).
    pub fn has_qk_norm(&self) -> bool {
        matches!(self, Family::Gemma3(_))
    }

    /// A second RMSNorm on each branch's output before it joins the residual stream.
    pub fn has_sandwich_norms(&self) -> bool {
        matches!(self, Family::Gemma3(_))
    }

    /// The gate function of the MLP.
    pub fn activation(&self) -> Activation {
        match self {
            Family::Llama => Activation::Silu,
            Family::Gemma3(_) => Activation::GeluTanh,
        }
    }

    /// Attention divides scores by `√head_dim`; a family with another scale multiplies the
    /// queries by `√(head_dim / query_pre_attn_scalar)` first (`None`: nothing to do).
    pub fn query_scale(&self, head_dim: usize) -> Option<f32> {
        match self {
            Family::Gemma3(g) if g.query_pre_attn_scalar != head_dim as f32 => {
                Some((head_dim as f32 / g.query_pre_attn_scalar).sqrt())
            }
            _ => None,
        }
    }

    /// The attention window of `layer`: `None` for full causal attention (every Llama layer,
    /// Gemma's global layers), `Some(w)` for a local layer.
    pub fn window(&self, layer: usize) -> Option<usize> {
        match self {
            Family::Gemma3(g) if !(layer + 1).is_multiple_of(g.sliding_window_pattern) => {
                Some(g.sliding_window)
            }
            _ => None,
        }
    }

    /// The RoPE base of `layer`, given the config's (global) `rope_theta`.
    pub fn rope_theta(&self, layer: usize, rope_theta: f32) -> f32 {
        match self {
            Family::Gemma3(g) if self.window(layer).is_some() => g.rope_local_theta,
            _ => rope_theta,
        }
    }

    /// Whether a GGUF stores the Q/K rows permuted for interleaved RoPE (llama.cpp's converter
    /// does that for Llama only; Gemma's rows are in Hugging Face's half-split order).
    pub fn gguf_qk_interleaved(&self) -> bool {
        matches!(self, Family::Llama)
    }
    // ANCHOR_END: differences

    /// The windows of `n_layers` layers, in order (what a session's KV-cache is built from).
    pub fn windows(&self, n_layers: usize) -> Vec<Option<usize>> {
        (0..n_layers).map(|l| self.window(l)).collect()
    }

    /// The family of a GGUF file: `general.architecture` = `llama` or `gemma3` (with the
    /// `gemma3.*` keys it needs); any other architecture is refused by name.
    pub fn from_gguf(g: &GgufFile, arch: &str) -> Result<Family> {
        match arch {
            "llama" => Ok(Family::Llama),
            "gemma3" => {
                let key = |k: &str| format!("gemma3.{k}");
                for k in ["final_logit_softcapping", "attn_logit_softcapping"] {
                    if g.get(&key(k)).is_some() {
                        return Err(Error::Unsupported(format!(
                            "{}: `{}` (Gemma 2-style logit softcapping)",
                            g.path.display(),
                            key(k)
                        )));
                    }
                }
                let head_dim = g.require_u32(&key("attention.key_length"))? as usize;
                if let Some(vl) = g.get_u32(&key("attention.value_length")) {
                    if vl as usize != head_dim {
                        return Err(Error::Unsupported(format!(
                            "{}: attention.value_length {vl} differs from key_length {head_dim}",
                            g.path.display()
                        )));
                    }
                }
                let (d, heads, layers) = (
                    g.require_u32(&key("embedding_length"))? as usize,
                    g.require_u32(&key("attention.head_count"))? as usize,
                    g.require_u32(&key("block_count"))? as usize,
                );
                // Gemma 3 27B (62 layers) scales by its d / n_heads = 168 (gemma_pytorch's
                // `query_pre_attn_scalar`); every other size by its head_dim.
                let qpas = match layers {
                    62 if heads > 0 => d / heads,
                    _ => head_dim,
                };
                let pattern = g.get_u32(&key("attention.sliding_window_pattern"));
                let gemma = Gemma3 {
                    head_dim,
                    query_pre_attn_scalar: qpas as f32,
                    sliding_window: g.require_u32(&key("attention.sliding_window"))? as usize,
                    sliding_window_pattern: pattern.map_or(GEMMA3_DEFAULT_PATTERN, |p| p as usize),
                    rope_local_theta: g
                        .get_f32(&key("rope.freq_base_swa"))
                        .unwrap_or(GEMMA3_DEFAULT_LOCAL_THETA),
                };
                Ok(Family::Gemma3(gemma))
            }
            other => Err(Error::Unsupported(format!(
                "{}: architecture `{other}` (glassbox runs `llama` and `gemma3`)",
                g.path.display()
            ))),
        }
    }

    /// Refuse numbers the forward pass cannot run, naming the field.
    pub fn validate(&self, source: &Path) -> Result<()> {
        let Family::Gemma3(g) = self else {
            return Ok(());
        };
        let bad = |what: String| Err(Error::format(source, what));
        if g.head_dim == 0 || !g.head_dim.is_multiple_of(2) {
            return bad(format!(
                "gemma3 head_dim (attention.key_length) {} must be even and positive",
                g.head_dim
            ));
        }
        if g.sliding_window == 0 || g.sliding_window_pattern == 0 {
            return bad(format!(
                "gemma3 sliding_window {} and sliding_window_pattern {} must be positive",
                g.sliding_window, g.sliding_window_pattern
            ));
        }
        let (t, s) = (g.rope_local_theta, g.query_pre_attn_scalar);
        if !(t.is_finite() && t > 1.0) {
            return bad(format!(
                "gemma3 local RoPE base (rope.freq_base_swa) {t:e} must be a finite number > 1"
            ));
        }
        if !(s.is_finite() && s > 0.0) {
            return bad(format!(
                "gemma3 query_pre_attn_scalar {s:e} must be a finite number > 0"
            ));
        }
        Ok(())
    }
}
