//! TEMPORARY home of the bidirectional attention until the structure pass lands; it moves
//! beside the causal kernel in `src/attention.rs`.

use crate::attention::AttentionShape;
use crate::matmul::matmul_simd;
use crate::softmax::{softmax_inplace, softmax_naive};

/// Bidirectional attention over one sequence: every query sees every key.
/// `q, out: [seq, n_heads·hd]`, `k, v: [seq, n_kv·hd]`.
pub fn attention_bidirectional(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    s: &AttentionShape,
    out: &mut [f32],
) {
    let (nh, hd, kv_dim, group) = (s.n_heads, s.head_dim, s.kv_dim(), s.group());
    let seq = q.len() / s.q_dim();
    let scale = 1.0 / (hd as f32).sqrt();
    let mut qh = vec![0.0f32; seq * hd];
    let mut kh = vec![0.0f32; seq * hd];
    let mut vt = vec![0.0f32; hd * seq];
    let mut p = vec![0.0f32; seq * seq];
    let mut o = vec![0.0f32; seq * hd];
    for h in 0..nh {
        let g = h / group;
        for t in 0..seq {
            qh[t * hd..][..hd].copy_from_slice(&q[t * nh * hd + h * hd..][..hd]);
            kh[t * hd..][..hd].copy_from_slice(&k[t * kv_dim + g * hd..][..hd]);
            for d in 0..hd {
                vt[d * seq + t] = v[t * kv_dim + g * hd + d];
            }
        }
        matmul_simd(&qh, &kh, &mut p, seq, hd, seq);
        for row in p.chunks_exact_mut(seq) {
            row.iter_mut().for_each(|x| *x *= scale);
            softmax_inplace(row);
        }
        matmul_simd(&p, &vt, &mut o, seq, seq, hd);
        for t in 0..seq {
            out[t * nh * hd + h * hd..][..hd].copy_from_slice(&o[t * hd..][..hd]);
        }
    }
}

/// The reference: one head, one row at a time, no mask.
pub fn attention_bidirectional_naive(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    s: &AttentionShape,
    out: &mut [f32],
) {
    let (nh, hd, kv_dim, group) = (s.n_heads, s.head_dim, s.kv_dim(), s.group());
    let seq = q.len() / s.q_dim();
    let scale = 1.0 / (hd as f32).sqrt();
    for h in 0..nh {
        let g = h / group;
        for t in 0..seq {
            let scores: Vec<f32> = (0..seq)
                .map(|j| {
                    let mut acc = 0.0f32;
                    for d in 0..hd {
                        acc += q[t * nh * hd + h * hd + d] * k[j * kv_dim + g * hd + d];
                    }
                    acc * scale
                })
                .collect();
            let p = softmax_naive(&scores);
            for d in 0..hd {
                let mut acc = 0.0f32;
                for j in 0..seq {
                    acc += p[j] * v[j * kv_dim + g * hd + d];
                }
                out[t * nh * hd + h * hd + d] = acc;
            }
        }
    }
}
