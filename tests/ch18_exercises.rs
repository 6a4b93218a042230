//! Chapter 18 exercises: a backward by hand, and the learning rate.
//!
//! The exercises ship open: each function in `answer` below is a `todo!()` for you to replace.
//! A plain `cargo test` skips them (they are `#[ignore]`d, so the suite stays green); run yours
//! with
//!
//! ```text
//! cargo test --test ch18_exercises -- --ignored
//! ```
//!
//! A wrong answer fails with the computed value beside yours. The reference solutions are in
//! `tests/solutions/ch18.rs` (and the book's appendix); `cargo test --test ch18_exercises
//! --features solutions -- --nocapture` checks them and prints the three losses.
//!
//! 1. **Derive a backward.** Write `answer::rmsnorm_backward_row`: given one row `x: [d]`, the
//!    weight `w: [d]`, ε and the gradient `dy` reaching RMSNorm's output, return `∂L/∂x`. The
//!    test checks it against f64 central differences of the forward, as `tests/backprop_fd.rs`
//!    checks the crate's own.
//! 2. **Change the learning rate and see.** One fixed batch, 30 AdamW steps from the same
//!    initial weights, with lr = 1e-4, 1e-2 and 1.0. Which ends with the lowest loss? And does
//!    lr = 1.0 end below the starting loss ln 64 ≈ 4.16? (`answer::learning_rate`.)

use glassbox::compare::rand_vec;
use glassbox::train::data::sample_batch;
use glassbox::train::trainer::{TrainConfig, Trainer};
use glassbox::weights::config::LlamaConfig;

/// Your answers: replace each `todo!()`.
#[cfg(not(feature = "solutions"))]
#[allow(unused_variables)]
mod answer {
    /// Exercise 1: ∂L/∂x for y = x · r · w, r = (mean(x²) + ε)^(−1/2), given dy = ∂L/∂y.
    pub fn rmsnorm_backward_row(x: &[f32], w: &[f32], eps: f32, dy: &[f32]) -> Vec<f32> {
        todo!(
            "exercise 1: r depends on every x_j, ∂r/∂x_j = −r³·x_j/d (chapter 18, RMSNorm by hand)"
        )
    }

    /// Exercise 2: (the learning rate that ends lowest, whether lr 1.0 ends below ln 64).
    pub fn learning_rate() -> (f64, bool) {
        todo!("exercise 2: too small barely moves in 30 steps; too large overshoots")
    }
}

/// The reference solutions (`--features solutions`).
#[cfg(feature = "solutions")]
#[path = "solutions/ch18.rs"]
mod answer;

// ---- Exercise 1 ----

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: write answer::rmsnorm_backward_row, then run with -- --ignored"
)]
fn exercise_1_rmsnorm_backward_matches_finite_differences() {
    let (d, eps) = (6, 1e-5f32);
    let x = rand_vec(1, d);
    let w: Vec<f32> = rand_vec(2, d).iter().map(|v| 1.0 + 0.5 * v).collect();
    let dy = rand_vec(3, d);
    let got = answer::rmsnorm_backward_row(&x, &w, eps, &dy);
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
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::learning_rate, then run with -- --ignored"
)]
fn exercise_2_learning_rate() {
    let losses: Vec<(f64, f64)> = [1e-4, 1e-2, 1.0]
        .iter()
        .map(|&lr| (lr, final_loss(lr)))
        .collect();
    for (lr, l) in &losses {
        println!("lr {lr:e}: loss after 30 steps {l:.3}");
    }
    let best = losses.iter().min_by(|a, b| a.1.total_cmp(&b.1)).unwrap().0;
    let got = (best, losses[2].1 < 64f64.ln());
    let yours = answer::learning_rate();
    assert_eq!(yours, got, "your answer {yours:?}; the losses {losses:?}");
}
