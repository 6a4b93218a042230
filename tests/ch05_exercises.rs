//! Chapter 5 exercises: counting FLOPs, and a register-tiled matmul of your own.
//!
//! The exercises ship open: each function in `answer` below is a `todo!()` for you to replace.
//! A plain `cargo test` skips them (they are `#[ignore]`d, so the suite stays green); run yours
//! with
//!
//! ```text
//! cargo test --release --test ch05_exercises -- --ignored
//! ```
//!
//! The reference solutions are in `tests/solutions/ch05.rs` (and the book's appendix);
//! `cargo test --test ch05_exercises --features solutions` checks them.
//!
//! 1. **Predict the number.** How many floating-point operations do a 1B Llama's matrix
//!    products cost per token (Llama 3.2 1B: d 2048, kv_dim 512, ffn 8192, 16 layers,
//!    vocab 128,256, tied head)? Write your number in `llama_1b_flops`.
//! 2. **The formula.** Write `flops_per_token` in terms of the shapes; the test checks it on
//!    SmolLM2 (268,959,744), on SmolLM2 with 60 layers and on the 1B model, against the
//!    parameter counts of the config.
//! 3. **Your own kernel.** `my_matmul` must equal `matmul_naive` on every shape built from
//!    1, 7, 33 and 577 (sizes that do not fill an 8-lane register, and one past it). Write it
//!    with a 2×2 register tile of `f32x8` accumulators (rows i, i+1 of x against rows j, j+1
//!    of w: four running sums, each loaded vector used twice).

use glassbox::compare::{assert_close_scaled, matmul_abs_scale, rand_vec};
use glassbox::matmul::{matmul, matmul_naive, matmul_simd, matvec, matvec_naive, matvec_simd};
use glassbox::weights::config::LlamaConfig;
use serde_json::json;
use std::path::Path;

/// The shapes of a Llama that decide its matmul FLOPs.
pub struct Shapes {
    pub d_model: u64,
    pub kv_dim: u64,
    pub ffn: u64,
    pub layers: u64,
    pub vocab: u64,
}

/// Your answers: replace each `todo!()`.
#[cfg(not(feature = "solutions"))]
#[allow(unused_variables)]
mod answer {
    use super::Shapes;

    /// Exercise 1: your prediction for Llama 3.2 1B, FLOPs of matrix products per token.
    pub fn llama_1b_flops() -> u64 {
        todo!("exercise 1: 2 FLOPs per weight used in a product; which weights are used?")
    }

    /// Exercise 2: matmul FLOPs per token from the shapes.
    pub fn flops_per_token(s: &Shapes) -> u64 {
        todo!("exercise 2: per layer q, k, v, o, gate, up, down, then the output head")
    }

    /// Exercise 3: x: [m, k], w: [n, k] → out: [m, n] = x · wᵀ, with a 2×2 register tile.
    pub fn my_matmul(x: &[f32], w: &[f32], out: &mut [f32], m: usize, k: usize, n: usize) {
        todo!("exercise 3: four f32x8 accumulators for out[i][j], out[i][j+1], out[i+1][j], out[i+1][j+1]")
    }
}

/// The reference solutions (`--features solutions`).
#[cfg(feature = "solutions")]
#[path = "solutions/ch05.rs"]
mod answer;

/// |kernel − naive| allowed, relative to Σ|x·w| of that output (see tests/kernels_matmul.rs:
/// the kernels add the same products in a different order).
const REL_TOL: f32 = 2e-5;

/// The sizes of the awkward-shape sweep.
const SIZES: [usize; 4] = [1, 7, 33, 577];

fn smollm2(layers: u64) -> Shapes {
    Shapes {
        d_model: 576,
        kv_dim: 192,
        ffn: 1536,
        layers,
        vocab: 49152,
    }
}

fn llama_1b() -> Shapes {
    Shapes {
        d_model: 2048,
        kv_dim: 512,
        ffn: 8192,
        layers: 16,
        vocab: 128_256,
    }
}

