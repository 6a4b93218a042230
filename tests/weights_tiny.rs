//! The tiny random Llama (tests/fixtures/tiny, made by scripts/make_tiny_llama.py) loaded two
//! ways: from the Hugging Face directory (f32 safetensors) and from the llama.cpp-style GGUF
//! (quantized, Q/K rows interleaved). After `ModelFiles` both must hold the same HF-named,
//! HF-ordered matrices, within each tensor's quantization error.

use std::path::{Path, PathBuf};

use glassbox::weights::checkpoint::gguf_name_of;
use glassbox::weights::model_files::{ModelFiles, ModelFormat};
use glassbox::weights::tensor::WeightMatrix;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tiny")
        .join(name)
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
    assert_eq!(hf.weights.by_name().len(), 21);
    assert_eq!(
        hf.weights.by_name().keys().collect::<Vec<_>>(),
        gg.weights.by_name().keys().collect::<Vec<_>>()
    );

    let r = reference();
    let err = r["max_abs_quant_error"].as_object().expect("errors");
    for (name, h) in &hf.weights.by_name() {
        let g = &gg.weights.by_name()[name];
        assert_eq!((h.rows, h.cols), (g.rows, g.cols), "{name}");
        assert_eq!(g.name, *name, "GGUF tensors are renamed to HF names");
        let (x, y) = (dequantize(h), dequantize(g));
        // each stored value differs from the f32 original by at most the quantization error
        // gguf-py measured for this tensor (plus f32 rounding); a row-order mistake would be
        // off by the size of the weights themselves (≈ 0.15), far above it.
        let bound = err[*name].as_f64().expect("error bound") as f32 * 1.0001 + 1e-6;
        let max = x
            .iter()
            .zip(&y)
            .map(|(p, q)| (p - q).abs())
            .fold(0f32, f32::max);
        assert!(
            max <= bound,
            "{name}: max |Δ| {max} > quantization error {bound}"
        );
    }
    // and the GGUF's un-permuted Q/K equal gguf-py's dequantization, un-permuted in numpy
    for (name, d) in r["dequantized"].as_object().expect("dequantized") {
        let got = dequantize(gg.weights.by_name()[name.as_str()]);
        let want: Vec<f32> = d["values"]
            .as_array()
            .expect("values")
            .iter()
            .map(|v| v.as_f64().expect("f") as f32)
            .collect();
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
    for (name, w) in &gg.weights.by_name() {
        let owned = matches!(w.storage, Storage::Owned(_));
        let qk = name.ends_with("q_proj.weight") || name.ends_with("k_proj.weight");
        assert_eq!(owned, qk, "{name}: only Q/K are copied (permuted) at load");
    }
    let hf = ModelFiles::open(&fixture("hf")).expect("open HF dir");
    assert!(hf
        .weights
        .by_name()
        .values()
        .all(|w| matches!(w.storage, Storage::Mapped { .. })));
}

#[test]
fn tokenizers_and_templates_agree() {
    let hf = ModelFiles::open(&fixture("hf")).expect("open HF dir");
    let gg = ModelFiles::open(&fixture("tiny.gguf")).expect("open GGUF");
    for case in reference()["tokenizer"].as_array().expect("cases") {
        let text = case["text"].as_str().expect("text");
        let want: Vec<u32> = case["ids"]
            .as_array()
            .expect("ids")
            .iter()
            .map(|v| v.as_u64().expect("id") as u32)
            .collect();
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
    assert_eq!(
        gguf_name_of("model.layers.17.self_attn.o_proj.weight").as_deref(),
        Some("blk.17.attn_output.weight")
    );
    assert_eq!(
        gguf_name_of("model.layers.0.post_attention_layernorm.weight").as_deref(),
        Some("blk.0.ffn_norm.weight")
    );
    assert_eq!(
        gguf_name_of("lm_head.weight").as_deref(),
        Some("output.weight")
    );
    assert_eq!(gguf_name_of("model.layers.x.mlp.up_proj.weight"), None);
}

#[test]
fn sharded_safetensors_load_like_one_file() {
    use glassbox::formats::safetensors::SafetensorsModel;
    use safetensors::tensor::{Dtype, TensorView};
    let one = SafetensorsModel::open(&fixture("hf")).expect("one file");
    let dir = std::env::temp_dir().join(format!("glassbox-shards-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    for f in ["config.json", "tokenizer.json", "tokenizer_config.json"] {
        std::fs::copy(fixture("hf").join(f), dir.join(f)).expect("copy");
    }
    // two shards: names in order, split in the middle, plus the index that maps them
    let names: Vec<String> = one.names().map(str::to_string).collect();
    let tensors: Vec<WeightMatrix> = names
        .iter()
        .map(|n| WeightMatrix::from_safetensors(&one, n).expect("tensor"))
        .collect();
    let mut weight_map = serde_json::Map::new();
    for (s, chunk) in names.chunks(names.len().div_ceil(2)).enumerate() {
        let file = format!("model-{:05}-of-00002.safetensors", s + 1);
        let views: Vec<(String, TensorView)> = chunk
            .iter()
            .map(|n| {
                let w = &tensors[names.iter().position(|x| x == n).expect("name")];
                let shape = one.tensor(n).expect("tensor").shape.to_vec();
                weight_map.insert(n.clone(), Value::from(file.clone()));
                (
                    n.clone(),
                    TensorView::new(Dtype::F32, shape, w.bytes()).expect("view"),
                )
            })
            .collect();
        let bytes = safetensors::serialize(views, None).expect("serialize");
        std::fs::write(dir.join(&file), bytes).expect("write shard");
    }
    let index = serde_json::json!({"metadata": {}, "weight_map": weight_map});
    std::fs::write(dir.join("model.safetensors.index.json"), index.to_string()).expect("index");
    let sharded = ModelFiles::open(&dir).expect("sharded model loads");
    let single = ModelFiles::open(&fixture("hf")).expect("single file");
    assert_eq!(
        sharded.weights.by_name().len(),
        single.weights.by_name().len()
    );
    for (name, w) in &single.weights.by_name() {
        assert_eq!(sharded.weights.by_name()[name].bytes(), w.bytes(), "{name}");
    }
    // an index that promises a tensor its shard lacks is an error naming it
    let mut bad = index.clone();
    bad["weight_map"]["model.extra.weight"] = Value::from("model-00001-of-00002.safetensors");
    std::fs::write(dir.join("model.safetensors.index.json"), bad.to_string()).expect("index");
    let e = ModelFiles::open(&dir)
        .err()
        .expect("missing tensor")
        .to_string();
    assert!(e.contains("missing tensor `model.extra.weight`"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
