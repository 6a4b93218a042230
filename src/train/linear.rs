//! Stage 8 · the backward of a linear layer: both gradients through the same GEMM.
//!
//! The forward is `y = x · Wᵀ` (`matmul::matmul`), with `x: [m, k]`, `W: [n, k]`, `y: [m, n]`.
//! Each `y[i][j] = Σ_p x[i][p] · W[j][p]`, so with `dy = ∂L/∂y`:
//!
//! ```text
//! ∂L/∂x[i][p] = Σ_j dy[i][j] · W[j][p]      dx = dy · W     = matmul(dy: [m, n], Wᵀ: [k, n])  → [m, k]
//! ∂L/∂W[j][p] = Σ_i dy[i][j] · x[i][p]      dW = dyᵀ · x    = matmul(dyᵀ: [n, m], xᵀ: [k, m]) → [n, k]
//! ```
//!
//! `matmul(a, b)` computes `a · bᵀ` with both operands' rows contiguous, so each gradient is one
//! call of the same parallel GEMM after transposing its operands (O(m·n + n·k + m·k) copies
//! against O(m·n·k) multiply-adds). The tiny example of the book: x = [[1, 2]], W = [[3, 4]],
//! y = [[11]]; with dy = [[1]], dx = [[3, 4]] and dW = [[1, 2]].
//!
//! Gradients are *added* into `dx` and `dw` (as PyTorch accumulates into `.grad`): a tensor
//! read by several products (the normed input of Q, K and V) sums its three gradients, and
//! micro-batches of gradient accumulation add up.

use rayon::prelude::*;

use crate::matmul::{matmul, matmul_naive};

/// Side of the square tiles a transpose copies at a time (32 × 32 floats = 4 KiB: a tile of
/// the source and of the destination stay in L1).
const TILE: usize = 32;

/// `a: [rows, cols]` → `[cols, rows]`, tile by tile; bands of output rows run in parallel.
pub fn transpose(a: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    assert_eq!(a.len(), rows * cols, "transpose: len is not rows × cols");
    let mut t = vec![0.0f32; rows * cols];
    if rows == 0 || cols == 0 {
        return t;
    }
    // t: [cols, rows]; a band of TILE rows of t is TILE columns of a
    t.par_chunks_mut(TILE * rows)
        .enumerate()
        .for_each(|(band, out)| {
            let c0 = band * TILE;
            let nc = out.len() / rows;
            for r0 in (0..rows).step_by(TILE) {
                for r in r0..(r0 + TILE).min(rows) {
                    for c in 0..nc {
                        out[c * rows + r] = a[r * cols + c0 + c];
                    }
                }
            }
        });
    t
}

fn add_into(acc: &mut [f32], v: &[f32]) {
    acc.iter_mut().zip(v).for_each(|(a, b)| *a += b);
}

// ANCHOR: linear_backward
/// Backward of `y = x · Wᵀ`: `dx += dy · W` (skipped when `dx` is `None`, e.g. for the
/// embedding's input) and `dw += dyᵀ · x`. `x: [m, k]`, `w: [n, k]`, `dy: [m, n]`.
pub fn linear_backward(
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    dw: &mut [f32],
    m: usize,
    k: usize,
    n: usize,
) {
    assert_eq!(dy.len(), m * n, "linear_backward: dy is not [m, n]");
    assert_eq!(dw.len(), n * k, "linear_backward: dw is not [n, k]");
    if let Some(dx) = dx {
        // dx: [m, k] = dy: [m, n] · (Wᵀ: [k, n])ᵀ
        let mut tmp = vec![0.0f32; m * k];
        matmul(dy, &transpose(w, n, k), &mut tmp, m, n, k);
        add_into(dx, &tmp);
    }
    // dW: [n, k] = dyᵀ: [n, m] · (xᵀ: [k, m])ᵀ
    let mut tmp = vec![0.0f32; n * k];
    matmul(&transpose(dy, m, n), &transpose(x, m, k), &mut tmp, n, m, k);
    add_into(dw, &tmp);
}
// ANCHOR_END: linear_backward

/// The reference: the two sums of the module doc, as loops over the naive matmul's layout.
pub fn linear_backward_naive(
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    dx: Option<&mut [f32]>,
    dw: &mut [f32],
    m: usize,
    k: usize,
    n: usize,
) {
    if let Some(dx) = dx {
        for i in 0..m {
            for p in 0..k {
                dx[i * k + p] += (0..n).map(|j| dy[i * n + j] * w[j * k + p]).sum::<f32>();
            }
        }
    }
    for j in 0..n {
        for p in 0..k {
            dw[j * k + p] += (0..m).map(|i| dy[i * n + j] * x[i * k + p]).sum::<f32>();
        }
    }
}

/// The forward, `y = x · Wᵀ` into a new buffer (`matmul::matmul`): `y: [m, n]`.
pub fn linear(x: &[f32], w: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut y = vec![0.0f32; m * n];
    matmul(x, w, &mut y, m, k, n);
    y
}

/// [`linear`] with the naive matmul (the whole-model reference step uses it).
pub fn linear_naive(x: &[f32], w: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut y = vec![0.0f32; m * n];
    matmul_naive(x, w, &mut y, m, k, n);
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hand() {
        let (mut dx, mut dw) = ([0.0; 2], [0.0; 2]);
        linear_backward(
            &[1.0, 2.0],
            &[3.0, 4.0],
            &[1.0],
            Some(&mut dx),
            &mut dw,
            1,
            2,
            1,
        );
        assert_eq!((dx, dw), ([3.0, 4.0], [1.0, 2.0]));
    }

    #[test]
    fn transpose_odd_shapes() {
        for (r, c) in [(1, 1), (3, 70), (65, 33), (40, 1)] {
            let a: Vec<f32> = (0..r * c).map(|i| i as f32).collect();
            let t = transpose(&a, r, c);
            for i in 0..r {
                for j in 0..c {
                    assert_eq!(t[j * r + i], a[i * c + j]);
                }
            }
        }
    }
}
