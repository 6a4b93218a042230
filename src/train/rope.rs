//! Stage 8 · the backward of RoPE (forward: `rope::RopeTable::apply_rows`).
//!
//! RoPE rotates each pair `(a, b) = (x_i, x_{i+hd/2})` of a head by the angle `m·θ_i`:
//!
//! ```text
//! [a']   [c  −s] [a]        c = cos(m·θ_i), s = sin(m·θ_i)
//! [b'] = [s   c] [b]
//! ```
//!
//! A rotation's Jacobian is the rotation itself, and its transpose is the rotation by `−m·θ_i`:
//!
//! ```text
//! ∂L/∂a = c · ∂L/∂a' + s · ∂L/∂b'
//! ∂L/∂b = −s · ∂L/∂a' + c · ∂L/∂b'
//! ```
//!
//! So the backward rotates the gradient back, in place, with the same table of cos/sin.
//! By hand, one pair at angle 90° (c = 0, s = 1): forward (1, 0) ↦ (0, 1); a gradient (0, 1)
//! on the output goes back to (1, 0).

use crate::rope::RopeTable;

// ANCHOR: rope_backward
/// `dx: [seq, n_heads · hd]`, the gradient with respect to RoPE's output, becomes the gradient
/// with respect to its input, row `t` at position `start_pos + t` (half-split pairs).
pub fn rope_backward_rows(table: &RopeTable, dx: &mut [f32], n_heads: usize, start_pos: usize) {
    let hd = table.head_dim();
    let half = hd / 2;
    assert!(
        dx.len().is_multiple_of(n_heads * hd),
        "rope_backward: dx is not [seq, n_heads · head_dim]"
    );
    for (t, row) in dx.chunks_exact_mut(n_heads * hd).enumerate() {
        let (cos, sin) = table.cos_sin(start_pos + t);
        for head in row.chunks_exact_mut(hd) {
            for i in 0..half {
                let (ga, gb) = (head[i], head[i + half]);
                head[i] = cos[i] * ga + sin[i] * gb;
                head[i + half] = cos[i] * gb - sin[i] * ga;
            }
        }
    }
}
// ANCHOR_END: rope_backward

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rope::RopeLayout;

    /// The backward of a rotation undoes the forward (a rotation's transpose is its inverse).
    #[test]
    fn backward_undoes_forward() {
        let t = RopeTable::new(8, 16, 10000.0, None);
        let x: Vec<f32> = (0..3 * 2 * 8).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut y = x.clone();
        t.apply_rows(&mut y, 2, 5, RopeLayout::HalfSplit);
        rope_backward_rows(&t, &mut y, 2, 5);
        for (a, b) in x.iter().zip(&y) {
            assert!((a - b).abs() < 1e-6);
        }
    }
}
