//! Chapter 18 exercises: `cargo test --test ch18_exercises`.
//!
//! 1. **Derive a backward.** Write `rmsnorm_backward_row`: given one row `x: [d]`, the weight
//!    `w: [d]`, ε and the gradient `dy` reaching RMSNorm's output, return `∂L/∂x`. The test
//!    checks it against f64 central differences of the forward, as `tests/backprop_fd.rs`
//!    checks the crate's own. It ships as a stub (the test is `#[ignore]`d until you write it:
//!    remove the `ignore` line, or run `cargo test --test ch18_exercises -- --ignored`); the
//!    worked solution is behind `--features solutions`.
//! 2. **Change the learning rate and see.** One fixed batch, 30 AdamW steps from the same
//!    initial weights, with lr = 1e-4, 1e-2 and 1.0. Which ends with the lowest loss?
//!    (`ANSWER_2_BEST_LR`.) And does lr = 1.0 end below the starting loss ln 64 ≈ 4.16?
//!    (`ANSWER_2_BIG_LR_LEARNS`.)

use glassbox::compare::rand_vec;
use glassbox::train::data::sample_batch;
use glassbox::train::trainer::{TrainConfig, Trainer};
use glassbox::weights::config::LlamaConfig;

// ---- Exercise 1 ----

/// ∂L/∂x for y = x · r · w, r = (mean(x²) + ε)^(−1/2). See chapter 18, "RMSNorm by hand".
#[cfg(not(feature = "solutions"))]
fn rmsnorm_backward_row(x: &[f32], w: &[f32], eps: f32, dy: &[f32]) -> Vec<f32> {
    // Your derivation here. (Hint: r depends on every x_j; ∂r/∂x_j = −r³·x_j/d.)
    let _ = (x, w, eps, dy);
    vec![0.0; x.len()]
}

#[cfg(feature = "solutions")]
fn rmsnorm_backward_row(x: &[f32], w: &[f32], eps: f32, dy: &[f32]) -> Vec<f32> {
    // ANCHOR: solution_1
    let d = x.len() as f32;
    let r = 1.0 / (x.iter().map(|v| v * v).sum::<f32>() / d + eps).sqrt();
    // g = dy ⊙ w; dx = r · (g − x · r² · ⟨g, x⟩ / d)
    let gx: f32 = (0..x.len()).map(|i| dy[i] * w[i] * x[i]).sum();
    (0..x.len())
        .map(|i| r * (dy[i] * w[i] - x[i] * r * r * gx / d))
        .collect()
    // ANCHOR_END: solution_1
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "exercise 1: write rmsnorm_backward_row, then run with --ignored"
)]
fn exercise_1_rmsnorm_backward_matches_finite_differences() {
    let (d, eps) = (6, 1e-5f32);
    let x = rand_vec(1, d);
    let w: Vec<f32> = rand_vec(2, d).iter().map(|v| 1.0 + 0.5 * v).collect();
    let dy = rand_vec(3, d);
    let got = rmsnorm_backward_row(&x, &w, eps, &dy);
    // L(x) = Σ_i dy_i · y_i(x), in f64
    let loss = |x: &[f64]| {
        let r = 1.0 / (x.iter().map(|v| v * v).sum::<f64>() / d as f64 + eps as f64).sqrt();
        (0..d)
            .map(|i| dy[i] as f64 * x[i] * r * w[i] as f64)
            .sum::<f64>()
    };
    let h = 1e-6;
    for i in 0..d {
        let mut xp: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        xp[i] += h;
        let mut xm = xp.clone();
        xm[i] -= 2.0 * h;
        let fd = (loss(&xp) - loss(&xm)) / (2.0 * h);
        assert!(
            (got[i] as f64 - fd).abs() < 1e-4 * (1.0 + fd.abs()),
            "dx[{i}] = {} but the finite difference says {fd}",
            got[i]
        );
    }
}

// ---- Exercise 2 ----

const ANSWER_2_BEST_LR: f64 = 1e-2;
const ANSWER_2_BIG_LR_LEARNS: bool = true;

fn final_loss(lr: f64) -> f64 {
    let cfg = TrainConfig {
        layers: 1,
        d_model: 32,
        heads: 4,
        kv_heads: 2,
        ffn: 48,
        ctx: 16,
        rope_theta: 10000.0,
        batch: 4,
        accum: 1,
        steps: 30,
        warmup: 3,
        lr,
        min_lr: lr / 10.0,
        weight_decay: 0.1,
        beta1: 0.9,
        beta2: 0.95,
        clip: 1.0,
        seed: 11,
    };
    let config = LlamaConfig {
        hidden_size: 32,
        intermediate_size: 48,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        num_hidden_layers: 1,
        rms_norm_eps: 1e-5,
        rope_theta: 10000.0,
        rope_scaling: None,
        tie_word_embeddings: true,
        vocab_size: 64,
        max_position_embeddings: 16,
        bos_token_id: None,
        eos_token_ids: vec![],
        family: glassbox::weights::family::Family::Llama,
    };
    let ids: Vec<u32> = rand_vec(4, 200)
        .iter()
        .map(|v| ((v + 1.0) * 32.0) as u32 % 64)
        .collect();
    let b = sample_batch(&ids, 4, 16, 1, 0, 0);
    let mut t = Trainer::new(cfg, config).unwrap();
    let mut last = 0.0;
    for _ in 0..30 {
        last = t.step_on(std::slice::from_ref(&b)).loss;
    }
    last
}

#[test]
fn exercise_2_learning_rate() {
    let losses: Vec<(f64, f64)> = [1e-4, 1e-2, 1.0]
        .iter()
        .map(|&lr| (lr, final_loss(lr)))
        .collect();
    for (lr, l) in &losses {
        println!("lr {lr:e}: loss after 30 steps {l:.3}");
    }
    let best = losses.iter().min_by(|a, b| a.1.total_cmp(&b.1)).unwrap().0;
    assert_eq!(best, ANSWER_2_BEST_LR);
    assert_eq!(losses[2].1 < 64f64.ln(), ANSWER_2_BIG_LR_LEARNS);
}
