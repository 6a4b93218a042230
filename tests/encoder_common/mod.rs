//! Shared by the encoder tests: the MiniLM model directory, the model, and the fixtures of
//! `scripts/fixtures_minilm.py`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use glassbox::model::Bert;

/// all-MiniLM-L6-v2's directory, fetched on first use (`glassbox pull --all` fetches it too).
pub fn minilm_dir() -> PathBuf {
    glassbox::data::default_embedder()
        .expect("all-MiniLM-L6-v2 (fetched on first use; GLASSBOX_DATA)")
}

/// The model, loaded once per test binary.
pub fn minilm() -> &'static Bert {
    static M: OnceLock<Bert> = OnceLock::new();
    M.get_or_init(|| Bert::load(minilm_dir()).expect("load all-MiniLM-L6-v2"))
}

pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minilm")
}

pub fn read_json(name: &str) -> serde_json::Value {
    let path = fixture_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture is JSON")
}

pub fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .expect("a list of ids")
        .iter()
        .map(|x| x.as_u64().expect("an id") as u32)
        .collect()
}

/// One embedding sentence: its text, the ids sentence-transformers fed the model, its vector.
pub struct Sentence {
    pub text: String,
    pub ids: Vec<u32>,
    pub embedding: Vec<f32>,
}

pub fn sentences() -> Vec<Sentence> {
    let v = read_json("sentences.json");
    let npy = glassbox::formats::npy::read_f32(fixture_dir().join("embeddings.npy"))
        .expect("embeddings.npy");
    let d = npy.shape[1];
    v["sentences"]
        .as_array()
        .expect("sentences")
        .iter()
        .zip(npy.data.chunks_exact(d))
        .map(|(s, e)| Sentence {
            text: s["text"].as_str().expect("text").to_string(),
            ids: ids(&s["ids"]),
            embedding: e.to_vec(),
        })
        .collect()
}
