//! Training as a whole: the loss goes down on a fixed batch (overfit), gradient accumulation
//! equals one big batch, the whole model's gradient agrees with directional finite
//! differences, a resumed run equals an uninterrupted one bit for bit, and the checkpoint
//! loads in glassbox's inference path with the training forward's logits.

use std::path::{Path, PathBuf};

use glassbox::compare::{max_abs_diff, rand_vec};
use glassbox::model::Llama;
use glassbox::train::data::sample_batch;
use glassbox::train::model::{forward, Batch};
use glassbox::train::params::Params;
use glassbox::train::run::{run, RunOptions};
use glassbox::train::trainer::{TrainConfig, Trainer};
use glassbox::weights::config::LlamaConfig;

fn tiny_cfg(vocab: usize) -> (TrainConfig, LlamaConfig) {
    let cfg = TrainConfig {
        layers: 2,
        d_model: 32,
        heads: 4,
        kv_heads: 2,
        ffn: 48,
        ctx: 16,
        rope_theta: 10000.0,
        batch: 4,
        accum: 1,
        steps: 40,
        warmup: 4,
        lr: 1e-2,
        min_lr: 1e-3,
        weight_decay: 0.1,
        beta1: 0.9,
        beta2: 0.95,
        clip: 1.0,
        seed: 7,
    };
    let config = LlamaConfig {
        hidden_size: 32,
        intermediate_size: 48,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        num_hidden_layers: 2,
        rms_norm_eps: 1e-5,
        rope_theta: 10000.0,
        rope_scaling: None,
        tie_word_embeddings: true,
        vocab_size: vocab,
        max_position_embeddings: 16,
        bos_token_id: None,
        eos_token_ids: vec![],
        family: glassbox::weights::family::Family::Llama,
    };
    (cfg, config)
}

fn random_ids(seed: u64, n: usize, vocab: usize) -> Vec<u32> {
    rand_vec(seed, n)
        .iter()
        .map(|v| ((v + 1.0) * 0.5 * vocab as f32) as u32 % vocab as u32)
        .collect()
}

#[test]
fn overfits_a_fixed_batch() {
    let (cfg, config) = tiny_cfg(64);
    let mut t = Trainer::new(cfg, config).unwrap();
    let ids = random_ids(3, 4 * 17, 64);
    let b = sample_batch(&ids, 4, 16, 1, 0, 0);
    let first = t.step_on(std::slice::from_ref(&b)).loss;
    let mut last = first;
    for _ in 1..40 {
        last = t.step_on(std::slice::from_ref(&b)).loss;
    }
    println!(
        "loss on one fixed batch: {first:.3} → {last:.3} in 40 steps (ln 64 = {:.3})",
        64f64.ln()
    );
    assert!(
        (first - 64f64.ln()).abs() < 0.1,
        "initial loss {first} is not ≈ ln V"
    );
    assert!(last < 0.5 * first, "loss did not go down: {first} → {last}");
}

#[test]
fn accumulating_two_micro_batches_equals_one_batch() {
    let (mut cfg, config) = tiny_cfg(64);
    cfg.batch = 2;
    let ids = random_ids(5, 400, 64);
    let (b1, b2) = (
        sample_batch(&ids, 2, 16, 1, 0, 0),
        sample_batch(&ids, 2, 16, 1, 0, 1),
    );
    let both = Batch {
        inputs: [b1.inputs.clone(), b2.inputs.clone()].concat(),
        targets: [b1.targets.clone(), b2.targets.clone()].concat(),
        batch: 4,
        seq: 16,
    };
    let mut a = Trainer::new(cfg.clone(), config.clone()).unwrap();
    let mut b = Trainer::new(cfg, config).unwrap();
    let (la, _) = a.accumulate(&[b1, b2]);
    let (lb, _) = b.accumulate(&[both]);
    assert!((la - lb).abs() < 1e-6, "{la} vs {lb}");
    for (x, y) in a.grads().tensors().into_iter().zip(b.grads().tensors()) {
        let scale = y.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
        let (i, d) = max_abs_diff(x, y);
        assert!(
            d <= 1e-5 * scale,
            "accumulated gradient differs by {d} at {i} (scale {scale})"
        );
    }
}

