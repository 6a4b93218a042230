//! Stage 8 · one training step's forward (saving what the backward needs) and backward,
//! through the whole model, for a batch of `batch` sequences of `seq` tokens (`n = batch·seq`).
//!
//! ```text
//! forward                                       saved on the tape (per layer)
//! x = embed[ids]                                [n, d]
//! for each layer:                               x_in
//!   xn1 = rmsnorm(x)                            xn1
//!   q, k, v = xn1·Wqᵀ, xn1·Wkᵀ, xn1·Wvᵀ;  rope(q, k)   q, k, v (rotated)
//!   att = attention(q, k, v) (causal, GQA)      att, probs [batch, heads, seq, seq]
//!   x = x + att·Woᵀ                             x_mid
//!   xn2 = rmsnorm(x)                            xn2
//!   h = silu(xn2·Wgᵀ) ⊙ (xn2·Wuᵀ)                gate, up, h
//!   x = x + h·Wdᵀ
//! xf = rmsnorm(x);  logits = xf·Eᵀ (tied head)  x_final, xf;  logits [n, vocab]
//! loss = cross_entropy(logits, targets)
//! ```
//!
//! The backward walks the same list upside down. A residual `x = x + f(x)` passes its gradient
//! through unchanged and adds the branch's: `dx_in = dx_out + f'(x)ᵀ dx_out`, which is why
//! every module's backward here *adds* into `dx`. The tied head and the embedding lookup both
//! add into the one embedding gradient.

use std::time::Instant;

use rayon::prelude::*;

use crate::attention::AttentionShape;
use crate::rmsnorm::rmsnorm_rows;
use crate::rope::{RopeLayout, RopeTable};
use crate::swiglu::swiglu;
use crate::train::attention::{attention_backward, attention_forward};
use crate::train::linear::{linear, linear_backward};
use crate::train::loss::cross_entropy;
use crate::train::norm::rmsnorm_backward;
use crate::train::params::{Params, CHUNK};
use crate::train::rope::rope_backward_rows;
use crate::weights::config::LlamaConfig;

/// `batch` token windows: `inputs[b·seq + t]` is followed by `targets[b·seq + t]` in the text.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub inputs: Vec<u32>,  // [batch, seq]
    pub targets: Vec<u32>, // [batch, seq]
    pub batch: usize,
    pub seq: usize,
}

/// What one layer's backward reads, saved by the forward. All `[n, width]` except `probs`.
struct LayerTape {
    x_in: Vec<f32>,  // [n, d]      the residual stream entering the layer
    xn1: Vec<f32>,   // [n, d]
    q: Vec<f32>,     // [n, heads·hd] rotated
    k: Vec<f32>,     // [n, kv·hd]    rotated
    v: Vec<f32>,     // [n, kv·hd]
    att: Vec<f32>,   // [n, heads·hd]
    probs: Vec<f32>, // [batch, heads, seq, seq]
    x_mid: Vec<f32>, // [n, d]      after the attention residual
    xn2: Vec<f32>,   // [n, d]
    gate: Vec<f32>,  // [n, ffn]
    up: Vec<f32>,    // [n, ffn]
    h: Vec<f32>,     // [n, ffn]    silu(gate) ⊙ up
}

/// Every activation the backward needs, from one forward.
pub struct Tape {
    layers: Vec<LayerTape>,
    x_final: Vec<f32>, // [n, d] before the final norm
    xf: Vec<f32>,      // [n, d] after it
    inputs: Vec<u32>,
    batch: usize,
    seq: usize,
}

impl Tape {
    /// Bytes of saved activations (the logits, `[n, vocab]`, are counted by the caller).
    pub fn bytes(&self) -> usize {
        let layer = |l: &LayerTape| {
            [&l.x_in, &l.xn1, &l.q, &l.k, &l.v, &l.att, &l.probs]
                .into_iter()
                .chain([&l.x_mid, &l.xn2, &l.gate, &l.up, &l.h])
                .map(|v| v.len())
                .sum::<usize>()
        };
        let floats: usize = self.layers.iter().map(layer).sum::<usize>() + 2 * self.xf.len();
        floats * 4
    }
}

