//! GGUF reader: the real SmolLM2 file's header, dequantized values against the `gguf` Python
//! package (fixture made by scripts/make_tiny_llama.py), and the tiny GGUF fixture.

use std::path::{Path, PathBuf};

use glassbox::data;
use glassbox::formats::gguf::{GgufFile, GgufValue};
use glassbox::quant::DType;
use glassbox::weights::config::LlamaConfig;
use glassbox::weights::tensor::WeightMatrix;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tiny")
        .join(name)
}

fn json(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture(name)).expect("fixture present");
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn f32s(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

/// Dequantizing is exact arithmetic on f16 scales in both implementations; the fixture rounds
/// to 7 decimals, so this is the rounding, not a numerical tolerance.
const FIXTURE_ROUNDING: f32 = 1e-6;

#[test]
fn real_model_header() {
    let path = data::default_model().expect("default model (fetched on first use)");
    let g = GgufFile::open(&path).expect("open");
    assert_eq!(g.version, 3);
    assert_eq!(g.tensors.len(), 272);
    assert_eq!(g.architecture(), Some("llama"));
    assert_eq!(g.alignment, 32);
    assert_eq!(g.data_offset % 32, 0);
    assert_eq!(g.get_u32("llama.block_count"), Some(30));
    assert_eq!(g.get_str("tokenizer.ggml.pre"), Some("smollm"));
    assert_eq!(
        g.get_array("tokenizer.ggml.tokens").map(|a| a.len()),
        Some(49152)
    );
    assert_eq!(
        g.get_array("tokenizer.ggml.merges").map(|a| a.len()),
        Some(48900)
    );
    assert_eq!(
        g.get("general.languages"),
        Some(&GgufValue::Array(vec![GgufValue::String("en".into())]))
    );
    let t = g.tensor_info("token_embd.weight").expect("embedding");
    assert_eq!(t.dims, vec![576, 49152]); // ne[0] = columns = d_model
    assert_eq!(DType::from_gguf_type_id(t.type_id), Some(DType::Q8_0));
    assert_eq!(t.shape(), vec![49152, 576]);
    let q = WeightMatrix::from_gguf(&g, "blk.0.attn_k.weight").expect("attn_k");
    assert_eq!((q.dtype, q.rows, q.cols), (DType::Q4_1, 192, 576));

    let c = LlamaConfig::from_gguf(&g).expect("config");
    assert_eq!(
        (
            c.num_hidden_layers,
            c.hidden_size,
            c.num_attention_heads,
            c.num_key_value_heads
        ),
        (30, 576, 9, 3)
    );
    assert_eq!(
        (c.vocab_size, c.intermediate_size, c.head_dim()),
        (49152, 1536, 64)
    );
    assert_eq!(c.rope_theta, 100_000.0);
    assert_eq!(c.max_position_embeddings, 8192);
    assert!((c.rms_norm_eps - 1e-5).abs() < 1e-12);
    assert!(c.tie_word_embeddings);
    assert_eq!(
        (c.bos_token_id, c.eos_token_ids.clone()),
        (Some(1), vec![2])
    );
    // 2 × 30 layers × 3 kv heads × 64 × 2048 positions × 4 bytes
    assert_eq!(c.kv_cache_bytes(2048, 4), 2 * 30 * 3 * 64 * 2048 * 4);
    assert_eq!(c.param_counts().total(), 134_515_008); // SmolLM2-135M, tied head
}

#[test]
fn real_model_dequantizes_like_gguf_py() {
    let path = data::default_model().expect("default model");
    let g = GgufFile::open(&path).expect("open");
    let dump = json("smollm2_dequant.json");
    let tensors = dump["tensors"].as_object().expect("tensors");
    assert_eq!(tensors.len(), 4);
    for (name, t) in tensors {
        let w = WeightMatrix::from_gguf(&g, name).expect("tensor");
        assert_eq!(w.dtype.name(), t["type"].as_str().expect("type"), "{name}");
        for (row, want) in t["rows"].as_object().expect("rows") {
            let r: usize = row.parse().expect("row");
            let mut got = vec![0f32; w.cols];
            w.dequantize_row(r, &mut got);
            let want = f32s(want);
            for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (a - b).abs() <= FIXTURE_ROUNDING,
                    "{name} row {r} col {i}: {a} vs gguf-py {b}"
                );
            }
        }
    }
}

#[test]
fn tiny_gguf_header_and_types() {
    let g = GgufFile::open(&fixture("tiny.gguf")).expect("open tiny.gguf");
    assert_eq!(g.tensors.len(), 21);
    let ty = |n: &str| {
        g.tensor_info(n)
            .and_then(|t| DType::from_gguf_type_id(t.type_id))
    };
    assert_eq!(ty("token_embd.weight"), Some(DType::Q8_0));
    assert_eq!(ty("blk.0.attn_q.weight"), Some(DType::Q4_1));
    assert_eq!(ty("blk.1.attn_q.weight"), Some(DType::Q4_0));
    assert_eq!(ty("blk.1.ffn_gate.weight"), Some(DType::F16));
    assert_eq!(ty("blk.1.ffn_up.weight"), Some(DType::BF16));
    assert_eq!(ty("output.weight"), Some(DType::F32));
    let c = LlamaConfig::from_gguf(&g).expect("config");
    assert_eq!(
        (c.num_attention_heads, c.num_key_value_heads, c.vocab_size),
        (4, 2, 320)
    );
    assert!(!c.tie_word_embeddings);
    assert!(g
        .get_str("tokenizer.chat_template")
        .is_some_and(|t| t.contains("<|im_start|>")));
    // the same file parsed from memory gives the same header
    let bytes = std::fs::read(fixture("tiny.gguf")).expect("read");
    let m = GgufFile::from_bytes(Path::new("tiny.gguf"), &bytes).expect("from_bytes");
    assert_eq!(
        (m.tensors.len(), m.metadata.len(), m.data_offset),
        (g.tensors.len(), g.metadata.len(), g.data_offset)
    );
}
