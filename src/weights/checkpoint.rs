//! # Stage 3 · a Llama checkpoint: every weight under its Hugging Face name, named once
//!
//! The loader *is* the structure (candle's `vb.pp("q_proj")` idea): `LayerWeights::load` and
//! [`LlamaWeights::load`] take each field under its Hugging Face name with the shape the config
//! gives it, so a tensor name is written once, here, and every check (is the tensor there, does
//! its shape fit) happens once, in [`TensorSource::take`]. Whatever the file, the model code
//! then sees the same struct, in Hugging Face names and Hugging Face row order:
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
//! neighbouring pairs (2i, 2i+1) instead of Hugging Face's (i, i + hd/2). We undo it at this
//! boundary, once ([`TensorSource::take_rope`]), with `rope::gguf_row_of_hf_row`: HF row `h` of a
//! head is GGUF row `2i + j` where `h = j·hd/2 + i`. The permutation never crosses heads.
//!
//! Gemma 3 has four norms per block and two more on the heads, under its own Hugging Face
//! names; its Q/K rows are stored unpermuted, and its GGUF norms hold `1 + w` where Hugging
//! Face stores `w` (`family.rs`). The struct keeps one field per role, so the block's pre-MLP
//! norm is `post_attention_layernorm` for both (Llama's name for it):
//!
//! ```text
//! GGUF (gemma3)                     Hugging Face (Gemma3ForCausalLM)                 field
//! blk.N.attn_norm.weight            model.layers.N.input_layernorm.weight            input_layernorm
//! blk.N.attn_q_norm.weight          model.layers.N.self_attn.q_norm.weight  [hd]     qk_norm.q
//! blk.N.attn_k_norm.weight          model.layers.N.self_attn.k_norm.weight  [hd]     qk_norm.k
//! blk.N.post_attention_norm.weight  model.layers.N.post_attention_layernorm.weight   sandwich.after_attention
//! blk.N.ffn_norm.weight             model.layers.N.pre_feedforward_layernorm.weight  post_attention_layernorm
//! blk.N.post_ffw_norm.weight        model.layers.N.post_feedforward_layernorm.weight sandwich.after_mlp
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::formats::gguf::GgufFile;
use crate::formats::safetensors::SafetensorsModel;
use crate::rope::gguf_row_of_hf_row;
use crate::weights::config::LlamaConfig;
use crate::weights::family::Family;
use crate::weights::tensor::WeightMatrix;
use crate::{Error, Result};

/// An RMSNorm weight: the tensor as stored (`[1, d]`), and the factors it scales by, decoded to
/// f32 once at load time, which is what the forward pass reads (for Gemma, `1 + w` of a
/// Hugging Face checkpoint's `w`).
#[derive(Debug)]
pub struct Norm {
    pub stored: WeightMatrix,
    pub weight: Vec<f32>, // [d]
}

/// The weights of one transformer block, named as in the Hugging Face checkpoint
/// (`model.layers.N.<name>`). Matrices are `[out, in]`.
#[derive(Debug)]
pub struct LayerWeights {
    pub input_layernorm: Norm,          // [d]
    pub q_proj: WeightMatrix,           // [n_heads·hd, d]
    pub k_proj: WeightMatrix,           // [n_kv·hd, d]
    pub v_proj: WeightMatrix,           // [n_kv·hd, d]
    pub o_proj: WeightMatrix,           // [d, n_heads·hd]
    pub post_attention_layernorm: Norm, // [d]
    pub gate_proj: WeightMatrix,        // [ffn, d]
    pub up_proj: WeightMatrix,          // [ffn, d]
    pub down_proj: WeightMatrix,        // [d, ffn]
    /// Gemma 3: RMSNorm over each query and each key head, before RoPE.
    pub qk_norm: Option<QkNorm>,
    /// Gemma 3: RMSNorm on each branch's output, before it is added to the residual stream.
    pub sandwich: Option<SandwichNorms>,
}

/// Gemma 3's QK-norm weights (`self_attn.q_norm`, `self_attn.k_norm`).
#[derive(Debug)]
pub struct QkNorm {
    pub q: Norm, // [hd]
    pub k: Norm, // [hd]
}

/// Gemma 3's norms after each branch (`post_attention_layernorm`, `post_feedforward_layernorm`).
#[derive(Debug)]
pub struct SandwichNorms {
    pub after_attention: Norm, // [d]
    pub after_mlp: Norm,       // [d]
}

/// Every weight of a Llama checkpoint.
#[derive(Debug)]
pub struct LlamaWeights {
    pub embed_tokens: WeightMatrix, // [vocab, d]
    pub layers: Vec<LayerWeights>,
    pub norm: Norm, // [d]
    /// The output head `[vocab, d]`; `None` when tied to `embed_tokens`.
    pub lm_head: Option<WeightMatrix>,
}

