//! Stage 2 · SwiGLU: the gated feed-forward network of a Llama block.
//!
//! ```text
//! silu(z)  = z · σ(z) = z / (1 + e^(−z))
//! mlp(x)   = W_down · ( silu(W_gate · x) ⊙ (W_up · x) )
//!   x: [d_model]  W_gate, W_up: [ffn, d_model]  W_down: [d_model, ffn]   (PyTorch:
//!   self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x)))
//! ```
//!
//! The model assembles the three matrix products from its `WeightMatrix`es (quantized or not);
//! this module provides the element-wise middle, [`swiglu`], and an all-f32 reference MLP,
//! [`mlp_naive`], that tests compare against.
//!
//! Gemma 3 uses the same gated MLP with another gate function, GeGLU: GELU in its tanh
//! approximation instead of SiLU ([`Activation`]; Hugging Face's `gelu_pytorch_tanh`):
//!
//! ```text
//! gelu_tanh(z) = ½ · z · (1 + tanh(√(2/π) · (z + 0.044715 · z³)))
//! ```
//!
//! Both are smooth gates that pass large positive inputs and squash negative ones; GELU dips
//! less below zero (min ≈ −0.17 against SiLU's −0.28).
//!
//! Reference: Shazeer, "GLU Variants Improve Transformer" (2020);
//! `transformers.models.llama.modeling_llama.LlamaMLP`, `transformers.activations.GELUTanh`
//! (PyTorch `gelu(approximate="tanh")`).

use crate::matmul::matmul_naive;
use wide::f32x16;

// ANCHOR: silu
/// SiLU ("swish"): `z · sigmoid(z)`. For very negative `z`, `e^(−z)` overflows to `inf` and the
/// result is `-0.0`, the correct limit; for very positive `z` it is `z`.
pub fn silu(z: f32) -> f32 {
    z / (1.0 + (-z).exp())
}
// ANCHOR_END: silu

// ANCHOR: swiglu
/// `out = silu(gate) ⊙ up`, all `[ffn]` (or `[seq, ffn]`: it is element-wise).
pub fn swiglu(gate: &[f32], up: &[f32], out: &mut [f32]) {
    assert_eq!(gate.len(), out.len(), "swiglu: gate and out lengths differ");
    out.copy_from_slice(gate);
    swiglu_inplace(out, up);
}

/// `gate ← silu(gate) ⊙ up`, in place (saves one `[seq, ffn]` buffer in the model), sixteen
/// lanes at a time ([`silu_lanes`]).
pub fn swiglu_inplace(gate: &mut [f32], up: &[f32]) {
    assert_eq!(gate.len(), up.len(), "swiglu: gate and up lengths differ");
    glu_lanes(gate, up, silu_lanes);
}

/// [`silu`] on 16 lanes: the same formula, with `wide`'s vector `exp` (a polynomial after
/// range reduction, within a few ulp of libm's) instead of one libm `expf` call per element;
/// a prefill of SmolLM2 computes `seq × 1536` of them per layer. The limits are the scalar
/// form's: `z` → −∞ gives `e^(−z)` = `inf` and `z / inf` = −0, `z` → +∞ gives `z`, NaN stays
/// NaN. Not bit-identical to [`silu`]: tests/stage2_props.rs holds both to the f64 formula.
fn silu_lanes(z: f32x16) -> f32x16 {
    z / (f32x16::ONE + (-z).exp())
}

/// `gate ← act(gate) ⊙ up` for a gate function on 16 lanes. The last `len mod 16` elements
/// are padded with zeros into one more vector, so every element goes through the same
/// arithmetic wherever it sits in the row.
fn glu_lanes(gate: &mut [f32], up: &[f32], act: impl Fn(f32x16) -> f32x16) {
    let (g16, g_tail) = gate.as_chunks_mut::<16>();
    let (u16, u_tail) = up.as_chunks::<16>();
    for (g, u) in g16.iter_mut().zip(u16) {
        *g = (act(f32x16::new(*g)) * f32x16::new(*u)).to_array();
    }
    if !g_tail.is_empty() {
        let (mut g, mut u) = ([0.0f32; 16], [0.0f32; 16]);
        g[..g_tail.len()].copy_from_slice(g_tail);
        u[..u_tail.len()].copy_from_slice(u_tail);
        let h = (act(f32x16::new(g)) * f32x16::new(u)).to_array();
        g_tail.copy_from_slice(&h[..g_tail.len()]);
    }
}
// ANCHOR_END: swiglu

// ANCHOR: gelu_tanh
/// The tanh GELU's constants, shared by [`gelu_tanh`] and its 16-lane form in `geglu_inplace`:
/// √(2/π) and the cubic term's weight.
const SQRT_2_OVER_PI: f32 = 0.797_884_6;
const GELU_CUBIC: f32 = 0.044715;

/// GELU, tanh approximation: `½ z (1 + tanh(√(2/π) (z + 0.044715 z³)))`, in f32 as PyTorch's
/// `gelu(approximate="tanh")` computes it.
pub fn gelu_tanh(z: f32) -> f32 {
    let inner = SQRT_2_OVER_PI * (z + GELU_CUBIC * z * z * z);
    0.5 * z * (1.0 + inner.tanh())
}
// ANCHOR_END: gelu_tanh

/// The gate function of a gated MLP: what differs between SwiGLU (Llama) and GeGLU (Gemma).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// `silu(z) = z · σ(z)`: SwiGLU (Llama, SmolLM2; Hugging Face `hidden_act: "silu"`).
    Silu,
    /// `gelu_tanh(z)`: GeGLU (Gemma; `hidden_activation: "gelu_pytorch_tanh"`).
    GeluTanh,
}

