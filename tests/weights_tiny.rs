//! The tiny random Llama (tests/fixtures/tiny, made by scripts/make_tiny_llama.py) loaded two
//! ways: from the Hugging Face directory (f32 safetensors) and from the llama.cpp-style GGUF
//! (quantized, Q/K rows interleaved). After `ModelFiles` both must hold the same HF-named,
//! HF-ordered matrices, within each tensor's quantization error.

use std::path::{Path, PathBuf};

use glassbox::weights::model_files::{gguf_name_of, ModelFiles, ModelFormat};
use glassbox::weights::tensor::WeightMatrix;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny").join(name)
}

fn reference() -> Value {
    let text = std::fs::read_to_string(fixture("reference.json")).expect("reference.json");
    serde_json::from_str(&text).expect("JSON")
}

fn dequantize(w: &WeightMatrix) -> Vec<f32> {
    let mut out = vec![0f32; w.rows * w.cols];
    for (r, row) in out.chunks_exact_mut(w.cols).enumerate() {
        w.dequantize_row(r, row);
    }
    out
}

/// gguf-py and glassbox dequantize with the same f16 arithmetic; the fixture keeps 6 decimals.
const FIXTURE_ROUNDING: f32 = 1e-6;

#[test]
fn gguf_and_safetensors_hold_the_same_hf_matrices() {
    let hf = ModelFiles::open(&fixture("hf")).expect("open HF dir");
    let gg = ModelFiles::open(&fixture("tiny.gguf")).expect("open GGUF");
    assert_eq!(hf.format, ModelFormat::HfSafetensors);
    assert_eq!(gg.format, ModelFormat::Gguf);
    let mut a = hf.config.clone();
    let b = gg.config.clone();
    // the GGUF has no place for these two HF-only values; everything else must agree
    a.max_position_embeddings = b.max_position_embeddings;
    assert_eq!(a, b);
    assert_eq!(hf.tensors.len(), 21);
    assert_eq!(hf.tensors.keys().collect::<Vec<_>>(), gg.tensors.keys().collect::<Vec<_>>());

    let r = reference();
    let err = r["max_abs_quant_error"].as_object().expect("errors");
    for (name, h) in &hf.tensors {
        let g = &gg.tensors[name];
        assert_eq!((h.rows, h.cols), (g.rows, g.cols), "{name}");
        assert_eq!(g.name, *name, "GGUF tensors are renamed to HF names");
        let (x, y) = (dequantize(h), dequantize(g));
        // each stored value differs from the f32 original by at most the quantization error
        // gguf-py measured for this tensor (plus f32 rounding); a row-order mistake would be
        // off by the size of the weights themselves (≈ 0.15), far above it.
        let bound = err[name].as_f64().expect("error bound") as f32 * 1.0001 + 1e-6;
        let max = x.iter().zip(&y).map(|(p, q)| (p - q).abs()).fold(0f32, f32::max);
        assert!(max <= bound, "{name}: max |Δ| {max} > quantization error {bound}");
    }
    // and the GGUF's un-permuted Q/K equal gguf-py's dequantization, un-permuted in numpy
    for (name, d) in r["dequantized"].as_object().expect("dequantized") {
        let got = dequantize(&gg.tensors[name]);
        let want: Vec<f32> = d["values"].as_array().expect("values").iter().map(|v| v.as_f64().expect("f") as f32).collect();
        assert_eq!(got.len(), want.len());
        for (i, (p, q)) in got.iter().zip(&want).enumerate() {
            assert!((p - q).abs() <= FIXTURE_ROUNDING, "{name}[{i}]: {p} vs {q}");
        }
    }
}

#[test]
fn weights_stay_mapped_except_permuted_qk() {
    use glassbox::weights::tensor::Storage;
    let gg = ModelFiles::open(&fixture("tiny.gguf")).expect("open GGUF");
    for (name, w) in &gg.tensors {
        let owned = matches!(w.storage, Storage::Owned(_));
        let qk = name.ends_with("q_proj.weight") || name.ends_with("k_proj.weight");
        assert_eq!(owned, qk, "{name}: only Q/K are copied (permuted) at load");
    }
    let hf = ModelFiles::open(&fixture("hf")).expect("open HF dir");
    assert!(hf.tensors.values().all(|w| matches!(w.storage, Storage::Mapped { .. })));
}

#[test]
fn tokenizers_and_templates_agree() {
    let hf = ModelFiles::open(&fixture("hf")).expect("open HF dir");
    let gg = ModelFiles::open(&fixture("tiny.gguf")).expect("open GGUF");
    for case in reference()["tokenizer"].as_array().expect("cases") {
        let text = case["text"].as_str().expect("text");
        let want: Vec<u32> = case["ids"].as_array().expect("ids").iter().map(|v| v.as_u64().expect("id") as u32).collect();
        assert_eq!(hf.tokenizer.encode(text), want, "tokenizer.json: {text:?}");
        assert_eq!(gg.tokenizer.encode(text), want, "GGUF vocab: {text:?}");
    }
    assert_eq!(hf.chat_template, gg.chat_template);
    assert!(hf.chat_template.is_some());
    assert_eq!(gg.tokenizer.bos_id(), Some(1));
    assert_eq!(gg.tokenizer.eos_ids(), &[2]);
}

#[test]
fn gguf_names_round_trip() {
    assert_eq!(gguf_name_of("model.layers.17.self_attn.o_proj.weight").as_deref(), Some("blk.17.attn_output.weight"));
    assert_eq!(gguf_name_of("model.layers.0.post_attention_layernorm.weight").as_deref(), Some("blk.0.ffn_norm.weight"));
    assert_eq!(gguf_name_of("lm_head.weight").as_deref(), Some("output.weight"));
    assert_eq!(gguf_name_of("model.layers.x.mlp.up_proj.weight"), None);
}
