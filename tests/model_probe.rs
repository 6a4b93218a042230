//! The logit lens and the attention maps (`model::probe`, `glassbox lens`, `glassbox attention`).
//!
//! * The lens's last row is the model's output: the same final norm and head on the same
//!   vector, so its logits equal `Llama::forward`'s bit for bit; every row's top tokens are
//!   sorted, and a target's rank and probability agree with its logits.
//! * An attention map is `[n_heads, T, T]`, zero above the diagonal, every row summing to 1;
//!   and the prefill's rows equal the rows of decode steps that add one token at a time (two
//!   different attention paths through the model, within 1e-5).
//! * The commands: the JSON fields and shapes the help promises, an SVG written, and bad input
//!   (a layer or head that does not exist, a target of two tokens) refused with the name of the
//!   flag.
//!
//! On the tiny Llama of `tests/fixtures/tiny/` (2 layers, 4 query / 2 KV heads) and on
//! SmolLM2-135M (the default model, fetched on first use), where " Paris" must win the last
//! layer.

use std::path::PathBuf;
use std::process::Command;

use glassbox::model::probe::{attention_map, logit_lens, rank_of};
use glassbox::model::Llama;

/// Rows of a softmax sum to 1 up to f32 rounding over a few dozen terms.
const ROW_SUM_TOL: f32 = 1e-5;
/// Prefill (all rows at once) and decode (one row per step) add the same terms in another
/// order; the probabilities agree to f32 rounding.
const PATH_TOL: f32 = 1e-5;

fn tiny_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny/tiny.gguf")
}

fn tiny() -> Llama {
    Llama::load(tiny_path()).expect("the tiny fixture loads")
}

fn smollm2() -> Llama {
    Llama::load(glassbox::data::default_model().expect("the default model")).expect("load")
}

/// The lens's invariants on any model and prompt.
fn check_lens(m: &Llama, ids: &[u32], targets: &[u32]) {
    let lens = logit_lens(m, ids, 5, targets).unwrap();
    assert_eq!(
        lens.len(),
        m.config.num_hidden_layers + 1,
        "embedding + one row per layer"
    );
    assert_eq!(lens[0].layer, None);
    for (i, row) in lens.iter().enumerate().skip(1) {
        assert_eq!(row.layer, Some(i - 1));
    }
    let mut s = m.new_session(ids.len()).unwrap();
    let logits = m.forward(&mut s, ids).unwrap();
    let last = lens.last().unwrap();
    assert_eq!(last.logits.len(), m.config.vocab_size);
    assert!(
        last.logits == logits,
        "the lens after the last layer must be the model's own logits, bit for bit"
    );
    for row in &lens {
        assert_eq!(row.top.len(), 5);
        assert!(
            row.top.windows(2).all(|w| w[0].1 >= w[1].1),
            "top sorted: {:?}",
            row.top
        );
        let mass: f32 = row.top.iter().map(|t| t.1).sum();
        assert!(mass <= 1.0 + 1e-5 && row.top[0].1 > 0.0, "top mass {mass}");
        assert_eq!(rank_of(&row.logits, row.top[0].0), 1);
        for t in &row.targets {
            assert_eq!(t.rank, rank_of(&row.logits, t.id));
            // p = exp(l − max) / Σ exp(l − max), recomputed in f64
            let max = row.logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let z: f64 = row.logits.iter().map(|&l| ((l - max) as f64).exp()).sum();
            let p = ((row.logits[t.id as usize] - max) as f64).exp() / z;
            assert!(
                (t.prob as f64 - p).abs() < 1e-6,
                "target {} p {} vs {p}",
                t.id,
                t.prob
            );
        }
    }
}

