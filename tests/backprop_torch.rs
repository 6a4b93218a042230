//! The hand-written backward pass and AdamW against PyTorch autograd and `torch.optim.AdamW`
//! (fixture: `scripts/fixtures_train.py`, torch 2.15.0 / transformers 5.24.0): the same
//! initial weights and batch give the same loss, the same gradient for every parameter, and
//! after 10 AdamW steps (warmup + cosine, clipping, weight decay) the same weights. And a
//! checkpoint written by `glassbox train` gives the same logits in transformers and glassbox.

use std::path::{Path, PathBuf};

use glassbox::compare::max_abs_diff;
use glassbox::model::Llama;
use glassbox::train::checkpoint::read_params;
use glassbox::train::model::Batch;
use glassbox::train::params::Params;
use glassbox::train::trainer::{TrainConfig, Trainer};
use glassbox::weights::config::LlamaConfig;
use serde_json::Value;

/// Gradients: f32 sums of hundreds of terms in a different order than PyTorch's (our GEMM,
/// MKL/oneDNN's, attention by rows vs by matrices), each ≈ 1e-7 relative; over two layers of
/// backward the measured max difference is ≤ 1.5e-6 of the tensor's largest gradient. 1e-5 of
/// it leaves room for other CPUs' rounding and still catches any wrong term (a missing
/// factor or index is off by the gradient's own size).
const GRAD_REL: f32 = 1e-5;
/// Weights after 10 AdamW steps: each update is lr · m/(√v + ε), about lr in size whatever
/// the gradient, so a gradient entry that is ≈ 0 can flip its update's sign on rounding.
/// 2e-5 absolute (0.2% of the peak lr, weights are ≈ 0.2) was the largest seen ×10.
const WEIGHTS_AFTER_10_ABS: f32 = 2e-5;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/train")
}

fn reference() -> Value {
    let text = std::fs::read_to_string(fixtures().join("reference.json")).expect("reference.json");
    serde_json::from_str(&text).expect("json")
}

fn setup(r: &Value) -> (Trainer, Batch) {
    let c = &r["config"];
    let u = |k: &str| c[k].as_u64().unwrap() as usize;
    let config = LlamaConfig {
        hidden_size: u("hidden_size"),
        intermediate_size: u("intermediate_size"),
        num_attention_heads: u("num_attention_heads"),
        num_key_value_heads: u("num_key_value_heads"),
        num_hidden_layers: u("num_hidden_layers"),
        rms_norm_eps: c["rms_norm_eps"].as_f64().unwrap() as f32,
        rope_theta: c["rope_theta"].as_f64().unwrap() as f32,
        rope_scaling: None,
        tie_word_embeddings: true,
        vocab_size: u("vocab_size"),
        max_position_embeddings: u("max_position_embeddings"),
        bos_token_id: None,
        eos_token_ids: vec![],
        family: glassbox::weights::family::Family::Llama,
    };
    let o = &r["optim"];
    let f = |k: &str| o[k].as_f64().unwrap();
    let (batch, seq) = (
        r["batch"].as_u64().unwrap() as usize,
        r["seq"].as_u64().unwrap() as usize,
    );
    let cfg = TrainConfig {
        layers: config.num_hidden_layers,
        d_model: config.hidden_size,
        heads: config.num_attention_heads,
        kv_heads: config.num_key_value_heads,
        ffn: config.intermediate_size,
        ctx: seq,
        rope_theta: config.rope_theta,
        batch,
        accum: 1,
        steps: f("steps") as usize,
        warmup: f("warmup") as usize,
        lr: f("lr"),
        min_lr: f("min_lr"),
        weight_decay: f("weight_decay") as f32,
        beta1: f("beta1") as f32,
        beta2: f("beta2") as f32,
        clip: f("clip"),
        seed: 0,
    };
    let params = read_params(&fixtures().join("init.safetensors"), &config).expect("init weights");
    let ids = |k: &str| -> Vec<u32> {
        r[k].as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect()
    };
    let b = Batch {
        inputs: ids("inputs"),
        targets: ids("targets"),
        batch,
        seq,
    };
    (Trainer::with_params(cfg, config, params), b)
}