impl LayerWeights {
    /// Block `l`, every tensor under `model.layers.{l}.<field name>`.
    fn load(src: &mut TensorSource, c: &LlamaConfig, l: usize) -> Result<LayerWeights> {
        let (d, ffn, hd) = (c.hidden_size, c.intermediate_size, c.head_dim());
        let (q, kv) = (c.num_attention_heads * hd, c.kv_dim());
        let f = &c.family;
        let name = |field: &str| format!("model.layers.{l}.{field}");
        let mut norm = |field: &str, n: usize| src.take_norm(&name(field), n, f);
        let input_layernorm = norm("input_layernorm.weight", d)?;
        let qk_norm = match f.has_qk_norm() {
            true => Some(QkNorm {
                q: norm("self_attn.q_norm.weight", hd)?,
                k: norm("self_attn.k_norm.weight", hd)?,
            }),
            false => None,
        };
        // the norm before the MLP, and Gemma's norms after each branch
        let (pre_mlp, sandwich) = match f.has_sandwich_norms() {
            false => (norm("post_attention_layernorm.weight", d)?, None),
            true => {
                let after_attention = norm("post_attention_layernorm.weight", d)?;
                let pre_mlp = norm("pre_feedforward_layernorm.weight", d)?;
                let after_mlp = norm("post_feedforward_layernorm.weight", d)?;
                let sandwich = SandwichNorms {
                    after_attention,
                    after_mlp,
                };
                (pre_mlp, Some(sandwich))
            }
        };
        let mut qk = |field: &str, rows: usize| match f.gguf_qk_interleaved() {
            true => src.take_rope(&name(field), [rows, d], hd),
            false => src.take(&name(field), &[rows, d]),
        };
        let (q_proj, k_proj) = (
            qk("self_attn.q_proj.weight", q)?,
            qk("self_attn.k_proj.weight", kv)?,
        );
        Ok(LayerWeights {
            input_layernorm,
            q_proj,
            k_proj,
            v_proj: src.take(&name("self_attn.v_proj.weight"), &[kv, d])?,
            o_proj: src.take(&name("self_attn.o_proj.weight"), &[d, q])?,
            post_attention_layernorm: pre_mlp,
            gate_proj: src.take(&name("mlp.gate_proj.weight"), &[ffn, d])?,
            up_proj: src.take(&name("mlp.up_proj.weight"), &[ffn, d])?,
            down_proj: src.take(&name("mlp.down_proj.weight"), &[d, ffn])?,
            qk_norm,
            sandwich,
        })
    }

    /// The stored tensors of the block in checkpoint order (norms as stored): nine for Llama,
    /// thirteen for Gemma 3.
    pub fn tensors(&self) -> Vec<&WeightMatrix> {
        let mut t = vec![
            &self.input_layernorm.stored,
            &self.q_proj,
            &self.k_proj,
            &self.v_proj,
            &self.o_proj,
            &self.post_attention_layernorm.stored,
            &self.gate_proj,
            &self.up_proj,
            &self.down_proj,
        ];
        if let Some(n) = &self.qk_norm {
            t.extend([&n.q.stored, &n.k.stored]);
        }
        if let Some(n) = &self.sandwich {
            t.extend([&n.after_attention.stored, &n.after_mlp.stored]);
        }
        t
    }

    /// The seven weight matrices of the block, in forward-pass order (for counting bytes,
    /// listing stored types, and lessons).
    pub fn matrices(&self) -> [&WeightMatrix; 7] {
        [
            &self.q_proj,
            &self.k_proj,
            &self.v_proj,
            &self.o_proj,
            &self.gate_proj,
            &self.up_proj,
            &self.down_proj,
        ]
    }
}

impl LlamaWeights {
    /// Every weight the config calls for, from `src`, each checked on the way in.
    pub fn load(mut src: TensorSource, c: &LlamaConfig) -> Result<LlamaWeights> {
        let (d, vocab) = (c.hidden_size, c.vocab_size);
        src.check_layer_count(c.num_hidden_layers)?;
        let embed_tokens = src.take(EMBED_TOKENS, &[vocab, d])?;
        let layers = (0..c.num_hidden_layers)
            .map(|l| LayerWeights::load(&mut src, c, l))
            .collect::<Result<_>>()?;
        let norm = src.take_norm(FINAL_NORM, d, &c.family)?;
        let lm_head = match c.tie_word_embeddings {
            true => None,
            false => Some(src.take("lm_head.weight", &[vocab, d])?),
        };
        Ok(LlamaWeights {
            embed_tokens,
            layers,
            norm,
            lm_head,
        })
    }

