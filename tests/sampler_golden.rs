//! The sampler's steps against golden values from `transformers`' logits processors
//! (RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper, TopKLogitsWarper,
//! TopPLogitsWarper, MinPLogitsWarper), made by scripts/fixtures_sampling.py.

use glassbox::sampler::{
    apply_penalties, apply_temperature, min_p, top_k, top_p, Candidate, Sampler, SamplerConfig,
};
use serde_json::Value;

/// Penalties and temperature are one f32 multiply or divide per element, the same operation
/// torch does: the results are bit-identical, so the tolerance is zero.
const EXACT: f32 = 0.0;
/// Renormalised probabilities: we sum exp in f64, torch in f32; 1e-6 covers f32 rounding.
const PROB_TOL: f64 = 1e-6;

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sampling/processors.json"
    );
    let text = std::fs::read_to_string(path).expect("run scripts/fixtures_sampling.py");
    serde_json::from_str(&text).expect("valid JSON")
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn f32s(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// null (−inf in transformers: the token was removed) → None
fn masked(v: &Value) -> Vec<Option<f32>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().map(|f| f as f32))
        .collect()
}

fn kept_ids(v: &Value) -> Vec<u32> {
    masked(v)
        .iter()
        .enumerate()
        .filter(|(_, x)| x.is_some())
        .map(|(i, _)| i as u32)
        .collect()
}

fn sorted_ids(c: &[Candidate]) -> Vec<u32> {
    let mut ids: Vec<u32> = c.iter().map(|c| c.id).collect();
    ids.sort();
    ids
}

fn cands(logits: &[f32]) -> Vec<Candidate> {
    glassbox::sampler::candidates(logits)
}

fn assert_bits(name: &str, got: &[f32], want: &[f32], tol: f32) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol, "{name}[{i}]: got {g}, want {w}");
    }
}

#[test]
fn each_step_matches_transformers() {
    let fx = fixture();
    for (n, case) in fx["cases"].as_array().unwrap().iter().enumerate() {
        let logits = f32s(&case["logits"]);
        let history = u32s(&case["history"]);
        let cfg = &case["config"];
        let single = &case["single"];

        let mut l = logits.clone();
        apply_penalties(
            &mut l,
            &history,
            cfg["repeat_penalty"].as_f64().unwrap() as f32,
            0.0,
            0.0,
        );
        let want: Vec<f32> = masked(&single["repetition"])
            .iter()
            .map(|x| x.unwrap())
            .collect();
        assert_bits(&format!("case {n} repetition"), &l, &want, EXACT);

        let mut l = logits.clone();
        apply_temperature(&mut l, cfg["temperature"].as_f64().unwrap() as f32);
        let want: Vec<f32> = masked(&single["temperature"])
            .iter()
            .map(|x| x.unwrap())
            .collect();
        assert_bits(&format!("case {n} temperature"), &l, &want, EXACT);

        let mut c = cands(&logits);
        top_k(&mut c, cfg["top_k"].as_u64().unwrap() as usize);
        assert_eq!(sorted_ids(&c), kept_ids(&single["top_k"]), "case {n} top-k");

        let mut c = cands(&logits);
        top_p(&mut c, cfg["top_p"].as_f64().unwrap() as f32);
        assert_eq!(sorted_ids(&c), kept_ids(&single["top_p"]), "case {n} top-p");

        let mut c = cands(&logits);
        min_p(&mut c, cfg["min_p"].as_f64().unwrap() as f32);
        assert_eq!(sorted_ids(&c), kept_ids(&single["min_p"]), "case {n} min-p");

        let (af, ap) = (
            case["frequency_penalty"].as_f64().unwrap() as f32,
            case["presence_penalty"].as_f64().unwrap() as f32,
        );
        let mut l = logits.clone();
        apply_penalties(&mut l, &history, 1.0, af, ap);
        assert_bits(
            &format!("case {n} openai"),
            &l,
            &f32s(&case["openai_penalized"]),
            1e-6,
        );
    }
}

#[test]
fn the_whole_chain_matches_transformers_generate_order() {
    let fx = fixture();
    for (n, case) in fx["cases"].as_array().unwrap().iter().enumerate() {
        let mut logits = f32s(&case["logits"]);
        let history = u32s(&case["history"]);
        let c = &case["config"];
        let cfg = SamplerConfig {
            temperature: c["temperature"].as_f64().unwrap() as f32,
            top_k: c["top_k"].as_u64().unwrap() as usize,
            top_p: c["top_p"].as_f64().unwrap() as f32,
            min_p: c["min_p"].as_f64().unwrap() as f32,
            repeat_penalty: c["repeat_penalty"].as_f64().unwrap() as f32,
            ..Default::default()
        };
        let s = Sampler::new(cfg).unwrap();
        let got = s.candidates(&mut logits, &history);
        assert_eq!(
            sorted_ids(&got),
            kept_ids(&case["chain"]),
            "case {n} chain survivors"
        );
        // the surviving logits are the same numbers, and their softmax is transformers' probs
        let want_probs: Vec<f64> = case["chain_probs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        let max = got
            .iter()
            .map(|c| c.logit)
            .fold(f32::NEG_INFINITY, f32::max);
        let sum: f64 = got.iter().map(|c| ((c.logit - max) as f64).exp()).sum();
        for cand in &got {
            let want_logit = masked(&case["chain"])[cand.id as usize].unwrap();
            assert_eq!(cand.logit, want_logit, "case {n} id {} logit", cand.id);
            let p = ((cand.logit - max) as f64).exp() / sum;
            let w = want_probs[cand.id as usize];
            assert!(
                (p - w).abs() < PROB_TOL,
                "case {n} id {}: p {p} vs {w}",
                cand.id
            );
        }
    }
}
