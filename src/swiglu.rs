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
//! Reference: Shazeer, "GLU Variants Improve Transformer" (2020);
//! `transformers.models.llama.modeling_llama.LlamaMLP`.

use crate::matmul::matmul_naive;

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
    assert_eq!(gate.len(), up.len(), "swiglu: gate and up lengths differ");
    assert_eq!(gate.len(), out.len(), "swiglu: gate and out lengths differ");
    for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up) {
        *o = silu(g) * u;
    }
}
// ANCHOR_END: swiglu

/// `gate ← silu(gate) ⊙ up`, in place (saves one `[seq, ffn]` buffer in the model).
pub fn swiglu_inplace(gate: &mut [f32], up: &[f32]) {
    assert_eq!(gate.len(), up.len(), "swiglu: gate and up lengths differ");
    for (g, &u) in gate.iter_mut().zip(up) {
        *g = silu(*g) * u;
    }
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
    assert_eq!(x.len(), seq * d, "mlp: x is not [seq, d]");
    assert_eq!(w_gate.len(), ffn * d, "mlp: w_gate is not [ffn, d]");
    assert_eq!(w_up.len(), ffn * d, "mlp: w_up is not [ffn, d]");
    assert_eq!(w_down.len(), d * ffn, "mlp: w_down is not [d, ffn]");
    assert_eq!(out.len(), seq * d, "mlp: out is not [seq, d]");
    let mut gate = vec![0.0f32; seq * ffn]; // gate: [seq, ffn] = x · W_gateᵀ
    let mut up = vec![0.0f32; seq * ffn]; //   up:   [seq, ffn] = x · W_upᵀ
    matmul_naive(x, w_gate, &mut gate, seq, d, ffn);
    matmul_naive(x, w_up, &mut up, seq, d, ffn);
    let mut h = vec![0.0f32; seq * ffn]; //    h:    [seq, ffn] = silu(gate) ⊙ up
    swiglu(&gate, &up, &mut h);
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
}