    /// The output head: `lm_head`, or the embedding matrix when tied.
    pub fn head(&self) -> &WeightMatrix {
        self.lm_head.as_ref().unwrap_or(&self.embed_tokens)
    }

    /// Every stored tensor under its Hugging Face name (inspect, convert, tests).
    pub fn by_name(&self) -> BTreeMap<&str, &WeightMatrix> {
        let layers = self.layers.iter().flat_map(|l| l.tensors());
        std::iter::once(&self.embed_tokens)
            .chain(layers)
            .chain([&self.norm.stored])
            .chain(self.lm_head.as_ref())
            .map(|w| (w.name.as_str(), w))
            .collect()
    }

    /// Stored bytes of all weights.
    pub fn bytes(&self) -> usize {
        self.by_name().values().map(|w| w.bytes().len()).sum()
    }
}

/// A matrix's shape as the checkpoint writes it: `[n]` for a vector (one row), else
/// `[rows, cols]`.
pub fn hf_shape(w: &WeightMatrix) -> Vec<usize> {
    if w.rows == 1 {
        vec![w.cols]
    } else {
        vec![w.rows, w.cols]
    }
}

/// How errors name the source of [`TensorSource::Memory`].
pub const IN_MEMORY: &str = "<tensors in memory>";

/// Where the loader takes tensors from, by Hugging Face name.
pub enum TensorSource<'a> {
    /// A GGUF file: names translated to llama.cpp's ([`gguf_name_of`]), Q/K rows converted.
    Gguf(&'a GgufFile),
    /// A Hugging Face checkpoint: one safetensors file or shards.
    Safetensors(&'a SafetensorsModel),
    /// Tensors already in memory under Hugging Face names (tests build small random models).
    Memory(BTreeMap<String, WeightMatrix>),
}

impl TensorSource<'_> {
    /// A layer count is only a number in the config, but every layer needs tensors of its own
    /// (9 of them), so a file cannot have more layers than tensors. Checked before anything is
    /// built per layer: a `block_count` of 2³¹ is refused here, by name. (A count just a little
    /// too large is left to the loader, which names the first missing tensor.)
    fn check_layer_count(&self, layers: usize) -> Result<()> {
        let (file, field, tensors) = match self {
            TensorSource::Gguf(g) => (g.path.clone(), "llama.block_count", g.tensors.len()),
            TensorSource::Safetensors(st) => (
                st.first_file().to_path_buf(),
                "num_hidden_layers",
                st.names().count(),
            ),
            TensorSource::Memory(m) => (PathBuf::from(IN_MEMORY), "num_hidden_layers", m.len()),
        };
        if layers > tensors {
            let per_layer = GGUF_LAYER_NAMES.len();
            return Err(Error::format(
                file,
                format!(
                    "`{field}` = {layers} layers would need {per_layer} tensors each, but the file holds {tensors} tensors"
                ),
            ));
        }
        Ok(())
    }

    /// Tensor `name` (a Hugging Face name) with shape `shape` (`[n]` for a vector), or an error
    /// naming the file and the tensor as the file calls it.
    pub fn take(&mut self, name: &str, shape: &[usize]) -> Result<WeightMatrix> {
        let (file, stored_name, mut w) = match self {
            TensorSource::Gguf(g) => {
                let gname = gguf_name_in(name, g.architecture().unwrap_or("llama"))
                    .ok_or_else(|| Error::invalid(format!("no GGUF name for `{name}`")))?;
                if g.tensor_info(&gname).is_none() {
                    return Err(Error::MissingTensor {
                        file: g.path.clone(),
                        name: gname,
                        hf_name: Some(name.to_string()),
                    });
                }
                let w = WeightMatrix::from_gguf(g, &gname)?;
                (g.path.clone(), gname, w)
            }
            TensorSource::Safetensors(st) => {
                let w = WeightMatrix::from_safetensors(st, name)?;
                let file = st
                    .tensor(name)
                    .map(|t| t.file.path.clone())
                    .unwrap_or_default();
                (file, name.to_string(), w)
            }
            TensorSource::Memory(map) => {
                let w = map
                    .remove(name)
                    .ok_or_else(|| Error::missing_tensor(IN_MEMORY, name))?;
                (PathBuf::from(IN_MEMORY), name.to_string(), w)
            }
        };
        let found = hf_shape(&w);
        if found != shape {
            return Err(Error::Shape {
                file,
                name: stored_name,
                expected: shape.to_vec(),
                found,
            });
        }
        w.name = name.to_string();
        Ok(w)
    }

    /// [`Self::take`] for Q and K: from a GGUF, each head's rows are put back from llama.cpp's
    /// interleaved RoPE order into Hugging Face's half-split order.
    pub fn take_rope(
        &mut self,
        name: &str,
        shape: [usize; 2],
        head_dim: usize,
    ) -> Result<WeightMatrix> {
        let w = self.take(name, &shape)?;
        Ok(match self {
            // ANCHOR: qk_permute
            TensorSource::Gguf(_) => {
                // new row h (HF order) = stored row gguf_row_of_hf_row(h) (GGUF order)
                let permuted = w.permute_rows(|h| gguf_row_of_hf_row(h, head_dim));
                w.release_mapped_pages(); // the file's copy is never read again
                permuted
            }
            // ANCHOR_END: qk_permute
            _ => w,
        })
    }

    // ANCHOR: take_norm
    /// A norm weight `[d]`, decoded to f32 once, as the factors the forward pass multiplies by:
    /// a Hugging Face `w` of a family whose norms scale by `1 + w` (Gemma) gets its 1 added here;
    /// a GGUF already stores `1 + w` (llama.cpp's converter adds it).
    pub fn take_norm(&mut self, name: &str, d: usize, family: &Family) -> Result<Norm> {
        let stored = self.take(name, &[d])?;
        let mut weight = vec![0.0f32; d];
        stored.dequantize_row(0, &mut weight);
        let offset = family.norm_weight_offset();
        if offset != 0.0 && !matches!(self, TensorSource::Gguf(_)) {
            weight.iter_mut().for_each(|w| *w += offset);
        }
        Ok(Norm { stored, weight })
    }
    // ANCHOR_END: take_norm
}

