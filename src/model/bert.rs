//! Stage 3 (encoder) · BERT: the same attention, matmul and softmax as the Llama decoder, with
//! what an encoder changes.
//!
//! ```text
//! ids: [seq] ─▶ x = word[id] + position[t] + token_type[0] ─▶ LayerNorm     x: [seq, d]
//!   for each of the N layers (post-norm: the norm comes after each residual add):
//!     q, k, v = x·W_qᵀ + b_q, x·W_kᵀ + b_k, x·W_vᵀ + b_v                    [seq, d] each
//!     a = softmax(q·kᵀ/√hd) · v        no causal mask: every token sees every token
//!     x = LayerNorm(x + a·W_oᵀ + b_o)
//!     x = LayerNorm(x + gelu(x·W_1ᵀ + b_1)·W_2ᵀ + b_2)                     (FFN 4·d wide)
//! sentence = mean_t x[t]  ─▶  sentence / ‖sentence‖                        [d]
//! ```
//!
//! Llama (chapter 7) vs BERT, the whole difference: causal mask → none; RMSNorm before each
//! branch → LayerNorm (with bias) after each residual add; RoPE inside attention → learned
//! absolute positions added once at the bottom (so at most `max_position_embeddings` tokens);
//! SwiGLU → GELU; biases on every linear layer; and at the end, no next-token head but a
//! pooled, normalised sentence vector.
//!
//! **A batch is packed, not padded.** PyTorch pads every sentence of a batch to the longest
//! and masks the padding out of attention and pooling. Here the batch's tokens are stacked into
//! one `[total_tokens, d]` matrix: every linear layer is one GEMM over all of them, and attention
//! runs per sentence over its own rows. No padding is ever computed, so none can leak into a
//! result; `model/bert_reference.rs` does it PyTorch's way, and tests check both agree.
//!
//! Reference: Devlin et al., "BERT" (2018); `transformers.models.bert.modeling_bert`
//! (`BertEmbeddings`, `BertLayer`); sentence-transformers `Pooling`, `Normalize`.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::attention::{attention_bidirectional, AttentionShape};
use crate::formats::safetensors::SafetensorsModel;
use crate::gelu::gelu_inplace;
use crate::layernorm::layernorm_rows_inplace;

use crate::model::bert_config::{BertConfig, Pooling, SentenceConfig};
use crate::tokenizer::wordpiece::WordPiece;
use crate::weights::checkpoint::TensorSource;
use crate::weights::tensor::WeightMatrix;
use crate::{Error, Result};

/// `y = x · Wᵀ + b`: a weight `[out, in]` in its stored type and an f32 bias `[out]`.
#[derive(Debug)]
pub struct Linear {
    pub weight: WeightMatrix,
    pub bias: Vec<f32>,
}

impl Linear {
    /// `x: [seq, in]` → `out: [seq, out]`.
    pub fn forward(&self, x: &[f32], seq: usize, out: &mut [f32]) {
        self.weight.matmul(x, seq, out);
        for row in out.chunks_exact_mut(self.bias.len()) {
            for (o, &b) in row.iter_mut().zip(&self.bias) {
                *o += b;
            }
        }
    }
}

/// LayerNorm's weight and bias, `[d]` each.
#[derive(Debug)]
pub struct LayerNormWeights {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

/// One encoder layer, named as in the checkpoint (`encoder.layer.N.<name>`).
#[derive(Debug)]
pub struct BertLayer {
    pub query: Linear,                    // attention.self.query        [d, d]
    pub key: Linear,                      // attention.self.key          [d, d]
    pub value: Linear,                    // attention.self.value        [d, d]
    pub attention_output: Linear,         // attention.output.dense      [d, d]
    pub attention_norm: LayerNormWeights, // attention.output.LayerNorm
    pub intermediate: Linear,             // intermediate.dense          [ffn, d]
    pub output: Linear,                   // output.dense                [d, ffn]
    pub output_norm: LayerNormWeights,    // output.LayerNorm
}

/// A BERT sentence encoder: weights, tokenizer and the sentence-transformers pipeline.
pub struct Bert {
    pub config: BertConfig,
    pub sentence: SentenceConfig,
    /// The directory it came from.
    pub path: PathBuf,
    pub tokenizer: WordPiece,
    pub word_embeddings: WeightMatrix,       // [vocab, d]
    pub position_embeddings: WeightMatrix,   // [max_positions, d]
    pub token_type_embeddings: WeightMatrix, // [types, d]
    pub embeddings_norm: LayerNormWeights,
    pub layers: Vec<BertLayer>,
}

// ANCHOR: load
/// The checkpoint's tensors, taken by name with their shape checked (`prefix` is `""` or
/// `"bert."`, as a `BertFor…` checkpoint stores its encoder).
struct Tensors<'a> {
    src: TensorSource<'a>,
    prefix: &'static str,
}