/// Compare every tensor; print each one's max difference; fail past `tol(tensor)`.
fn compare_all(
    what: &str,
    got: &Params,
    want: &Params,
    c: &LlamaConfig,
    tol: impl Fn(&[f32]) -> f32,
) {
    let mut worst = (String::new(), 0.0f32);
    for ((name, _), (g, w)) in Params::names_and_shapes(c)
        .iter()
        .zip(got.tensors().into_iter().zip(want.tensors()))
    {
        let (i, d) = max_abs_diff(g, w);
        let t = tol(w);
        println!(
            "{what} {name:<48} max |diff| {d:.3e} (tolerance {t:.1e}) at {i}: {} vs {}",
            g[i], w[i]
        );
        assert!(
            d <= t,
            "{what} {name}: max |diff| {d:e} > {t:e} at index {i} ({} vs {})",
            g[i],
            w[i]
        );
        if d > worst.1 {
            worst = (name.clone(), d);
        }
    }
    println!("{what}: worst {} {:.3e}", worst.0, worst.1);
}

#[test]
fn loss_and_every_gradient_equal_pytorch() {
    let r = reference();
    let (mut t, b) = setup(&r);
    let (loss, _) = t.accumulate(std::slice::from_ref(&b));
    let want = r["loss"].as_f64().unwrap();
    println!("loss glassbox {loss:.7} PyTorch {want:.7}");
    assert!((loss - want).abs() < 1e-5, "loss {loss} vs PyTorch {want}");
    let grads = read_params(&fixtures().join("grads.safetensors"), &t.config).unwrap();
    let max_abs = |w: &[f32]| w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    compare_all("grad", t.grads(), &grads, &t.config.clone(), |w| {
        GRAD_REL * max_abs(w)
    });
}

#[test]
fn weights_after_10_adamw_steps_equal_pytorch() {
    let r = reference();
    let (mut t, b) = setup(&r);
    let want_losses = r["step_losses"].as_array().unwrap();
    let want_norms = r["grad_norms"].as_array().unwrap();
    for s in 0..10 {
        let rep = t.step_on(std::slice::from_ref(&b));
        let (wl, wn) = (
            want_losses[s].as_f64().unwrap(),
            want_norms[s].as_f64().unwrap(),
        );
        println!(
            "step {s}: loss {:.6} (PyTorch {wl:.6}), grad norm {:.5} ({wn:.5})",
            rep.loss, rep.grad_norm
        );
        assert!(
            (rep.loss - wl).abs() < 1e-4,
            "step {s}: loss {} vs {wl}",
            rep.loss
        );
        assert!(
            (rep.grad_norm - wn).abs() < 1e-4 * wn,
            "step {s}: grad norm {} vs {wn}",
            rep.grad_norm
        );
    }
    let after = read_params(&fixtures().join("after10.safetensors"), &t.config).unwrap();
    compare_all(
        "weights after 10 steps",
        &t.params,
        &after,
        &t.config.clone(),
        |_| WEIGHTS_AFTER_10_ABS,
    );
}

/// Logits of transformers and glassbox on a checkpoint written by `glassbox train`.
const LOGITS_ABS: f32 = 1e-4;

#[test]
fn trained_checkpoint_logits_equal_transformers() {
    let dir = fixtures().join("tiny-ckpt");
    let text = std::fs::read_to_string(dir.join("transformers_logits.json")).expect("fixture");
    let r: Value = serde_json::from_str(&text).unwrap();
    let model = Llama::load(&dir).expect("glassbox loads its own checkpoint");
    let vocab = model.config.vocab_size;
    for s in r["sequences"].as_array().unwrap() {
        let ids: Vec<u32> = s["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        let want: Vec<f32> = s["logits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        // one position at a time through the KV-cache, every position's logits compared
        let mut sess = model.new_session(ids.len()).unwrap();
        for (p, id) in ids.iter().enumerate() {
            let got = model.forward(&mut sess, &[*id]).unwrap();
            let (i, d) = max_abs_diff(got, &want[p * vocab..(p + 1) * vocab]);
            assert!(
                d <= LOGITS_ABS,
                "sequence of {} ids, position {p}: max |diff| {d:e} at {i}",
                ids.len()
            );
        }
        println!(
            "{} ids: logits equal transformers' within {LOGITS_ABS:e}",
            ids.len()
        );
    }
    let want_ids: Vec<u32> = r["text_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    assert_eq!(
        model.tokenizer.encode(r["text"].as_str().unwrap()),
        want_ids,
        "tokenizer.json as transformers reads it"
    );
}