/// The whole model's gradient along a random direction u, tensor by tensor:
/// ⟨∇L, u⟩ vs (L(θ + h·u) − L(θ − h·u)) / 2h. In f32 (the model has no f64 path) with h = 1e-3
/// on weights of size 0.02: the loss is ≈ 4, summed in f64 from f32 logits; the measured
/// agreement is ≈ 1e-5 absolute (5 digits). Tolerance: 1% of the derivative + 1e-4.
#[test]
fn whole_model_gradient_matches_directional_differences() {
    let (cfg, config) = tiny_cfg(64);
    let mut t = Trainer::new(cfg, config.clone()).unwrap();
    let ids = random_ids(9, 200, 64);
    let b = sample_batch(&ids, 2, 16, 1, 0, 0);
    t.accumulate(std::slice::from_ref(&b));
    let (grads, p0) = (t.grads().clone(), t.params.clone());
    let loss_at = |p: &Params| {
        let (_, mut logits) = forward(p, &config, &t.rope, &b);
        glassbox::train::loss::cross_entropy(&mut logits, &b.targets, 64, 0.0) / 32.0
    };
    let names = Params::names_and_shapes(&config);
    for (i, (name, _)) in names.iter().enumerate() {
        let u = rand_vec(100 + i as u64, grads.tensors()[i].len());
        let analytic: f64 = grads.tensors()[i]
            .iter()
            .zip(&u)
            .map(|(g, u)| *g as f64 * *u as f64)
            .sum();
        let h = 1e-3f32;
        let shifted = |sign: f32| {
            let mut p = p0.clone();
            p.tensors_mut()[i]
                .iter_mut()
                .zip(&u)
                .for_each(|(w, u)| *w += sign * h * u);
            loss_at(&p)
        };
        let fd = (shifted(1.0) - shifted(-1.0)) / (2.0 * h as f64);
        println!("{name:<48} ⟨g, u⟩ {analytic:+.5}  finite difference {fd:+.5}");
        assert!(
            (fd - analytic).abs() <= 0.01 * analytic.abs() + 1e-4,
            "{name}: {analytic} vs {fd}"
        );
    }
}

fn corpus_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    vec![
        root.join("README.md"),
        root.join("book/src/ch01-tokenizer.md"),
    ]
}

fn options(out: &Path) -> RunOptions {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (mut cfg, _) = tiny_cfg(0);
    cfg.steps = 6;
    RunOptions {
        cfg,
        data: corpus_files(),
        tokenizer: root.join("tests/fixtures/tiny/hf/tokenizer.json"),
        val_fraction: 0.1,
        eval_every: 3,
        eval_batches: 2,
        save_every: 3,
        keep: 2,
        sample_prompts: vec!["The".into()],
        sample_tokens: 5,
        out: out.to_path_buf(),
        resume: false,
        stop_after: None,
        quiet: true,
    }
}

#[test]
fn resumed_run_equals_uninterrupted_run_and_loads_for_inference() {
    let tmp = std::env::temp_dir().join(format!("glassbox-train-{}", std::process::id()));
    let (a, b) = (tmp.join("straight"), tmp.join("resumed"));
    let _ = std::fs::remove_dir_all(&tmp);
    let straight = run(&options(&a)).unwrap();
    assert_eq!(straight.steps_done, 6);
    let stopped = run(&RunOptions {
        stop_after: Some(3),
        ..options(&b)
    })
    .unwrap();
    assert_eq!(stopped.steps_done, 3);
    // the resumed run takes its settings from the checkpoint (a wrong --lr here is ignored)
    let mut o = options(&b);
    o.resume = true;
    o.cfg.lr = 123.0;
    let resumed = run(&o).unwrap();
    assert_eq!(resumed.steps_done, 6);
    for f in [
        "model.safetensors",
        "checkpoint-000006/optimizer.safetensors",
    ] {
        let (x, y) = (
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
        );
        assert!(
            x == y,
            "{f}: the resumed run differs from the uninterrupted one"
        );
    }
    let log = |d: &Path| std::fs::read_to_string(d.join("log.jsonl")).unwrap();
    let losses = |s: String| s.lines().filter(|l| l.contains("\"loss\"")).count();
    assert_eq!(losses(log(&a)), 6);
    assert_eq!(losses(log(&b)), 6, "the resumed log has every step once");

    // the checkpoint is a model directory: inference logits equal the training forward's
    let model = Llama::load(&a).unwrap();
    let p = glassbox::train::checkpoint::read_params(&a.join("model.safetensors"), &model.config)
        .unwrap();
    let ids: Vec<u32> = (0..16).map(|i| (i * 37 % 300) as u32).collect();
    let batch = Batch {
        inputs: ids.clone(),
        targets: ids.clone(),
        batch: 1,
        seq: 16,
    };
    let (_, train_cfg) = tiny_cfg(model.config.vocab_size);
    let rope = glassbox::rope::RopeTable::new(8, 16, 10000.0, None);
    let (_, logits) = forward(&p, &train_cfg, &rope, &batch);
    let mut s = model.new_session(16).unwrap();
    let last = model.forward(&mut s, &ids).unwrap();
    let v = model.config.vocab_size;
    let (i, d) = max_abs_diff(last, &logits[15 * v..]);
    assert!(d < 1e-4, "inference vs training forward: {d} at {i}");
    let _ = std::fs::remove_dir_all(&tmp);
}
