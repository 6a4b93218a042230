//! Stage 3 (encoder) · BERT the way PyTorch batches it: the yardstick for [`Bert::embed_ids`].
//!
//! The batch is padded to a rectangle with `[PAD]` and an attention mask says which positions
//! are real:
//!
//! ```text
//! ids  = [[CLS] the cat [SEP]  [PAD] [PAD]]      mask = [1 1 1 1 0 0]
//!        [[CLS] a   big dog  sat   [SEP]]               [1 1 1 1 1 1]
//! scores[t][j] += 0 if mask[j] else −∞    (a query never looks at padding)
//! pooled = Σ_t mask[t]·x[t] / Σ_t mask[t] (padding rows are computed, then thrown away)
//! ```
//!
//! Every weight is decoded to f32, every product is `matmul_naive`, LayerNorm and GELU are the
//! f64 references, attention is one head and one row at a time with the additive mask. The
//! padded rows of a short sentence are garbage that never reaches a result: the test that the
//! fast, packed path (no padding at all) agrees with this one is the test that padding does not
//! change an embedding.

use crate::gelu::gelu_naive;
use crate::layernorm::layernorm_naive;
use crate::matmul::matmul_naive;
use crate::model::bert::{l2_normalize, Bert, LayerNormWeights, Linear};
use crate::model::bert_config::Pooling;
use crate::model::reference::dequantize;
use crate::softmax::softmax_naive;
use crate::Result;

/// `x · Wᵀ + b` with the weight decoded to f32: `x: [rows, in]` → `[rows, out]`.
fn linear(x: &[f32], l: &Linear, rows: usize) -> Vec<f32> {
    let (out_f, in_f) = (l.weight.rows, l.weight.cols);
    let mut y = vec![0.0f32; rows * out_f];
    matmul_naive(x, &dequantize(&l.weight), &mut y, rows, in_f, out_f);
    for r in y.chunks_exact_mut(out_f) {
        r.iter_mut().zip(&l.bias).for_each(|(a, &b)| *a += b);
    }
    y
}

fn norm_rows(x: &mut [f32], n: &LayerNormWeights, eps: f32) {
    let d = n.weight.len();
    let mut row = vec![0.0f32; d];
    for xr in x.chunks_exact_mut(d) {
        layernorm_naive(xr, &n.weight, &n.bias, eps, &mut row);
        xr.copy_from_slice(&row);
    }
}

// ANCHOR: embed_padded
/// Sentence vectors for a batch, computed on a padded `[batch, max_len, d]` rectangle.
pub fn embed_ids_padded(m: &Bert, batch: &[Vec<u32>]) -> Result<Vec<Vec<f32>>> {
    let c = &m.config;
    let (d, nh, hd, eps) = (
        c.hidden_size,
        c.num_attention_heads,
        c.head_dim(),
        c.layer_norm_eps,
    );
    let (b, len) = (batch.len(), batch.iter().map(Vec::len).max().unwrap_or(0));
    let rows = b * len;
    // mask: [batch, len], 1 for a real token, 0 for padding
    let mask: Vec<bool> = (0..rows).map(|i| i % len < batch[i / len].len()).collect();
    let pad = m.tokenizer.pad_id();
    let word = dequantize(&m.word_embeddings);
    let pos = dequantize(&m.position_embeddings);
    let typ = dequantize(&m.token_type_embeddings);
    let mut x = vec![0.0f32; rows * d]; // x: [batch·len, d]
    for i in 0..rows {
        let (s, t) = (i / len, i % len);
        let id = batch[s].get(t).copied().unwrap_or(pad) as usize;
        for j in 0..d {
            x[i * d + j] = word[id * d + j] + pos[t * d + j] + typ[j];
        }
    }
    norm_rows(&mut x, &m.embeddings_norm, eps);
    let scale = 1.0 / (hd as f32).sqrt();
    for w in &m.layers {
        let (q, k, v) = (
            linear(&x, &w.query, rows),
            linear(&x, &w.key, rows),
            linear(&x, &w.value, rows),
        );
        let mut a = vec![0.0f32; rows * d];
        for s in 0..b {
            for h in 0..nh {
                for t in 0..len {
                    let i = s * len + t;
                    let scores: Vec<f32> = (0..len)
                        .map(|j| {
                            let jj = s * len + j;
                            if !mask[jj] {
                                return f32::NEG_INFINITY; // padding is never attended to
                            }
                            let dot: f32 = (0..hd)
                                .map(|e| q[i * d + h * hd + e] * k[jj * d + h * hd + e])
                                .sum();
                            dot * scale
                        })
                        .collect();
                    let p = softmax_naive(&scores);
                    for e in 0..hd {
                        a[i * d + h * hd + e] = (0..len)
                            .map(|j| p[j] * v[(s * len + j) * d + h * hd + e])
                            .sum();
                    }
                }
            }
        }
        let o = linear(&a, &w.attention_output, rows);
        x.iter_mut().zip(&o).for_each(|(xi, &oi)| *xi += oi);
        norm_rows(&mut x, &w.attention_norm, eps);
        let mut hmid = linear(&x, &w.intermediate, rows);
        hmid.iter_mut().for_each(|z| *z = gelu_naive(*z));
        let o = linear(&hmid, &w.output, rows);
        x.iter_mut().zip(&o).for_each(|(xi, &oi)| *xi += oi);
        norm_rows(&mut x, &w.output_norm, eps);
    }
    // pooling over the mask, then the optional normalisation
    let mut out = Vec::with_capacity(b);
    for s in 0..b {
        let mut v = vec![0.0f32; d];
        match m.sentence.pooling {
            Pooling::Mean => {
                let n = (0..len).filter(|&t| mask[s * len + t]).count().max(1) as f32;
                for t in (0..len).filter(|&t| mask[s * len + t]) {
                    v.iter_mut()
                        .zip(&x[(s * len + t) * d..][..d])
                        .for_each(|(a, &xi)| *a += xi);
                }
                v.iter_mut().for_each(|a| *a /= n);
            }
            Pooling::Cls => v.copy_from_slice(&x[s * len * d..][..d]),
        }
        if m.sentence.normalize {
            l2_normalize(&mut v);
        }
        out.push(v);
    }
    Ok(out)
}
// ANCHOR_END: embed_padded
