//! Chapter 5, reference solutions (included in the book's appendix; checked by
//! `cargo test --test ch05_exercises --features solutions`).

use super::Shapes;
use wide::f32x8;

// ANCHOR: ex1
/// Per layer: q and o 2048 × 2048, k and v 512 × 2048, gate, up and down 8192 × 2048:
/// 60,817,408 weights; 16 layers = 973,078,528; the tied head 128,256 × 2048 = 262,668,288.
/// 1,235,746,816 weights used once each, 2 FLOPs apiece: 2,471,493,632. The head alone is
/// 21% of the work: a big vocabulary costs.
pub fn llama_1b_flops() -> u64 {
    let per_layer = 2 * 2048 * 2048 + 2 * 512 * 2048 + 3 * 8192 * 2048;
    2 * (16 * per_layer + 128_256 * 2048)
}
// ANCHOR_END: ex1

// ANCHOR: ex2
/// 2 FLOPs (a multiply and an add) per weight used in a product: per layer q, k, v, o, gate,
/// up, down; then the output head (tied to the embedding in SmolLM2, still a product).
pub fn flops_per_token(s: &Shapes) -> u64 {
    let per_layer = 2 * s.d_model * s.d_model + 2 * s.kv_dim * s.d_model + 3 * s.ffn * s.d_model;
    2 * (s.layers * per_layer + s.vocab * s.d_model)
}
// ANCHOR_END: ex2

// ANCHOR: ex3
/// A 2×2 register tile: rows i, i+1 of x against rows j, j+1 of w; each vector loaded is used
/// by two of the four accumulators. Edges (an odd last row or column) and the tail of k that
/// does not fill 8 lanes fall back to `dot`.
pub fn my_matmul(x: &[f32], w: &[f32], out: &mut [f32], m: usize, k: usize, n: usize) {
    let dot = glassbox::matmul::dot;
    fn row(s: &[f32], r: usize, k: usize) -> &[f32] {
        &s[r * k..(r + 1) * k]
    }
    let ld = |s: &[f32], p: usize| f32x8::new(s[p..p + 8].try_into().expect("8 floats"));
    let k8 = k / 8 * 8;
    for i in (0..m).step_by(2) {
        for j in (0..n).step_by(2) {
            if i + 1 >= m || j + 1 >= n {
                for a in i..(i + 2).min(m) {
                    for b in j..(j + 2).min(n) {
                        out[a * n + b] = dot(row(x, a, k), row(w, b, k));
                    }
                }
                continue;
            }
            let (x0, x1, w0, w1) = (
                row(x, i, k),
                row(x, i + 1, k),
                row(w, j, k),
                row(w, j + 1, k),
            );
            let mut acc = [f32x8::ZERO; 4];
            for p in (0..k8).step_by(8) {
                let (a0, a1, b0, b1) = (ld(x0, p), ld(x1, p), ld(w0, p), ld(w1, p));
                acc[0] = a0.mul_add(b0, acc[0]);
                acc[1] = a0.mul_add(b1, acc[1]);
                acc[2] = a1.mul_add(b0, acc[2]);
                acc[3] = a1.mul_add(b1, acc[3]);
            }
            let tail = |a: &[f32], b: &[f32]| dot(&a[k8..], &b[k8..]);
            out[i * n + j] = acc[0].reduce_add() + tail(x0, w0);
            out[i * n + j + 1] = acc[1].reduce_add() + tail(x0, w1);
            out[(i + 1) * n + j] = acc[2].reduce_add() + tail(x1, w0);
            out[(i + 1) * n + j + 1] = acc[3].reduce_add() + tail(x1, w1);
        }
    }
}
// ANCHOR_END: ex3