impl Activation {
    pub fn apply(self, z: f32) -> f32 {
        match self {
            Activation::Silu => silu(z),
            Activation::GeluTanh => gelu_tanh(z),
        }
    }

    /// The Hugging Face `hidden_act` name.
    pub fn hf_name(self) -> &'static str {
        match self {
            Activation::Silu => "silu",
            Activation::GeluTanh => "gelu_pytorch_tanh",
        }
    }
}

/// `gate ← act(gate) ⊙ up`, in place: [`swiglu_inplace`] for SiLU, the GeGLU middle otherwise.
pub fn glu_inplace(act: Activation, gate: &mut [f32], up: &[f32]) {
    match act {
        Activation::Silu => swiglu_inplace(gate, up),
        Activation::GeluTanh => geglu_inplace(gate, up),
    }
}

/// `gate ← gelu_tanh(gate) ⊙ up`, 16 lanes at a time ([`glu_lanes`]). The same function
/// written without tanh, since `½(1 + tanh u) = σ(2u)`:
///
/// ```text
/// gelu_tanh(z) = z · σ(2u) = z / (1 + e^(−2u)),   u = √(2/π) · (z + 0.044715 · z³)
/// ```
///
/// with `wide`'s vector `exp` (a few ulp) instead of one libm `tanhf` call per element: a
/// decode step of gemma-3-270m runs 18 × 2048 of them, and per element the libm call cost
/// more than the gate and up rows' arithmetic (benches/README.md, Gemma). For z → −∞,
/// e^(−2u) → +∞ and the quotient is −0 (the limit); for z → +∞ it is z. Not bit-identical to
/// [`gelu_tanh`] (tests/gemma_props.rs holds both to the f64 formula, 1e-4).
fn geglu_inplace(gate: &mut [f32], up: &[f32]) {
    assert_eq!(gate.len(), up.len(), "geglu: gate and up lengths differ");
    let (c, c3) = (
        f32x16::splat(-2.0 * SQRT_2_OVER_PI),
        f32x16::splat(GELU_CUBIC),
    );
    // z / (1 + e^(−2u))
    glu_lanes(gate, up, |z| {
        z / (f32x16::ONE + (c * (z + c3 * z * z * z)).exp())
    });
}

// ANCHOR: mlp_naive
/// The whole MLP in f32 with naive matrix products: the reference for tests and lessons.
///
/// `x: [seq, d]`, `w_gate, w_up: [ffn, d]`, `w_down: [d, ffn]`, `out: [seq, d]`.
pub fn mlp_naive(
    x: &[f32],
    w_gate: &[f32],
    w_up: &[f32],
    w_down: &[f32],
    seq: usize,
    d: usize,
    ffn: usize,
    out: &mut [f32],
) {
    glu_mlp_naive(Activation::Silu, x, w_gate, w_up, w_down, seq, d, ffn, out);
}

/// [`mlp_naive`] with any gate function: `down(act(x · W_gateᵀ) ⊙ (x · W_upᵀ))`, the gate
/// applied element by element in its own loop (the reference for [`glu_inplace`]).
pub fn glu_mlp_naive(
    act: Activation,
    x: &[f32],
    w_gate: &[f32],
    w_up: &[f32],
    w_down: &[f32],
    seq: usize,
    d: usize,
    ffn: usize,
    out: &mut [f32],
) {
    assert_eq!(x.len(), seq * d, "mlp: x is not [seq, d]");
    assert_eq!(w_gate.len(), ffn * d, "mlp: w_gate is not [ffn, d]");
    assert_eq!(w_up.len(), ffn * d, "mlp: w_up is not [ffn, d]");
    assert_eq!(w_down.len(), d * ffn, "mlp: w_down is not [d, ffn]");
    assert_eq!(out.len(), seq * d, "mlp: out is not [seq, d]");
    let mut gate = vec![0.0f32; seq * ffn]; // gate: [seq, ffn] = x · W_gateᵀ
    let mut up = vec![0.0f32; seq * ffn]; //   up:   [seq, ffn] = x · W_upᵀ
    matmul_naive(x, w_gate, &mut gate, seq, d, ffn);
    matmul_naive(x, w_up, &mut up, seq, d, ffn);
    let mut h = vec![0.0f32; seq * ffn]; //    h:    [seq, ffn] = act(gate) ⊙ up
    for ((hi, &g), &u) in h.iter_mut().zip(&gate).zip(&up) {
        *hi = act.apply(g) * u;
    }
    matmul_naive(&h, w_down, out, seq, ffn, d); // out: [seq, d] = h · W_downᵀ
}
// ANCHOR_END: mlp_naive

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silu_values() {
        assert_eq!(silu(0.0), 0.0);
        assert!((silu(1.0) - 0.7310586).abs() < 1e-6);
        assert!((silu(-1.0) + 0.26894143).abs() < 1e-6);
        assert_eq!(silu(-200.0), 0.0);
        assert_eq!(silu(200.0), 200.0);
    }

    #[test]
    fn gelu_tanh_values() {
        // torch.nn.functional.gelu(torch.tensor([1., -1., 3.]), approximate="tanh")
        assert_eq!(gelu_tanh(0.0), 0.0);
        assert!((gelu_tanh(1.0) - 0.841_192).abs() < 1e-6);
        assert!((gelu_tanh(-1.0) + 0.158_808).abs() < 1e-6);
        assert!((gelu_tanh(3.0) - 2.996_363_4).abs() < 1e-6);
        assert_eq!(gelu_tanh(-20.0), 0.0);
        assert_eq!(gelu_tanh(20.0), 20.0);
    }
}