/// Shape, causal zeros, rows summing to 1, and prefill rows == decode rows.
fn check_attention(m: &Llama, ids: &[u32], layer: usize) {
    let (nh, t) = (m.config.num_attention_heads, ids.len());
    let w = attention_map(m, ids, layer).unwrap();
    assert_eq!(w.len(), nh * t * t, "[n_heads, T, T]");
    for h in 0..nh {
        for i in 0..t {
            let row = &w[(h * t + i) * t..][..t];
            assert!(
                row[i + 1..].iter().all(|&p| p == 0.0),
                "head {h} row {i}: the future is masked"
            );
            let sum: f32 = row.iter().sum();
            assert!(
                (sum - 1.0).abs() <= ROW_SUM_TOL,
                "head {h} row {i} sums to {sum}"
            );
        }
    }
    // the same rows from decode steps, one token at a time
    let mut s = m.new_session(t).unwrap();
    s.set_attention_probe(Some(layer));
    for (i, &id) in ids.iter().enumerate() {
        m.forward(&mut s, &[id]).unwrap();
        let step = s.attention_probe().unwrap(); // [n_heads, 1, i + 1]
        assert_eq!(step.len(), nh * (i + 1));
        for h in 0..nh {
            let got = &step[h * (i + 1)..][..i + 1];
            let want = &w[(h * t + i) * t..][..i + 1];
            let diff = got
                .iter()
                .zip(want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(
                diff <= PATH_TOL,
                "layer {layer} head {h} row {i}: decode vs prefill {diff:.2e}"
            );
        }
    }
}

#[test]
fn tiny_lens_and_attention() {
    let m = tiny();
    let ids = m.tokenizer.encode("the cat sat on the mat");
    assert!(ids.len() > 4);
    check_lens(&m, &ids, &[5, 300]);
    for layer in 0..m.config.num_hidden_layers {
        check_attention(&m, &ids, layer);
    }
    let err = attention_map(&m, &ids, 2).unwrap_err().to_string();
    assert!(err.contains("layer 2") && err.contains("0 to 1"), "{err}");
    let err = logit_lens(&m, &ids, 5, &[320]).unwrap_err().to_string();
    assert!(err.contains("320") && err.contains("vocabulary"), "{err}");
}

#[test]
fn smollm2_paris_wins_the_last_layer() {
    let m = smollm2();
    let ids = m.tokenizer.encode("The capital of France is");
    let (paris, london) = (7042u32, 4528u32);
    check_lens(&m, &ids, &[paris, london]);
    let lens = logit_lens(&m, &ids, 5, &[paris, london]).unwrap();
    let last = lens.last().unwrap();
    assert_eq!(last.top[0].0, paris);
    assert_eq!(last.targets[0].rank, 1);
    assert!(last.targets[1].rank > 1);
    check_attention(&m, &ids, 0);
    check_attention(&m, &ids, 14);
}

/// `glassbox ARGS…` on the tiny model; (success, stdout, stderr).
fn glassbox(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_glassbox"))
        .args(args)
        .output()
        .expect("run glassbox");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_commands_keep_their_contract() {
    let model = tiny_path();
    let model = model.to_str().unwrap();
    let dir = std::env::temp_dir().join(format!("glassbox-probe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (lens_svg, att_svg) = (dir.join("lens.svg"), dir.join("att.svg"));
    let prompt = "the cat sat";

    let (ok, out, err) = glassbox(&[
        "lens",
        "-m",
        model,
        "--prompt",
        prompt,
        "--target",
        "t",
        "--json",
        "--out",
        lens_svg.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let layers = v["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3, "embedding + 2 layers");
    assert!(layers[0]["layer"].is_null() && layers[2]["layer"] == 1);
    for l in layers {
        assert_eq!(l["top"].as_array().unwrap().len(), 5);
        assert_eq!(l["targets"][0]["token"], "t");
        assert!(l["targets"][0]["rank"].as_u64().unwrap() >= 1);
    }
    let svg = std::fs::read_to_string(&lens_svg).unwrap();
    assert!(svg.starts_with("<svg") && svg.ends_with("</svg>") && svg.contains("<title>"));

    let (ok, out, err) = glassbox(&[
        "attention",
        "-m",
        model,
        "--prompt",
        prompt,
        "--layer",
        "1",
        "--json",
        "--out",
        att_svg.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let t = v["ids"].as_array().unwrap().len();
    assert_eq!(v["layer"], 1);
    assert_eq!(v["heads"], serde_json::json!([0, 1, 2, 3]));
    assert_eq!(v["kv_heads"], serde_json::json!([0, 0, 1, 1]));
    let w = v["weights"].as_array().unwrap();
    assert_eq!(w.len(), 4);
    for head in w {
        let rows = head.as_array().unwrap();
        assert_eq!(rows.len(), t);
        for row in rows {
            let row: Vec<f64> = row
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_f64().unwrap())
                .collect();
            assert_eq!(row.len(), t);
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-5);
        }
    }
    let svg = std::fs::read_to_string(&att_svg).unwrap();
    // one cell per (head, query, key), masked ones included
    assert_eq!(
        svg.matches(r#"stroke-width="0.5""#).count(),
        4 * t * t,
        "cells of 4 heads"
    );

    // one head: the table prints every row of it
    let (ok, out, err) = glassbox(&["attention", "-m", model, "--prompt", prompt, "--head", "2"]);
    assert!(ok, "{err}");
    assert!(out.contains("head 2 (KV head 1)"), "{out}");

    for (args, says) in [
        (vec!["attention", "--layer", "2"], "layer 2"),
        (vec!["attention", "--head", "4"], "--head 4"),
        (vec!["lens", "--target", "the cat"], "--target"),
    ] {
        let mut all = vec![args[0], "-m", model, "--prompt", prompt];
        all.extend(&args[1..]);
        let (ok, _, err) = glassbox(&all);
        assert!(!ok && err.contains(says), "{all:?}: {err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
