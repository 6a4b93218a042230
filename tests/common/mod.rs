//! Shared by the real-model tests: the fixtures of `scripts/fixtures_model.py` and the model.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use glassbox::model::Llama;

/// One prompt of `tests/fixtures/smollm2/prompts.json`.
pub struct Prompt {
    pub name: String,
    pub text: String,
    pub ids: Vec<u32>,
    pub top: Vec<(u32, f32)>,
    pub logits_npy: Option<String>,
    pub hidden_npy: String,
    pub hidden_norms_last: Vec<f32>,
    pub greedy: Vec<u32>,
}

impl Prompt {
    pub fn full_logits(&self, dir: &Path) -> Option<Vec<f32>> {
        let f = self.logits_npy.as_ref()?;
        Some(
            glassbox::formats::npy::read_f32(dir.join(f))
                .expect("fixture .npy")
                .data,
        )
    }
}

pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/smollm2")
}

pub fn fixtures() -> (PathBuf, Vec<Prompt>) {
    let dir = fixture_dir();
    let text = std::fs::read_to_string(dir.join("prompts.json"))
        .expect("tests/fixtures/smollm2/prompts.json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("prompts.json is JSON");
    let ids = |v: &serde_json::Value| -> Vec<u32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect()
    };
    let prompts = v["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| Prompt {
            name: p["name"].as_str().unwrap().to_string(),
            text: p["text"].as_str().unwrap().to_string(),
            ids: ids(&p["ids"]),
            top: p["top"]
                .as_array()
                .unwrap()
                .iter()
                .map(|pair| {
                    (
                        pair[0].as_u64().unwrap() as u32,
                        pair[1].as_f64().unwrap() as f32,
                    )
                })
                .collect(),
            logits_npy: p["logits_npy"].as_str().map(String::from),
            hidden_npy: p["hidden_npy"].as_str().unwrap().to_string(),
            hidden_norms_last: p["hidden_norms_last"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect(),
            greedy: ids(&p["greedy"]["ids"]),
        })
        .collect();
    (dir, prompts)
}

pub fn load_gguf() -> Llama {
    let path = glassbox::data::default_model().expect("the default model (fetched on first use)");
    Llama::load(&path).expect("load the default model")
}

/// Greedy decoding: prefill, then `steps` times argmax → decode that token.
pub fn greedy(m: &Llama, prompt: &[u32], steps: usize) -> Vec<u32> {
    let mut s = m.new_session(prompt.len() + steps).unwrap();
    let mut logits = m.forward(&mut s, prompt).unwrap();
    let mut out = Vec::with_capacity(steps);
    for _ in 0..steps {
        let next = glassbox::sampler::argmax(logits);
        out.push(next);
        if out.len() == steps {
            break;
        }
        logits = m.forward(&mut s, &[next]).unwrap();
    }
    out
}