/// The embedding matrix's Hugging Face name (also the output head when tied).
pub const EMBED_TOKENS: &str = "model.embed_tokens.weight";
/// The final RMSNorm's Hugging Face name.
pub const FINAL_NORM: &str = "model.norm.weight";

/// The per-layer parts: Hugging Face name after `model.layers.N.`, and llama.cpp's after `blk.N.`,
/// in the order of [`LayerWeights::tensors`] (the trainer's parameters follow it too).
pub const GGUF_LAYER_NAMES: [(&str, &str); 9] = [
    ("input_layernorm.weight", "attn_norm.weight"),
    ("self_attn.q_proj.weight", "attn_q.weight"),
    ("self_attn.k_proj.weight", "attn_k.weight"),
    ("self_attn.v_proj.weight", "attn_v.weight"),
    ("self_attn.o_proj.weight", "attn_output.weight"),
    ("post_attention_layernorm.weight", "ffn_norm.weight"),
    ("mlp.gate_proj.weight", "ffn_gate.weight"),
    ("mlp.up_proj.weight", "ffn_up.weight"),
    ("mlp.down_proj.weight", "ffn_down.weight"),
];

/// Gemma 3's per-layer parts that differ from [`GGUF_LAYER_NAMES`] (the rest are the same).
const GEMMA3_LAYER_NAMES: [(&str, &str); 5] = [
    ("self_attn.q_norm.weight", "attn_q_norm.weight"),
    ("self_attn.k_norm.weight", "attn_k_norm.weight"),
    (
        "post_attention_layernorm.weight",
        "post_attention_norm.weight",
    ),
    ("pre_feedforward_layernorm.weight", "ffn_norm.weight"),
    ("post_feedforward_layernorm.weight", "post_ffw_norm.weight"),
];

/// The GGUF name of a Hugging Face tensor name in a file of architecture `arch`.
pub fn gguf_name_in(hf: &str, arch: &str) -> Option<String> {
    if arch == "gemma3" {
        if let Some((n, part)) = hf
            .strip_prefix("model.layers.")
            .and_then(|r| r.split_once('.'))
        {
            if let Some((_, gguf)) = GEMMA3_LAYER_NAMES.iter().find(|(h, _)| *h == part) {
                return Some(format!("blk.{}.{gguf}", n.parse::<usize>().ok()?));
            }
        }
    }
    gguf_name_of(hf)
}

/// The GGUF (llama.cpp) name of a Hugging Face tensor name, per the table in the module docs.
pub fn gguf_name_of(hf: &str) -> Option<String> {
    match hf {
        EMBED_TOKENS => return Some("token_embd.weight".into()),
        FINAL_NORM => return Some("output_norm.weight".into()),
        "lm_head.weight" => return Some("output.weight".into()),
        _ => {}
    }
    let (n, part) = hf.strip_prefix("model.layers.")?.split_once('.')?;
    let n: usize = n.parse().ok()?;
    let (_, gguf) = GGUF_LAYER_NAMES.iter().find(|(h, _)| *h == part)?;
    Some(format!("blk.{n}.{gguf}"))
}
