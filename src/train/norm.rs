//! Stage 8 · the backward of RMSNorm (forward: `rmsnorm::rmsnorm_rows`).
//!
//! Per row, `y_i = x_i · r · w_i` with `r = (mean_j x_j² + ε)^(−1/2)`. The scale `r` depends on
//! every `x_j`: `∂r/∂x_j = −r³ · x_j / d`. With `g = dy ⊙ w` (the gradient reaching `x·r`):
//!
//! ```text
//! ∂L/∂x_j = r · g_j − x_j · r³ · (Σ_i g_i · x_i) / d  =  r · (g_j − x_j · r² · ⟨g, x⟩ / d)
//! ∂L/∂w_i = Σ_rows dy_i · x_i · r
//! ```
//!
//! The second term removes from `g` its component along `x`: scaling `x` does not change `y`,
//! so with ε = 0 the gradient has no part in that direction (`⟨dx, x⟩ = 0`). By hand, d = 2, x = [3, 4], w = [1, 1], ε = 0: r = 1/√12.5, y = [0.8485, 1.1314];
//! dy = [1, 0] gives dx = r · ([1, 0] − [3, 4] · 3/25) = [0.1810, −0.1358].
//!
//! `r` is recomputed from the saved input (d multiply-adds per row) instead of being stored.

use rayon::prelude::*;

/// Rows per parallel task (enough work per task to be worth a hand-off).
const ROWS_PER_TASK: usize = 64;

// ANCHOR: rmsnorm_backward
/// `dx += ∂L/∂x` and `dw += ∂L/∂w` for `y = rmsnorm_rows(x, w, eps)`.
/// `x, dy, dx: [rows, d]`, `w, dw: [d]`.
pub fn rmsnorm_backward(
    x: &[f32],
    w: &[f32],
    eps: f32,
    dy: &[f32],
    dx: &mut [f32],
    dw: &mut [f32],
) {
    let d = w.len();
    assert!(
        d > 0 && x.len().is_multiple_of(d),
        "rmsnorm_backward: x is not [rows, d]"
    );
    assert!(dy.len() == x.len() && dx.len() == x.len() && dw.len() == d);
    // dw is a sum over rows: each task keeps its own partial sum, added in task order (the same
    // order on every run, whatever the thread count)
    let partial: Vec<Vec<f32>> = dx
        .par_chunks_mut(ROWS_PER_TASK * d)
        .zip(x.par_chunks(ROWS_PER_TASK * d))
        .zip(dy.par_chunks(ROWS_PER_TASK * d))
        .map(|((dxc, xc), dyc)| {
            let mut dw_part = vec![0.0f32; d];
            for ((dxr, xr), dyr) in dxc
                .chunks_exact_mut(d)
                .zip(xc.chunks_exact(d))
                .zip(dyc.chunks_exact(d))
            {
                let ms = xr.iter().map(|v| v * v).sum::<f32>() / d as f32;
                let r = 1.0 / (ms + eps).sqrt();
                // ⟨g, x⟩ with g = dy ⊙ w
                let gx: f32 = (0..d).map(|i| dyr[i] * w[i] * xr[i]).sum();
                let c = r * r * gx / d as f32;
                for i in 0..d {
                    dxr[i] += r * (dyr[i] * w[i] - xr[i] * c);
                    dw_part[i] += dyr[i] * xr[i] * r;
                }
            }
            dw_part
        })
        .collect();
    for p in partial {
        dw.iter_mut().zip(&p).for_each(|(a, b)| *a += b);
    }
}
// ANCHOR_END: rmsnorm_backward

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hand_34() {
        let (mut dx, mut dw) = ([0.0; 2], [0.0; 2]);
        rmsnorm_backward(&[3.0, 4.0], &[1.0, 1.0], 0.0, &[1.0, 0.0], &mut dx, &mut dw);
        assert!(
            (dx[0] - 0.18102).abs() < 1e-5 && (dx[1] + 0.13576).abs() < 1e-5,
            "{dx:?}"
        );
        // dw = dy ⊙ x · r = [3/√12.5, 0]
        assert!((dw[0] - 0.848528).abs() < 1e-5 && dw[1] == 0.0, "{dw:?}");
    }
}