/// Where the time of a step went, and how much memory its activations took.
#[derive(Clone, Copy, Debug, Default)]
pub struct StepCost {
    pub forward_secs: f64,
    pub backward_secs: f64,
    /// Saved activations plus the logits/gradient buffer, bytes.
    pub activation_bytes: usize,
    /// The forward and backward, part by part (`glassbox train --profile`).
    pub parts: Parts,
}

/// Seconds in each part of a step's forward and backward. The GEMMs, the attention and the
/// loss are timed around their calls; `other_*` is the rest of the pass (RMSNorm, RoPE,
/// SwiGLU and their backwards, residual adds, the embedding, allocating and zeroing buffers).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Parts {
    pub matmul_fwd: f64,
    pub attention_fwd: f64,
    /// Softmax cross-entropy over the vocabulary (loss and its gradient, one pass).
    pub loss: f64,
    pub other_fwd: f64,
    /// Both GEMMs of every linear layer's backward (`dx` and `dW`, the tied head's included).
    pub matmul_bwd: f64,
    pub attention_bwd: f64,
    pub other_bwd: f64,
}

impl Parts {
    /// `(name, seconds)` in step order.
    pub fn named(&self) -> [(&'static str, f64); 7] {
        [
            ("matmul_fwd", self.matmul_fwd),
            ("attention_fwd", self.attention_fwd),
            ("loss", self.loss),
            ("other_fwd", self.other_fwd),
            ("matmul_bwd", self.matmul_bwd),
            ("attention_bwd", self.attention_bwd),
            ("other_bwd", self.other_bwd),
        ]
    }

    /// Add `o`'s seconds into these.
    pub fn add(&mut self, o: &Parts) {
        let sum = |a: f64, b: f64| a + b;
        *self = Parts {
            matmul_fwd: sum(self.matmul_fwd, o.matmul_fwd),
            attention_fwd: sum(self.attention_fwd, o.attention_fwd),
            loss: sum(self.loss, o.loss),
            other_fwd: sum(self.other_fwd, o.other_fwd),
            matmul_bwd: sum(self.matmul_bwd, o.matmul_bwd),
            attention_bwd: sum(self.attention_bwd, o.attention_bwd),
            other_bwd: sum(self.other_bwd, o.other_bwd),
        };
    }
}

/// Run `f`, adding its wall time to `acc`.
fn timed<R>(acc: &mut f64, f: impl FnOnce() -> R) -> R {
    let t0 = Instant::now();
    let r = f();
    *acc += t0.elapsed().as_secs_f64();
    r
}

/// Rows per parallel task of the row-wise parts (RMSNorm, RoPE, SwiGLU, residual adds): a few
/// microseconds of work each at d = 256, so a 2048-token batch is 32 tasks.
const ROWS_PER_TASK: usize = 64;

/// `x += y`, element-wise, on all threads (the residual adds).
fn add_assign(x: &mut [f32], y: &[f32]) {
    x.par_chunks_mut(CHUNK)
        .zip(y.par_chunks(CHUNK))
        .for_each(|(x, y)| x.iter_mut().zip(y).for_each(|(a, b)| *a += b));
}

/// `y = rmsnorm_rows(x, w)` with the rows of `x: [n, d]` spread over the threads.
fn norm_rows(x: &[f32], w: &[f32], eps: f32) -> Vec<f32> {
    let chunk = ROWS_PER_TASK * w.len();
    let mut y = vec![0.0f32; x.len()];
    y.par_chunks_mut(chunk)
        .zip(x.par_chunks(chunk))
        .for_each(|(y, x)| rmsnorm_rows(x, w, eps, y));
    y
}

/// `h = silu(gate) ⊙ up` (`swiglu::swiglu`) on all threads; all `[n, ffn]`.
fn swiglu_rows(gate: &[f32], up: &[f32], ffn: usize) -> Vec<f32> {
    let chunk = ROWS_PER_TASK * ffn;
    let mut h = vec![0.0f32; gate.len()];
    h.par_chunks_mut(chunk)
        .zip(gate.par_chunks(chunk).zip(up.par_chunks(chunk)))
        .for_each(|(h, (g, u))| swiglu(g, u, h));
    h
}

/// RoPE's forward (`backward: false`) or backward on every row of `x: [batch·seq, heads·hd]`,
/// row `r` at position `r mod seq` (positions restart at 0 in every sequence), rows spread
/// over the threads.
fn rope_rows(rope: &RopeTable, x: &mut [f32], heads: usize, seq: usize, backward: bool) {
    x.par_chunks_exact_mut(heads * rope.head_dim())
        .with_min_len(ROWS_PER_TASK)
        .enumerate()
        .for_each(|(r, row)| {
            if backward {
                rope_backward_rows(rope, row, heads, r % seq);
            } else {
                rope.apply_rows(row, heads, r % seq, RopeLayout::HalfSplit);
            }
        });
}

fn attention_shape(c: &LlamaConfig) -> AttentionShape {
    AttentionShape {
        n_heads: c.num_attention_heads,
        n_kv_heads: c.num_key_value_heads,
        head_dim: c.head_dim(),
    }
}

// ANCHOR: forward
/// The forward pass over a batch: the tape and the logits `[n, vocab]`.
pub fn forward(p: &Params, c: &LlamaConfig, rope: &RopeTable, b: &Batch) -> (Tape, Vec<f32>) {
    forward_timed(p, c, rope, b, &mut Parts::default())
}

/// [`forward`], adding the time of its GEMMs and attention into `parts`.
fn forward_timed(
    p: &Params,
    c: &LlamaConfig,
    rope: &RopeTable,
    b: &Batch,
    parts: &mut Parts,
) -> (Tape, Vec<f32>) {
    let (n, d, eps, vocab) = (b.batch * b.seq, c.hidden_size, c.rms_norm_eps, c.vocab_size);
    let shape = attention_shape(c);
    let (q_dim, kv_dim, ffn) = (shape.q_dim(), shape.kv_dim(), c.intermediate_size);
    let norm = |x: &[f32], w: &[f32]| norm_rows(x, w, eps);
    let (mut t_mm, mut t_att) = (0.0, 0.0);
    let mut linear =
        |x: &[f32], w: &[f32], k: usize, out: usize| timed(&mut t_mm, || linear(x, w, n, k, out));
    let mut x = vec![0.0f32; n * d]; // x: [n, d] = embed[ids]
    for (row, &id) in x.chunks_exact_mut(d).zip(&b.inputs) {
        row.copy_from_slice(&p.embed_tokens[id as usize * d..][..d]);
    }
    let mut layers = Vec::with_capacity(p.layers.len());
    for w in &p.layers {
        let x_in = x.clone();
        let xn1 = norm(&x, &w.input_layernorm);
        let mut q = linear(&xn1, &w.q_proj, d, q_dim);
        let mut k = linear(&xn1, &w.k_proj, d, kv_dim);
        let v = linear(&xn1, &w.v_proj, d, kv_dim);
        rope_rows(rope, &mut q, shape.n_heads, b.seq, false);
        rope_rows(rope, &mut k, shape.n_kv_heads, b.seq, false);
        let (att, probs) = timed(&mut t_att, || {
            attention_forward(&q, &k, &v, b.batch, b.seq, &shape)
        });
        add_assign(&mut x, &linear(&att, &w.o_proj, q_dim, d));
        let x_mid = x.clone();
        let xn2 = norm(&x, &w.post_attention_layernorm);
        let gate = linear(&xn2, &w.gate_proj, d, ffn);
        let up = linear(&xn2, &w.up_proj, d, ffn);
        let h = swiglu_rows(&gate, &up, ffn);
        add_assign(&mut x, &linear(&h, &w.down_proj, ffn, d));
        layers.push(LayerTape {
            x_in,
            xn1,
            q,
            k,
            v,
            att,
            probs,
            x_mid,
            xn2,
            gate,
            up,
            h,
        });
    }
    let xf = norm(&x, &p.norm);
    let logits = linear(&xf, &p.embed_tokens, d, vocab); // tied head: W_head = E
    parts.matmul_fwd += t_mm;
    parts.attention_fwd += t_att;
    let tape = Tape {
        layers,
        x_final: x,
        xf,
        inputs: b.inputs.clone(),
        batch: b.batch,
        seq: b.seq,
    };
    (tape, logits)
}
// ANCHOR_END: forward

// ANCHOR: backward
/// The backward pass: from `dlogits: [n, vocab]` (what `cross_entropy` leaves) to every
/// parameter's gradient, added into `g`.
pub fn backward(
    p: &Params,
    c: &LlamaConfig,
    rope: &RopeTable,
    t: &Tape,
    dlogits: &[f32],
    g: &mut Params,
) {
    backward_timed(p, c, rope, t, dlogits, g, &mut Parts::default())
}

/// [`backward`], adding the time of its GEMMs and attention into `parts`.
fn backward_timed(
    p: &Params,
    c: &LlamaConfig,
    rope: &RopeTable,
    t: &Tape,
    dlogits: &[f32],
    g: &mut Params,
    parts: &mut Parts,
) {
    let (n, d, eps, vocab) = (t.batch * t.seq, c.hidden_size, c.rms_norm_eps, c.vocab_size);
    let shape = attention_shape(c);
    let (q_dim, kv_dim, ffn) = (shape.q_dim(), shape.kv_dim(), c.intermediate_size);
    let zeros = |len: usize| vec![0.0f32; len];
    let (mut t_mm, mut t_att) = (0.0, 0.0);
    // linear_backward(x, w, dy, dx, dw, k, out) over the n rows, timed
    let mut linear_backward =
        |x: &[f32],
         w: &[f32],
         dy: &[f32],
         dx: Option<&mut [f32]>,
         dw: &mut [f32],
         k: usize,
         out: usize| { timed(&mut t_mm, || linear_backward(x, w, dy, dx, dw, n, k, out)) };
    // the tied head: logits = xf · Eᵀ
    let mut dxf = zeros(n * d);
    linear_backward(
        &t.xf,
        &p.embed_tokens,
        dlogits,
        Some(&mut dxf),
        &mut g.embed_tokens,
        d,
        vocab,
    );
    let mut dx = zeros(n * d); // dx: [n, d], ∂L/∂(residual stream), walking down the layers
    rmsnorm_backward(&t.x_final, &p.norm, eps, &dxf, &mut dx, &mut g.norm);
    for ((w, gw), lt) in p
        .layers
        .iter()
        .zip(g.layers.iter_mut())
        .zip(&t.layers)
        .rev()
    {
        // ---- MLP branch: x_out = x_mid + (silu(xn2·Wgᵀ) ⊙ xn2·Wuᵀ)·Wdᵀ
        let mut dh = zeros(n * ffn);
        linear_backward(
            &lt.h,
            &w.down_proj,
            &dx,
            Some(&mut dh),
            &mut gw.down_proj,
            ffn,
            d,
        );
        let (mut dgate, mut dup) = (zeros(n * ffn), zeros(n * ffn));
        crate::train::swiglu::swiglu_backward(&lt.gate, &lt.up, &dh, &mut dgate, &mut dup);
        let mut dxn2 = zeros(n * d);
        linear_backward(
            &lt.xn2,
            &w.gate_proj,
            &dgate,
            Some(&mut dxn2),
            &mut gw.gate_proj,
            d,
            ffn,
        );
        linear_backward(
            &lt.xn2,
            &w.up_proj,
            &dup,
            Some(&mut dxn2),
            &mut gw.up_proj,
            d,
            ffn,
        );
        // residual: dx stays, the norm's gradient is added → dx is now ∂L/∂x_mid
        let post = &mut gw.post_attention_layernorm;
        rmsnorm_backward(
            &lt.x_mid,
            &w.post_attention_layernorm,
            eps,
            &dxn2,
            &mut dx,
            post,
        );

        // ---- attention branch: x_mid = x_in + attention(rope(q), rope(k), v)·Woᵀ
        let mut datt = zeros(n * q_dim);
        linear_backward(
            &lt.att,
            &w.o_proj,
            &dx,
            Some(&mut datt),
            &mut gw.o_proj,
            q_dim,
            d,
        );
        let (mut dq, mut dk, mut dv) = (zeros(n * q_dim), zeros(n * kv_dim), zeros(n * kv_dim));
        timed(&mut t_att, || {
            attention_backward(
                &lt.q, &lt.k, &lt.v, &lt.probs, &datt, t.seq, &shape, &mut dq, &mut dk, &mut dv,
            )
        });
        rope_rows(rope, &mut dq, shape.n_heads, t.seq, true);
        rope_rows(rope, &mut dk, shape.n_kv_heads, t.seq, true);
        let mut dxn1 = zeros(n * d);
        linear_backward(
            &lt.xn1,
            &w.q_proj,
            &dq,
            Some(&mut dxn1),
            &mut gw.q_proj,
            d,
            q_dim,
        );
        linear_backward(
            &lt.xn1,
            &w.k_proj,
            &dk,
            Some(&mut dxn1),
            &mut gw.k_proj,
            d,
            kv_dim,
        );
        linear_backward(
            &lt.xn1,
            &w.v_proj,
            &dv,
            Some(&mut dxn1),
            &mut gw.v_proj,
            d,
            kv_dim,
        );
        rmsnorm_backward(
            &lt.x_in,
            &w.input_layernorm,
            eps,
            &dxn1,
            &mut dx,
            &mut gw.input_layernorm,
        );
    }
    parts.matmul_bwd += t_mm;
    parts.attention_bwd += t_att;
    // the embedding lookup: row `id` of E received x's row, so its gradient is added there
    for (row, &id) in dx.chunks_exact(d).zip(&t.inputs) {
        add_assign(&mut g.embed_tokens[id as usize * d..][..d], row);
    }
}
// ANCHOR_END: backward

/// Forward, loss and backward of one micro-batch: adds `grad_scale · ∂(Σ token losses)/∂θ`
/// into `g` and returns the summed loss of the batch's tokens and where the time went.
pub fn loss_and_grad(
    p: &Params,
    c: &LlamaConfig,
    rope: &RopeTable,
    b: &Batch,
    grad_scale: f32,
    g: &mut Params,
) -> (f64, StepCost) {
    let mut parts = Parts::default();
    let t0 = Instant::now();
    let (tape, mut logits) = forward_timed(p, c, rope, b, &mut parts);
    let loss_sum = timed(&mut parts.loss, || {
        cross_entropy(&mut logits, &b.targets, c.vocab_size, grad_scale)
    });
    let t1 = Instant::now();
    backward_timed(p, c, rope, &tape, &logits, g, &mut parts);
    let (forward_secs, backward_secs) = ((t1 - t0).as_secs_f64(), t1.elapsed().as_secs_f64());
    parts.other_fwd = forward_secs - parts.matmul_fwd - parts.attention_fwd - parts.loss;
    parts.other_bwd = backward_secs - parts.matmul_bwd - parts.attention_bwd;
    let cost = StepCost {
        forward_secs,
        backward_secs,
        activation_bytes: tape.bytes() + logits.len() * 4,
        parts,
    };
    (loss_sum, cost)
}

/// The summed loss of a batch's tokens, forward only (validation).
pub fn loss_only(p: &Params, c: &LlamaConfig, rope: &RopeTable, b: &Batch) -> f64 {
    let (_, mut logits) = forward(p, c, rope, b);
    cross_entropy(&mut logits, &b.targets, c.vocab_size, 0.0)
}