impl Tensors<'_> {
    fn matrix(&mut self, name: &str, rows: usize, cols: usize) -> Result<WeightMatrix> {
        // a one-row matrix is written as a vector in the checkpoint
        let shape = if rows == 1 {
            vec![cols]
        } else {
            vec![rows, cols]
        };
        self.src.take(&format!("{}{name}", self.prefix), &shape)
    }

    fn vector(&mut self, name: &str, d: usize) -> Result<Vec<f32>> {
        let w = self.matrix(name, 1, d)?;
        let mut v = vec![0.0f32; d];
        w.dequantize_row(0, &mut v);
        Ok(v)
    }

    fn linear(&mut self, name: &str, out: usize, inp: usize) -> Result<Linear> {
        Ok(Linear {
            weight: self.matrix(&format!("{name}.weight"), out, inp)?,
            bias: self.vector(&format!("{name}.bias"), out)?,
        })
    }

    fn norm(&mut self, name: &str, d: usize) -> Result<LayerNormWeights> {
        Ok(LayerNormWeights {
            weight: self.vector(&format!("{name}.weight"), d)?,
            bias: self.vector(&format!("{name}.bias"), d)?,
        })
    }
}

impl Bert {
    /// Load a sentence-transformers directory (config.json, model.safetensors, tokenizer.json,
    /// modules.json, the pooling config). Every tensor's shape is checked against the config.
    pub fn load(dir: impl AsRef<Path>) -> Result<Bert> {
        let dir = dir.as_ref();
        let config = BertConfig::from_file(&dir.join("config.json"))?;
        let sentence = SentenceConfig::from_dir(dir, config.max_position_embeddings)?;
        let tokenizer = WordPiece::from_file(&dir.join("tokenizer.json"))?;
        if tokenizer.vocab_size() > config.vocab_size {
            return Err(Error::format(
                dir.join("tokenizer.json"),
                format!(
                    "{} tokens, but the model's vocabulary has {}: they do not belong together",
                    tokenizer.vocab_size(),
                    config.vocab_size
                ),
            ));
        }
        let st = SafetensorsModel::open(dir)?;
        let prefix = match st.tensor("embeddings.word_embeddings.weight") {
            Some(_) => "",
            None => "bert.",
        };
        let mut t = Tensors {
            src: TensorSource::Safetensors(&st),
            prefix,
        };
        let c = &config;
        let (d, ffn) = (c.hidden_size, c.intermediate_size);
        let mut layers = Vec::with_capacity(c.num_hidden_layers);
        for l in 0..c.num_hidden_layers {
            let p = format!("encoder.layer.{l}");
            layers.push(BertLayer {
                query: t.linear(&format!("{p}.attention.self.query"), d, d)?,
                key: t.linear(&format!("{p}.attention.self.key"), d, d)?,
                value: t.linear(&format!("{p}.attention.self.value"), d, d)?,
                attention_output: t.linear(&format!("{p}.attention.output.dense"), d, d)?,
                attention_norm: t.norm(&format!("{p}.attention.output.LayerNorm"), d)?,
                intermediate: t.linear(&format!("{p}.intermediate.dense"), ffn, d)?,
                output: t.linear(&format!("{p}.output.dense"), d, ffn)?,
                output_norm: t.norm(&format!("{p}.output.LayerNorm"), d)?,
            });
        }
        Ok(Bert {
            word_embeddings: t.matrix("embeddings.word_embeddings.weight", c.vocab_size, d)?,
            position_embeddings: t.matrix(
                "embeddings.position_embeddings.weight",
                c.max_position_embeddings,
                d,
            )?,
            token_type_embeddings: t.matrix(
                "embeddings.token_type_embeddings.weight",
                c.type_vocab_size,
                d,
            )?,
            embeddings_norm: t.norm("embeddings.LayerNorm", d)?,
            layers,
            tokenizer,
            sentence,
            config,
            path: dir.to_path_buf(),
        })
    }
    // ANCHOR_END: load

