//! Chapter 5 exercises: `cargo test --test ch05_exercises`.
//!
//! 1. **Predict the number.** How many floating-point operations do a 1B Llama's matrix
//!    products cost per token (d 2048, kv_dim 512, ffn 8192, 16 layers, vocab 128,256)?
//!    Write the formula in `answer::flops_per_token` (in terms of the config's shapes, not a
//!    list) and check it still gives SmolLM2's 268,959,744; the reference answer also checks
//!    your prediction (`flops_per_token_of_llama_1b`).
//! 2. **Your own kernel.** `answer::my_matmul` must equal `matmul_naive` on shapes built from
//!    1, 7, 33 and 577 (sizes that do not fill an 8-lane register, and one past it). It ships as
//!    one `dot` per output; rewrite it with a 2×2 register tile of `f32x8` accumulators and keep
//!    the test green. The reference answers: `cargo test --test ch05_exercises --features solutions`.

use glassbox::compare::{assert_close_scaled, matmul_abs_scale, rand_vec};
use glassbox::matmul::{matmul, matmul_naive, matmul_simd, matvec, matvec_naive, matvec_simd};

/// SmolLM2-135M's config: hidden_size, kv heads × head_dim, intermediate_size, layers, vocab.
pub struct Shapes {
    pub d_model: u64,
    pub kv_dim: u64,
    pub ffn: u64,
    pub layers: u64,
    pub vocab: u64,
}

#[cfg(not(feature = "solutions"))]
mod answer {
    use super::Shapes;

    /// Your answer. This first version lists SmolLM2's matrices one by one ([rows, cols]).
    pub fn flops_per_token(s: &Shapes) -> u64 {
        // replace the hand-written list of one layer's [rows, cols] by a formula in s.d_model, s.kv_dim, s.ffn
        let layer: [(u64, u64); 7] = [
            (576, 576),
            (192, 576),
            (192, 576),
            (576, 576),
            (1536, 576),
            (1536, 576),
            (576, 1536),
        ];
        let per_layer: u64 = layer.iter().map(|(r, c)| 2 * r * c).sum();
        s.layers * per_layer + 2 * s.vocab * s.d_model
    }

    /// Your answer: x: [m, k], w: [n, k] → out: [m, n] = x · wᵀ. First version: one dot per output.
    pub fn my_matmul(x: &[f32], w: &[f32], out: &mut [f32], m: usize, k: usize, n: usize) {
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] =
                    glassbox::matmul::dot(&x[i * k..(i + 1) * k], &w[j * k..(j + 1) * k]);
            }
        }
    }
}

#[cfg(feature = "solutions")]
mod answer {
    use super::Shapes;
    use wide::f32x8;

    /// 2 FLOPs (a multiply and an add) per weight used in a product: per layer q, k, v, o,
    /// gate, up, down; then the output head (tied to the embedding in SmolLM2, still a product).
    pub fn flops_per_token(s: &Shapes) -> u64 {
        let per_layer =
            2 * s.d_model * s.d_model + 2 * s.kv_dim * s.d_model + 3 * s.ffn * s.d_model;
        2 * (s.layers * per_layer + s.vocab * s.d_model)
    }

