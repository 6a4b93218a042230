//! Stage 8 · the trainable parameters: every weight of a tied-head Llama as an owned `f32`
//! buffer, under the Hugging Face names of `weights::checkpoint` (named there, once).
//!
//! ```text
//! model.embed_tokens.weight                       [vocab, d]   (also the output head: tied)
//! model.layers.N.input_layernorm.weight           [d]
//! model.layers.N.self_attn.{q,k,v,o}_proj.weight  [heads·hd, d] [kv·hd, d] [kv·hd, d] [d, heads·hd]
//! model.layers.N.post_attention_layernorm.weight  [d]
//! model.layers.N.mlp.{gate,up,down}_proj.weight   [ffn, d] [ffn, d] [d, ffn]
//! model.norm.weight                               [d]
//! ```
//!
//! The gradients and AdamW's two moments have the same structure, so they are `Params` too.
//!
//! **Initialisation as Llama's** (`LlamaPreTrainedModel._init_weights` in `transformers`): every
//! matrix from N(0, σ²) with σ = `initializer_range` = 0.02, every RMSNorm weight 1. The normal
//! samples come from the sampler's PCG32 through Box–Muller, so a seed gives the same model on
//! every machine and with every version of every crate.

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::sampler::Pcg32;
use crate::weights::checkpoint::{LlamaWeights, EMBED_TOKENS, FINAL_NORM, GGUF_LAYER_NAMES};
use crate::weights::config::LlamaConfig;
use crate::weights::tensor::WeightMatrix;
use crate::{Error, Result};

/// Elements per parallel task of the element-wise passes: over every parameter (the norm,
/// clipping) and the residual adds of a step (`train::model`).
pub const CHUNK: usize = 1 << 14;

/// σ of the initial weights (Hugging Face's `initializer_range` for Llama).
pub const INIT_STD: f32 = 0.02;

/// One block's parameters, in the order of `GGUF_LAYER_NAMES` (and `LayerWeights::tensors`).
#[derive(Clone, Debug, PartialEq)]
pub struct LayerParams {
    pub input_layernorm: Vec<f32>,          // [d]
    pub q_proj: Vec<f32>,                   // [n_heads·hd, d]
    pub k_proj: Vec<f32>,                   // [n_kv·hd, d]
    pub v_proj: Vec<f32>,                   // [n_kv·hd, d]
    pub o_proj: Vec<f32>,                   // [d, n_heads·hd]
    pub post_attention_layernorm: Vec<f32>, // [d]
    pub gate_proj: Vec<f32>,                // [ffn, d]
    pub up_proj: Vec<f32>,                  // [ffn, d]
    pub down_proj: Vec<f32>,                // [d, ffn]
}

/// Every parameter of the model (or a gradient, or an optimizer moment: same structure).
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    pub embed_tokens: Vec<f32>, // [vocab, d]
    pub layers: Vec<LayerParams>,
    pub norm: Vec<f32>, // [d]
}

/// `[rows, cols]` of each of a block's nine tensors (`[1, d]` for a norm), in order.
fn layer_shapes(c: &LlamaConfig) -> [[usize; 2]; 9] {
    let (d, ffn, q, kv) = (
        c.hidden_size,
        c.intermediate_size,
        c.num_attention_heads * c.head_dim(),
        c.kv_dim(),
    );
    [
        [1, d],
        [q, d],
        [kv, d],
        [kv, d],
        [d, q],
        [1, d],
        [ffn, d],
        [ffn, d],
        [d, ffn],
    ]
}

impl LayerParams {
    fn from_fn(c: &LlamaConfig, mut f: impl FnMut([usize; 2]) -> Vec<f32>) -> LayerParams {
        let [n1, q, k, v, o, n2, g, u, dn] = layer_shapes(c).map(&mut f);
        LayerParams {
            input_layernorm: n1,
            q_proj: q,
            k_proj: k,
            v_proj: v,
            o_proj: o,
            post_attention_layernorm: n2,
            gate_proj: g,
            up_proj: u,
            down_proj: dn,
        }
    }

    /// The nine tensors in checkpoint order.
    pub fn tensors(&self) -> [&Vec<f32>; 9] {
        [
            &self.input_layernorm,
            &self.q_proj,
            &self.k_proj,
            &self.v_proj,
            &self.o_proj,
            &self.post_attention_layernorm,
            &self.gate_proj,
            &self.up_proj,
            &self.down_proj,
        ]
    }

    /// The nine tensors in checkpoint order, mutable.
    pub fn tensors_mut(&mut self) -> [&mut Vec<f32>; 9] {
        [
            &mut self.input_layernorm,
            &mut self.q_proj,
            &mut self.k_proj,
            &mut self.v_proj,
            &mut self.o_proj,
            &mut self.post_attention_layernorm,
            &mut self.gate_proj,
            &mut self.up_proj,
            &mut self.down_proj,
        ]
    }
}

impl Params {
    /// Refuse what the trainer does not do: an untied output head.
    pub fn check_config(c: &LlamaConfig) -> Result<()> {
        if !c.tie_word_embeddings {
            return Err(Error::Unsupported(
                "training: only tied embeddings (the output head is the embedding matrix)".into(),
            ));
        }
        Ok(())
    }

    /// Build every tensor with `f(shape)`, in checkpoint order.
    fn from_fn(c: &LlamaConfig, mut f: impl FnMut([usize; 2]) -> Vec<f32>) -> Params {
        let embed_tokens = f([c.vocab_size, c.hidden_size]);
        let layers = (0..c.num_hidden_layers)
            .map(|_| LayerParams::from_fn(c, &mut f))
            .collect();
        let norm = f([1, c.hidden_size]);
        Params {
            embed_tokens,
            layers,
            norm,
        }
    }

