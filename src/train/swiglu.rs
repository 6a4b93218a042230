//! Stage 8 · the backward of SwiGLU's element-wise middle (forward: `swiglu::swiglu`).
//!
//! `h = silu(g) ⊙ u` with `silu(z) = z · σ(z)`. Element by element:
//!
//! ```text
//! ∂L/∂u = ∂L/∂h · silu(g)
//! ∂L/∂g = ∂L/∂h · u · silu'(g),     silu'(z) = σ(z) · (1 + z · (1 − σ(z)))
//! ```
//!
//! (`silu'` by the product rule: `σ(z) + z · σ(z)(1 − σ(z))`.) By hand at g = 0, u = 2, dh = 1:
//! silu(0) = 0 and silu'(0) = ½, so du = 0 and dg = 1.
//!
//! The three matrix products around it (`gate_proj`, `up_proj`, `down_proj`) are linear layers,
//! whose backward is `linear.rs`.

use rayon::prelude::*;

use crate::swiglu::silu;

/// Elements per parallel task.
const CHUNK: usize = 1 << 14;

/// σ(z) = 1 / (1 + e^(−z)).
fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

// ANCHOR: swiglu_backward
/// From `dh` to `dgate` and `dup` (written, not added), for `h = silu(gate) ⊙ up`.
/// All slices `[rows, ffn]` (element-wise, so any shape).
pub fn swiglu_backward(gate: &[f32], up: &[f32], dh: &[f32], dgate: &mut [f32], dup: &mut [f32]) {
    assert!(gate.len() == up.len() && up.len() == dh.len());
    assert!(dh.len() == dgate.len() && dgate.len() == dup.len());
    dgate
        .par_chunks_mut(CHUNK)
        .zip(dup.par_chunks_mut(CHUNK))
        .enumerate()
        .for_each(|(c, (dg, du))| {
            let o = c * CHUNK;
            for i in 0..dg.len() {
                let (g, u, d) = (gate[o + i], up[o + i], dh[o + i]);
                let s = sigmoid(g);
                du[i] = d * silu(g);
                dg[i] = d * u * s * (1.0 + g * (1.0 - s));
            }
        });
}
// ANCHOR_END: swiglu_backward

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hand_at_zero() {
        let (mut dg, mut du) = ([9.0], [9.0]);
        swiglu_backward(&[0.0], &[2.0], &[1.0], &mut dg, &mut du);
        assert_eq!((dg, du), ([1.0], [0.0]));
    }
}
