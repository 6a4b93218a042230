//! The forward pass on the tiny random Llama of `tests/fixtures/tiny/` (2 layers, GQA 4/2,
//! vocab 320; written by helper "load"'s `scripts/make_tiny_llama.py`), loaded both ways:
//! `tiny.gguf` (Q/K rows in GGUF order, converted at load) and `hf/` (safetensors). Reference
//! outputs are transformers' on the same files (`reference.json`, `cases[*].gguf` / `.hf`).
//! No download needed.

use std::path::{Path, PathBuf};

use glassbox::compare::{assert_close, max_abs_diff};
use glassbox::model::reference::forward_naive;
use glassbox::model::Llama;
use proptest::prelude::*;
use serde_json::Value;

/// glassbox vs transformers on the tiny model: logits are O(1) and the two compute the same f32
/// function in a different order through 2 layers, so they agree to ~1e-6; 1e-4 still catches
/// any wrong position, head or weight (those move logits by ≥ 1e-2).
const TINY_TOL: f32 = 1e-4;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny")
}

fn reference() -> Value {
    let text = std::fs::read_to_string(dir().join("reference.json"))
        .expect("tests/fixtures/tiny/reference.json");
    serde_json::from_str(&text).expect("reference.json is JSON")
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("a list of numbers")
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn check_against_transformers(m: &Llama, which: &str) {
    let r = reference();
    let n = m.config.num_hidden_layers;
    for case in r["cases"].as_array().unwrap() {
        let ids: Vec<u32> = case["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect();
        let want = &case[which];
        let vocab = m.config.vocab_size;
        let label = format!("tiny {which} ({} ids)", ids.len());
        // Every position, token by token through the cache (the reference has them all) ...
        let mut s = m.new_session(ids.len()).unwrap();
        s.set_capture(n, true);
        let (mut logits, mut emb, mut l0, mut fin) = (vec![], vec![], vec![], vec![]);
        for &id in &ids {
            logits.extend_from_slice(m.forward(&mut s, &[id]).unwrap());
            let cap = s.captured().unwrap();
            emb.extend_from_slice(cap[0]);
            l0.extend_from_slice(cap[1]);
            fin.extend_from_slice(cap[n + 1]);
        }
        assert_close(
            &format!("{label} logits"),
            &logits,
            &floats(&want["logits"]),
            TINY_TOL,
        );
        assert_close(
            &format!("{label} embedding"),
            &emb,
            &floats(&want["hidden_embedding"]),
            TINY_TOL,
        );
        assert_close(
            &format!("{label} layer 0"),
            &l0,
            &floats(&want["hidden_layer0"]),
            TINY_TOL,
        );
        assert_close(
            &format!("{label} final norm"),
            &fin,
            &floats(&want["hidden_final_norm"]),
            TINY_TOL,
        );
        // ... and the last position again as one prefill.
        s.reset();
        let logits = m.forward(&mut s, &ids).unwrap().to_vec();
        let last = &floats(&want["logits"])[(ids.len() - 1) * vocab..];
        assert_close(&format!("{label} prefill logits"), &logits, last, TINY_TOL);
        assert_eq!(
            glassbox::sampler::argmax(&logits) as u64,
            want["greedy_next"].as_u64().unwrap(),
            "{label}: greedy next id"
        );
    }
}

#[test]
fn gguf_matches_transformers() {
    check_against_transformers(&Llama::load(dir().join("tiny.gguf")).unwrap(), "gguf");
}

#[test]
fn safetensors_matches_transformers() {
    check_against_transformers(&Llama::load(dir().join("hf")).unwrap(), "hf");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// On the real file layouts: prefill of a prefix then token-by-token decode equals one full
    /// causal forward pass (the naive reference), at every position.
    #[test]
    fn prefill_then_decode_equals_full_pass(ids in prop::collection::vec(0u32..320, 2..40), split in 1usize..40, gguf in any::<bool>()) {
        let m = Llama::load(if gguf { dir().join("tiny.gguf") } else { dir().join("hf") }).unwrap();
        let vocab = m.config.vocab_size;
        let split = split.min(ids.len());
        let full = forward_naive(&m, &ids).unwrap();
        let mut s = m.new_session(ids.len()).unwrap();
        let got = m.forward(&mut s, &ids[..split]).unwrap().to_vec();
        let (i, d) = max_abs_diff(&got, &full[(split - 1) * vocab..split * vocab]);
        prop_assert!(d <= TINY_TOL, "prefill of {}: max diff {} at {}", split, d, i);
        for t in split..ids.len() {
            let got = m.forward(&mut s, &ids[t..t + 1]).unwrap();
            let (i, d) = max_abs_diff(got, &full[t * vocab..(t + 1) * vocab]);
            prop_assert!(d <= TINY_TOL, "decode at {}: max diff {} at {}", t, d, i);
        }
    }
}