    /// All zeros (a gradient accumulator, an optimizer moment).
    pub fn zeros(c: &LlamaConfig) -> Params {
        Params::from_fn(c, |[r, k]| vec![0.0; r * k])
    }

    // ANCHOR: init
    /// Llama's initialisation from `seed`: matrices ~ N(0, 0.02²), norm weights 1.
    pub fn init(c: &LlamaConfig, seed: u64) -> Params {
        let mut rng = Pcg32::new(seed);
        Params::from_fn(c, |[rows, cols]| {
            if rows == 1 {
                return vec![1.0; cols]; // an RMSNorm weight
            }
            (0..rows * cols)
                .map(|_| INIT_STD * normal(&mut rng))
                .collect()
        })
    }
    // ANCHOR_END: init

    /// Every tensor in checkpoint order: embedding, the blocks, the final norm.
    pub fn tensors(&self) -> Vec<&Vec<f32>> {
        let layers = self.layers.iter().flat_map(|l| l.tensors());
        std::iter::once(&self.embed_tokens)
            .chain(layers)
            .chain([&self.norm])
            .collect()
    }

    /// Every tensor in checkpoint order, mutable.
    pub fn tensors_mut(&mut self) -> Vec<&mut Vec<f32>> {
        let layers = self.layers.iter_mut().flat_map(|l| l.tensors_mut());
        std::iter::once(&mut self.embed_tokens)
            .chain(layers)
            .chain([&mut self.norm])
            .collect()
    }

    /// Hugging Face name and `[rows, cols]` of every tensor, in the order of [`Self::tensors`].
    pub fn names_and_shapes(c: &LlamaConfig) -> Vec<(String, [usize; 2])> {
        let mut out = vec![(EMBED_TOKENS.to_string(), [c.vocab_size, c.hidden_size])];
        for l in 0..c.num_hidden_layers {
            for ((field, _), shape) in GGUF_LAYER_NAMES.iter().zip(layer_shapes(c)) {
                out.push((format!("model.layers.{l}.{field}"), shape));
            }
        }
        out.push((FINAL_NORM.to_string(), [1, c.hidden_size]));
        out
    }

    /// For each tensor of [`Self::tensors`]: a matrix (true) or an RMSNorm weight (false).
    pub fn is_matrix(&self) -> Vec<bool> {
        let layer = [false, true, true, true, true, false, true, true, true];
        std::iter::once(true)
            .chain(self.layers.iter().flat_map(|_| layer))
            .chain([false])
            .collect()
    }

    /// Number of parameters.
    pub fn count(&self) -> usize {
        self.tensors().iter().map(|t| t.len()).sum()
    }

    /// The weights as `WeightMatrix`es under their names, for `Llama::from_tensors` (samples
    /// during training) and for writing a checkpoint.
    pub fn to_weight_matrices(&self, c: &LlamaConfig) -> BTreeMap<String, WeightMatrix> {
        Params::names_and_shapes(c)
            .into_iter()
            .zip(self.tensors())
            .map(|((name, [r, k]), t)| {
                let w = WeightMatrix::from_f32(name.clone(), r, k, t.clone());
                (name, w)
            })
            .collect()
    }

    /// The parameters of a loaded checkpoint (any stored type, decoded to f32).
    pub fn from_weights(w: &LlamaWeights, c: &LlamaConfig) -> Result<Params> {
        Params::check_config(c)?;
        let by_name = w.by_name();
        let mut p = Params::zeros(c);
        for ((name, _), t) in Params::names_and_shapes(c).iter().zip(p.tensors_mut()) {
            let m = by_name.get(name.as_str()).ok_or_else(|| {
                Error::missing_tensor(crate::weights::checkpoint::IN_MEMORY, name)
            })?;
            for (r, row) in t.chunks_exact_mut(m.cols).enumerate() {
                m.dequantize_row(r, row);
            }
        }
        Ok(p)
    }

    /// `self += other`, tensor by tensor.
    pub fn add_assign(&mut self, other: &Params) {
        for (a, b) in self.tensors_mut().into_iter().zip(other.tensors()) {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        }
    }

    /// Set every value to 0 (a new step's gradient), keeping the memory.
    pub fn fill_zero(&mut self) {
        self.tensors_mut().into_iter().for_each(|t| t.fill(0.0));
    }

    /// `sqrt(Σ x²)` over every tensor, accumulated in f64 (the gradient norm for clipping).
    pub fn global_norm(&self) -> f64 {
        // Σ g² in f64, in chunks of every tensor, all chunks in one parallel pass; the chunks'
        // sums are added in order, so the norm is the same on every run and thread count
        let chunks: Vec<&[f32]> = self
            .tensors()
            .into_iter()
            .flat_map(|t| t.chunks(CHUNK))
            .collect();
        let sums: Vec<f64> = chunks
            .par_iter()
            .map(|c| c.iter().map(|&v| v as f64 * v as f64).sum::<f64>())
            .collect();
        sums.iter().sum::<f64>().sqrt()
    }
}

/// One standard normal sample by Box–Muller: `sqrt(−2 ln u₁) · cos(2π u₂)`, u₁ ∈ (0, 1].
pub fn normal(rng: &mut Pcg32) -> f32 {
    let u1 = 1.0 - rng.next_f64(); // (0, 1]: ln never sees 0
    let u2 = rng.next_f64();
    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
}