/// 2 × (weights used in a product) from the config's parameter counts: every attention and MLP
/// weight, and the head (the embedding, when tied); the norms are not products.
fn flops_from_config(s: &Shapes, heads: u64) -> u64 {
    let head_dim = s.d_model / heads;
    let v = json!({
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": s.d_model, "intermediate_size": s.ffn,
        "num_attention_heads": heads, "num_key_value_heads": s.kv_dim / head_dim,
        "num_hidden_layers": s.layers, "rms_norm_eps": 1e-5, "rope_theta": 100000.0,
        "tie_word_embeddings": true, "vocab_size": s.vocab, "max_position_embeddings": 8192,
        "bos_token_id": 1, "eos_token_id": 2
    });
    let c = LlamaConfig::from_hf_value(&v, Path::new("config.json")).expect("a valid config");
    let p = c.param_counts();
    2 * (p.attention + p.mlp + p.embeddings) as u64
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::llama_1b_flops, then run with -- --ignored"
)]
fn exercise_1_predict_llama_1b() {
    let want = flops_from_config(&llama_1b(), 32);
    let yours = answer::llama_1b_flops();
    assert_eq!(
        yours, want,
        "your prediction {yours}, the config gives {want}"
    );
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: write answer::flops_per_token, then run with -- --ignored"
)]
fn exercise_2_flops_formula() {
    assert_eq!(answer::flops_per_token(&smollm2(30)), 268_959_744);
    for (name, s, heads) in [
        ("SmolLM2, 60 layers", smollm2(60), 9),
        ("Llama 3.2 1B", llama_1b(), 32),
    ] {
        let want = flops_from_config(&s, heads);
        let yours = answer::flops_per_token(&s);
        assert_eq!(
            yours, want,
            "{name}: your formula {yours}, the config {want}"
        );
    }
}

/// Every shape of the sweep: naive result, the scale Σ|x·w| of each output, and the inputs.
fn sweep(mut check: impl FnMut(&[f32], &[f32], &[f32], &[f32], usize, usize, usize)) {
    for m in SIZES {
        for k in SIZES {
            for n in SIZES {
                let (x, w) = (rand_vec(1, m * k), rand_vec(2, n * k));
                let mut want = vec![0.0; m * n];
                matmul_naive(&x, &w, &mut want, m, k, n);
                let scale = matmul_abs_scale(&x, &w, m, k, n);
                check(&x, &w, &want, &scale, m, k, n);
            }
        }
    }
}

/// Not an exercise: the library's own kernels on the same awkward shapes.
#[test]
fn library_kernels_equal_naive_on_awkward_shapes() {
    type Gemm = fn(&[f32], &[f32], &mut [f32], usize, usize, usize);
    type Gemv = fn(&[f32], &[f32], &mut [f32], usize, usize);
    sweep(|x, w, want, scale, m, k, n| {
        let gemms: [(&str, Gemm); 2] = [("matmul_simd", matmul_simd), ("matmul", matmul)];
        for (name, f) in gemms {
            let mut got = vec![f32::NAN; m * n];
            f(x, w, &mut got, m, k, n);
            let name = format!("{name} [{m}×{k}]·[{n}×{k}]ᵀ");
            assert_close_scaled(&name, &got, want, scale, REL_TOL);
        }
        if m == 1 {
            let mut want_v = vec![0.0; n];
            matvec_naive(w, x, &mut want_v, n, k);
            let gemvs: [(&str, Gemv); 2] = [("matvec_simd", matvec_simd), ("matvec", matvec)];
            for (name, f) in gemvs {
                let mut got = vec![f32::NAN; n];
                f(w, x, &mut got, n, k);
                let name = format!("{name} k={k} n={n}");
                assert_close_scaled(&name, &got, &want_v, scale, REL_TOL);
            }
        }
    });
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: write answer::my_matmul, then run with -- --ignored"
)]
fn exercise_3_my_matmul_equals_naive() {
    sweep(|x, w, want, scale, m, k, n| {
        let mut got = vec![f32::NAN; m * n];
        answer::my_matmul(x, w, &mut got, m, k, n);
        let name = format!("my_matmul [{m}×{k}]·[{n}×{k}]ᵀ");
        assert_close_scaled(&name, &got, want, scale, REL_TOL);
    });
}