    /// The length of a sentence vector (384 for MiniLM).
    pub fn dim(&self) -> usize {
        self.config.hidden_size
    }

    /// The longest input in tokens, `[CLS]` and `[SEP]` included (256 for MiniLM).
    pub fn max_len(&self) -> usize {
        self.sentence.max_seq_length
    }

    pub fn attention_shape(&self) -> AttentionShape {
        let c = &self.config;
        AttentionShape {
            n_heads: c.num_attention_heads,
            n_kv_heads: c.num_attention_heads,
            head_dim: c.head_dim(),
        }
    }

    /// Text → model input ids, `[CLS] … [SEP]`, truncated to [`Bert::max_len`].
    pub fn encode(&self, text: &str) -> Vec<u32> {
        self.tokenizer.encode(text, self.max_len())
    }

    // ANCHOR: embed
    /// Sentence vectors for a batch of texts, `[texts.len()][dim]` (length 1 when the model
    /// normalises). Inputs past [`Bert::max_len`] tokens are truncated, as sentence-transformers
    /// does; check with `tokenizer.tokenize(text).len() + 2` first to refuse them instead.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let ids: Vec<Vec<u32>> = texts.iter().map(|t| self.encode(t)).collect();
        self.embed_ids(&ids)
    }

    /// Sentence vectors for already-tokenized inputs (each `[CLS] … [SEP]`).
    pub fn embed_ids(&self, batch: &[Vec<u32>]) -> Result<Vec<Vec<f32>>> {
        let hidden = self.forward(batch)?; // [total_tokens, d]
        let d = self.dim();
        let mut out = Vec::with_capacity(batch.len());
        let mut row = 0;
        for ids in batch {
            let x = &hidden[row * d..(row + ids.len()) * d]; // this sentence's rows
            row += ids.len();
            let mut v = match self.sentence.pooling {
                // mean over the tokens: Σ_t x[t] / seq (every token is real: nothing is padded)
                Pooling::Mean => {
                    let mut v = vec![0.0f32; d];
                    for xt in x.chunks_exact(d) {
                        v.iter_mut().zip(xt).for_each(|(a, &b)| *a += b);
                    }
                    let n = ids.len().max(1) as f32;
                    v.iter_mut().for_each(|a| *a /= n);
                    v
                }
                Pooling::Cls => x[..d].to_vec(),
            };
            if self.sentence.normalize {
                l2_normalize(&mut v);
            }
            out.push(v);
        }
        Ok(out)
    }
    // ANCHOR_END: embed

    // ANCHOR: forward
    /// The encoder's last hidden state for a packed batch: `[Σ len, d]`, sentence after sentence.
    /// Each input must be non-empty, at most `max_position_embeddings` long, with ids in the
    /// vocabulary; a bad one is refused before any work, naming it.
    pub fn forward(&self, batch: &[Vec<u32>]) -> Result<Vec<f32>> {
        let c = &self.config;
        for (i, ids) in batch.iter().enumerate() {
            if ids.is_empty() || ids.len() > c.max_position_embeddings {
                return Err(Error::invalid(format!(
                    "input {i} has {} tokens; the encoder takes 1 to {}",
                    ids.len(),
                    c.max_position_embeddings
                )));
            }
            if let Some(&id) = ids.iter().find(|&&id| id as usize >= c.vocab_size) {
                return Err(Error::invalid(format!(
                    "input {i}: token id {id} is outside the vocabulary (size {})",
                    c.vocab_size
                )));
            }
        }
        let (d, ffn, eps) = (c.hidden_size, c.intermediate_size, c.layer_norm_eps);
        let lens: Vec<usize> = batch.iter().map(Vec::len).collect();
        let total: usize = lens.iter().sum();
        let mut x = vec![0.0f32; total * d]; //      x: [total, d]   the residual stream
        let mut q = vec![0.0f32; total * d]; //      q, k, v: [total, d]
        let mut k = vec![0.0f32; total * d];
        let mut v = vec![0.0f32; total * d];
        let mut att = vec![0.0f32; total * d]; //    att: [total, d]  attention, then a branch's output
        let mut h = vec![0.0f32; total * ffn]; //    h: [total, ffn]

        // Embeddings: word + absolute position + token type 0, then LayerNorm.
        let mut tmp = vec![0.0f32; d];
        let mut rows = x.chunks_exact_mut(d);
        for ids in batch {
            for (t, (&id, row)) in ids.iter().zip(&mut rows).enumerate() {
                self.word_embeddings.dequantize_row(id as usize, row);
                for (table, r) in [
                    (&self.position_embeddings, t),
                    (&self.token_type_embeddings, 0),
                ] {
                    table.dequantize_row(r, &mut tmp);
                    row.iter_mut().zip(&tmp).for_each(|(a, &b)| *a += b);
                }
            }
        }
        let n = &self.embeddings_norm;
        layernorm_rows_inplace(&mut x, &n.weight, &n.bias, eps);

        let shape = self.attention_shape();
        for w in &self.layers {
            // ---- attention branch: x = LayerNorm(x + (attention(q, k, v))·W_oᵀ + b_o)
            w.query.forward(&x, total, &mut q);
            w.key.forward(&x, total, &mut k);
            w.value.forward(&x, total, &mut v);
            per_sentence(&lens, d, &mut att)
                .into_par_iter()
                .for_each(|(r, out)| {
                    let r = r * d..(r + out.len() / d) * d;
                    attention_bidirectional(&q[r.clone()], &k[r.clone()], &v[r], &shape, out);
                });
            w.attention_output.forward(&att, total, &mut q); // q is free again: reuse it
            add_assign(&mut x, &q);
            layernorm_rows_inplace(
                &mut x,
                &w.attention_norm.weight,
                &w.attention_norm.bias,
                eps,
            );

            // ---- feed-forward branch: x = LayerNorm(x + gelu(x·W_1ᵀ + b_1)·W_2ᵀ + b_2)
            w.intermediate.forward(&x, total, &mut h);
            gelu_inplace(&mut h);
            w.output.forward(&h, total, &mut att);
            add_assign(&mut x, &att);
            layernorm_rows_inplace(&mut x, &w.output_norm.weight, &w.output_norm.bias, eps);
        }
        Ok(x)
    }
    // ANCHOR_END: forward
}

