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
//! `matmul(a, b)` computes `a · bᵀ` with both operands' rows contiguous; its general form
//! `matmul::gemm` reads either operand in the layout it is stored in (`Layout::Transposed`: the
//! operand's rows are the columns of what is stored) and can add into its output. So each
//! gradient is one call of the same parallel GEMM with no transposed copies:
//!
//! ```text
//! dx += gemm(dy  as stored [m, n],                 Wᵀ copied out of W: [n, k] into [k, n])
//! dW += gemm_tt(dyᵀ read from dy as stored [m, n], xᵀ read from x as stored [m, k])
//! ```
//!
//! Reading `dyᵀ` transposed costs the GEMM nothing extra: it is the operand it packs (its
//! slivers become plain copies instead of 8 × 8 transposes). The broadcast operand of `dx` is
//! different: read in place from `W: [n, k]`, each k step of the kernel takes `WR` adjacent
//! floats from rows `k` floats apart, and with the tied head's n = 4096 steps per product
//! those rows fall into a few cache sets (≈ 70 GFLOP/s on one thread against ≈ 160 for the
//! same product with `Wᵀ` stored row-major). So `dx` first copies `Wᵀ` out (`transpose`,
//! 4 MiB for the head, once per product) and hands the GEMM row-major operands. `dW` sums over the m tokens (thousands), and there reading `xᵀ` in place
//! left both operands outside L1 (32–49 GFLOP/s against 75–126 for `dx`); `matmul::gemm_tt`
//! packs `xᵀ` as well, in the order the kernel reads it, and takes short k-blocks. The tiny example of the book: x = [[1, 2]], W = [[3, 4]],
//! y = [[11]]; with dy = [[1]], dx = [[3, 4]] and dW = [[1, 2]].
//!
//! Gradients are *added* into `dx` and `dw` (as PyTorch accumulates into `.grad`): a tensor
//! read by several products (the normed input of Q, K and V) sums its three gradients, and
//! micro-batches of gradient accumulation add up.

use rayon::prelude::*;

use crate::matmul::{gemm, gemm_tt, matmul, matmul_naive, Layout};

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
    let rm = Layout::RowMajor;
    if let Some(dx) = dx {
        // dx: [m, k] += dy: [m, n] · (Wᵀ: [k, n])ᵀ, Wᵀ copied out of W: [n, k] once
        gemm(dy, rm, &transpose(w, n, k), rm, dx, m, n, k, true);
    }
    // dW: [n, k] += dyᵀ: [n, m] · (xᵀ: [k, m])ᵀ, both read from dy: [m, n] and x: [m, k],
    // both packed (`matmul/pack_t.rs`): the sum runs over the m tokens
    gemm_tt(dy, x, dw, n, m, k, true);
}
// ANCHOR_END: linear_backward

/// Tile edge of [`transpose`]: a 32 × 32 block of floats is 4 KiB read and 4 KiB written.
const T_BLOCK: usize = 32;

/// `wᵀ`: `w: [n, k]` → `[k, n]`, copied in 32 × 32 blocks, bands of 32 output rows spread
/// over the threads. For the tied head (4096 × 256) this is 4 MiB copied against a product of
/// 2048 × 4096 × 256 multiply-adds.
fn transpose(w: &[f32], n: usize, k: usize) -> Vec<f32> {
    let mut wt = vec![0.0f32; k * n];
    if n == 0 {
        return wt;
    }
    wt.par_chunks_mut(T_BLOCK * n)
        .enumerate()
        .for_each(|(band, rows)| {
            let (p0, pr) = (band * T_BLOCK, rows.len() / n); // rows p0 .. p0 + pr of wᵀ
            for j0 in (0..n).step_by(T_BLOCK) {
                for j in j0..(j0 + T_BLOCK).min(n) {
                    let src = &w[j * k + p0..][..pr]; // row j of w, columns p0 ..
                    for (p, &v) in src.iter().enumerate() {
                        rows[p * n + j] = v;
                    }
                }
            }
        });
    wt
}

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
}