    /// A 2×2 register tile: rows i, i+1 of x against rows j, j+1 of w share every load.
    pub fn my_matmul(x: &[f32], w: &[f32], out: &mut [f32], m: usize, k: usize, n: usize) {
        let dot = |a: &[f32], b: &[f32]| glassbox::matmul::dot(a, b);
        let row = |s: &[f32], r: usize| -> Vec<f32> { s[r * k..(r + 1) * k].to_vec() };
        let k8 = k / 8 * 8;
        let ld = |s: &[f32], p: usize| f32x8::new(s[p..p + 8].try_into().expect("8 floats"));
        for i in (0..m).step_by(2) {
            for j in (0..n).step_by(2) {
                if i + 1 >= m || j + 1 >= n {
                    for a in i..(i + 2).min(m) {
                        for b in j..(j + 2).min(n) {
                            out[a * n + b] = dot(&row(x, a), &row(w, b));
                        }
                    }
                    continue;
                }
                let (x0, x1, w0, w1) = (row(x, i), row(x, i + 1), row(w, j), row(w, j + 1));
                let mut acc = [f32x8::ZERO; 4];
                for p in (0..k8).step_by(8) {
                    let (a0, a1, b0, b1) = (ld(&x0, p), ld(&x1, p), ld(&w0, p), ld(&w1, p));
                    acc[0] = a0.mul_add(b0, acc[0]);
                    acc[1] = a0.mul_add(b1, acc[1]);
                    acc[2] = a1.mul_add(b0, acc[2]);
                    acc[3] = a1.mul_add(b1, acc[3]);
                }
                let tail = |a: &[f32], b: &[f32]| dot(&a[k8..], &b[k8..]);
                out[i * n + j] = acc[0].reduce_add() + tail(&x0, &w0);
                out[i * n + j + 1] = acc[1].reduce_add() + tail(&x0, &w1);
                out[(i + 1) * n + j] = acc[2].reduce_add() + tail(&x1, &w0);
                out[(i + 1) * n + j + 1] = acc[3].reduce_add() + tail(&x1, &w1);
            }
        }
    }
}

/// |kernel − naive| allowed, relative to Σ|x·w| of that output (see tests/kernels_matmul.rs:
/// the kernels add the same products in a different order).
const REL_TOL: f32 = 2e-5;

#[test]
fn flops_per_token_of_smollm2() {
    let s = Shapes {
        d_model: 576,
        kv_dim: 192,
        ffn: 1536,
        layers: 30,
        vocab: 49152,
    };
    assert_eq!(answer::flops_per_token(&s), 268_959_744);
    // and the formula must follow the shapes: twice the layers is 30 more layers' worth
    let s60 = Shapes { layers: 60, ..s };
    assert_eq!(answer::flops_per_token(&s60), 268_959_744 + 212_336_640);
}

#[test]
fn all_kernels_equal_naive_on_awkward_shapes() {
    type Gemm = fn(&[f32], &[f32], &mut [f32], usize, usize, usize);
    type Gemv = fn(&[f32], &[f32], &mut [f32], usize, usize);
    let sizes = [1, 7, 33, 577];
    for m in sizes {
        for k in sizes {
            for n in sizes {
                let (x, w) = (rand_vec(1, m * k), rand_vec(2, n * k));
                let mut want = vec![0.0; m * n];
                matmul_naive(&x, &w, &mut want, m, k, n);
                let scale = matmul_abs_scale(&x, &w, m, k, n);
                let gemms: [(&str, Gemm); 3] = [
                    ("matmul_simd", matmul_simd),
                    ("matmul", matmul),
                    ("my_matmul", answer::my_matmul),
                ];
                for (name, f) in gemms {
                    let mut got = vec![f32::NAN; m * n];
                    f(&x, &w, &mut got, m, k, n);
                    let name = format!("{name} [{m}×{k}]·[{n}×{k}]ᵀ");
                    assert_close_scaled(&name, &got, &want, &scale, REL_TOL);
                }
                if m == 1 {
                    let mut want_v = vec![0.0; n];
                    matvec_naive(&w, &x, &mut want_v, n, k);
                    let gemvs: [(&str, Gemv); 2] =
                        [("matvec_simd", matvec_simd), ("matvec", matvec)];
                    for (name, f) in gemvs {
                        let mut got = vec![f32::NAN; n];
                        f(&w, &x, &mut got, n, k);
                        let name = format!("{name} k={k} n={n}");
                        assert_close_scaled(&name, &got, &want_v, &scale, REL_TOL);
                    }
                }
            }
        }
    }
}

/// Exercise 1's prediction for a 1B Llama (Llama 3.2 1B's shapes), checked with the reference formula.
#[cfg(feature = "solutions")]
#[test]
fn flops_per_token_of_llama_1b() {
    let s = Shapes {
        d_model: 2048,
        kv_dim: 512,
        ffn: 8192,
        layers: 16,
        vocab: 128_256,
    };
    assert_eq!(answer::flops_per_token(&s), 2_471_493_632);
}