/// Cut `buf: [total, d]` into each sentence's rows: `(first row, &mut rows)` per sentence.
fn per_sentence<'a>(lens: &[usize], d: usize, buf: &'a mut [f32]) -> Vec<(usize, &'a mut [f32])> {
    let mut out = Vec::with_capacity(lens.len());
    let (mut rest, mut row) = (buf, 0);
    for &n in lens {
        let (head, tail) = rest.split_at_mut(n * d);
        out.push((row, head));
        (rest, row) = (tail, row + n);
    }
    out
}

/// `x += y`, element-wise (a residual connection).
fn add_assign(x: &mut [f32], y: &[f32]) {
    x.iter_mut().zip(y).for_each(|(a, &b)| *a += b);
}

/// `v ← v / max(‖v‖, 1e-12)` (PyTorch's `F.normalize`, which sentence-transformers' Normalize
/// calls): afterwards cosine similarity is a dot product.
pub fn l2_normalize(v: &mut [f32]) {
    let norm = v
        .iter()
        .map(|&a| (a as f64) * (a as f64))
        .sum::<f64>()
        .sqrt();
    let inv = 1.0 / norm.max(1e-12);
    v.iter_mut().for_each(|a| *a = (*a as f64 * inv) as f32);
}

/// Cosine similarity `a·b / (‖a‖·‖b‖)` (0 when either is all zeros).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        ab += x as f64 * y as f64;
        aa += x as f64 * x as f64;
        bb += y as f64 * y as f64;
    }
    if aa == 0.0 || bb == 0.0 {
        return 0.0;
    }
    (ab / (aa.sqrt() * bb.sqrt())) as f32
}
