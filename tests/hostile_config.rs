//! Issue 17, findings 1 and 2: hostile numbers in a model's config.
//!
//! 1. Every float read from a config (GGUF metadata or config.json) is finite and in range, and
//!    the error names the field; NaN/inf *weights* make the forward pass fail with an error
//!    instead of handing NaN logits to the sampler (which used to panic on them).
//! 2. A layer count is bounded by the tensors the file holds before anything is allocated for
//!    it; a context whose KV-cache cannot be allocated is an error, not an abort.

mod hostile_common;

use std::path::PathBuf;

use glassbox::formats::gguf::GgufValue;
use glassbox::generate::{generate, GenerateConfig, LlamaRunner, ScriptedModel};
use glassbox::model::Llama;
use glassbox::sampler::{Sampler, SamplerConfig};
use glassbox::tokenizer::Pretokenizer;
use glassbox::weights::model_files::ModelFiles;
use hostile_common::{err_text, fixture, scratch, tiny_file, write_model};

/// The tiny Hugging Face model copied to a scratch dir, with `edit` applied to its config.json.
fn hf_with(name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let d = scratch(name);
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    ] {
        std::fs::copy(fixture("hf").join(f), d.join(f)).expect("copy fixture");
    }
    let p = d.join("config.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).expect("read")).expect("json");
    edit(&mut v);
    std::fs::write(&p, v.to_string()).expect("write");
    d
}

/// Open the tiny GGUF with metadata `key` set to `v`; the error text.
fn gguf_error(name: &str, key: &str, v: GgufValue) -> String {
    let mut f = tiny_file();
    f.set(key, v);
    err_text(ModelFiles::open(&write_model(&scratch(name), &f)))
}

#[test]
fn gguf_float_fields_are_finite_and_in_range() {
    let key = "llama.rope.freq_base";
    for (i, bad) in [f32::NAN, f32::INFINITY, 0.0, -1.0, f32::from_bits(1), 0.5]
        .into_iter()
        .enumerate()
    {
        let e = gguf_error(&format!("gguf-theta{i}"), key, GgufValue::F32(bad));
        assert!(e.contains(key) && e.contains("model.gguf"), "{bad}: {e}");
    }
    let key = "llama.attention.layer_norm_rms_epsilon";
    for (i, bad) in [f32::NAN, -1e-5, 0.0, f32::NEG_INFINITY, 2.0]
        .into_iter()
        .enumerate()
    {
        let e = gguf_error(&format!("gguf-eps{i}"), key, GgufValue::F32(bad));
        assert!(e.contains(key), "{bad}: {e}");
    }
    // the fixture's own values still load
    ModelFiles::open(&fixture("tiny.gguf")).expect("tiny.gguf loads");
}

#[test]
fn config_json_float_fields_are_finite_and_in_range() {
    type Edit = fn(&mut serde_json::Value);
    let cases: [(&str, Edit, &str); 7] = [
        (
            "theta0",
            |v| v["rope_parameters"]["rope_theta"] = 0.0.into(),
            "rope_theta",
        ),
        (
            "theta-neg",
            |v| v["rope_parameters"]["rope_theta"] = (-5.0).into(),
            "rope_theta",
        ),
        // 1e-40 is a subnormal f32: θ^(−2i/d) overflows to inf
        (
            "theta-sub",
            |v| v["rope_parameters"]["rope_theta"] = 1e-40.into(),
            "rope_theta",
        ),
        // 1e39 is past f32::MAX: inf once narrowed
        (
            "theta-big",
            |v| v["rope_parameters"]["rope_theta"] = 1e39.into(),
            "rope_theta",
        ),
        (
            "eps-neg",
            |v| v["rms_norm_eps"] = (-1e-5).into(),
            "rms_norm_eps",
        ),
        (
            "factor0",
            |v| {
                v["rope_parameters"] = serde_json::json!({
                    "rope_type": "llama3", "rope_theta": 500000.0, "factor": 0.0,
                    "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                    "original_max_position_embeddings": 8192
                })
            },
            "factor",
        ),
        (
            "high-low",
            |v| {
                v["rope_parameters"] = serde_json::json!({
                    "rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
                    "low_freq_factor": 4.0, "high_freq_factor": 4.0,
                    "original_max_position_embeddings": 8192
                })
            },
            "high_freq_factor",
        ),
    ];
    for (name, edit, field) in cases {
        let d = hf_with(&format!("hf-{name}"), edit);
        let e = err_text(ModelFiles::open(&d));
        assert!(
            e.contains(field) && e.contains("config.json"),
            "{name}: the error names neither `{field}` nor the file: {e}"
        );
    }
    // a valid llama3 scaling still loads
    let d = hf_with("llama3-ok", |v| {
        v["rope_parameters"] = serde_json::json!({
            "rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
            "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 64
        })
    });
    ModelFiles::open(&d).expect("a valid llama3 config loads");
}

/// The tiny GGUF with one weight of `output_norm.weight` (F32) replaced by `x`.
fn tiny_with_weight(name: &str, x: f32) -> PathBuf {
    let mut f = tiny_file();
    let t = f
        .tensors
        .iter_mut()
        .find(|t| t.name == "output_norm.weight")
        .expect("output_norm.weight");
    t.data[8..12].copy_from_slice(&x.to_le_bytes());
    write_model(&scratch(name), &f)
}

#[test]
fn nan_weights_are_an_error_of_the_forward_pass_not_a_sampler_panic() {
    for (name, x) in [("nan-w", f32::NAN), ("inf-w", f32::INFINITY)] {
        let path = tiny_with_weight(name, x);
        let m = Llama::load(&path).expect("weights are not scanned at load time");
        let mut s = m.new_session(16).expect("session");
        let e = err_text(m.forward(&mut s, &[5, 6, 7]));
        assert!(
            e.contains("non-finite") && e.contains("model.gguf"),
            "{name}: {e}"
        );
        // and generation stops with that error (it used to panic in the sampler)
        let cfg = GenerateConfig {
            max_new_tokens: Some(4),
            sampler: SamplerConfig {
                temperature: 0.8,
                min_p: 0.05,
                top_k: 40,
                top_p: 0.95,
                ..SamplerConfig::default()
            },
            ..GenerateConfig::default()
        };
        let mut runner = LlamaRunner::new(&m, 16).expect("runner");
        let e = err_text(generate(
            &mut runner,
            &m.tokenizer,
            &[5, 6, 7],
            &cfg,
            &mut |_| {},
        ));
        assert!(e.contains("non-finite"), "{name}: {e}");
    }
}

#[test]
fn the_sampler_never_panics_on_nan_logits() {
    // What a model that bypasses the check could hand it: every draw returns an id in range.
    let cfg = SamplerConfig {
        temperature: 0.8,
        top_k: 40,
        top_p: 0.95,
        min_p: 0.05,
        ..SamplerConfig::default()
    };
    let mut s = Sampler::new(cfg.clone()).expect("sampler");
    for logits in [
        vec![f32::NAN; 50],
        vec![f32::INFINITY; 50],
        vec![f32::NEG_INFINITY; 50],
        (0..50)
            .map(|i| if i % 2 == 0 { f32::NAN } else { 1.0 })
            .collect(),
    ] {
        let id = s.sample(&mut logits.clone(), &[1, 2]);
        assert!((id as usize) < logits.len());
    }
    // through the generation loop, with a scripted model whose logits are NaN
    let tok = glassbox::tokenizer::Tokenizer::from_merges(&[], Pretokenizer::Gpt2, &[]);
    let mut model = ScriptedModel::new(vec![vec![f32::NAN; tok.vocab_size()]], 32);
    let gen = GenerateConfig {
        max_new_tokens: Some(3),
        sampler: cfg,
        ..GenerateConfig::default()
    };
    let _ = generate(&mut model, &tok, &[65], &gen, &mut |_| {});
}

#[test]
fn layer_count_is_bounded_by_the_tensors_in_the_file() {
    // GGUF: 2^31 layers (the finding) is refused by the config's own bound, by name ...
    let e = gguf_error("blocks", "llama.block_count", GgufValue::U32(1 << 31));
    assert!(e.contains("block_count") && e.contains("2147483648"), "{e}");
    // ... and a count under that bound by the 21 tensors the file holds
    let max = glassbox::weights::config::MAX_LAYERS;
    let e = gguf_error(
        "blocks_max",
        "llama.block_count",
        GgufValue::U32(max as u32),
    );
    assert!(
        e.contains("llama.block_count") && e.contains(&max.to_string()) && e.contains("21 tensors"),
        "{e}"
    );
    // config.json: 2^32 layers
    let d = hf_with("layers", |v| v["num_hidden_layers"] = (1u64 << 32).into());
    let e = err_text(ModelFiles::open(&d));
    assert!(
        e.contains("num_hidden_layers") && e.contains("4294967296"),
        "{e}"
    );
    let d = hf_with("layers_max", |v| v["num_hidden_layers"] = max.into());
    let e = err_text(ModelFiles::open(&d));
    assert!(
        e.contains("num_hidden_layers") && e.contains(&max.to_string()) && e.contains("tensors"),
        "{e}"
    );
}

/// Fuzz finding (`config_json`, 2026-12-02): a config.json alone, with 2.3·10¹⁴ layers, passed
/// `validate`, and `kv_cache_bytes` then walked every layer for hours. It is refused by name
/// before anything can walk the layers.
#[test]
fn a_config_with_absurdly_many_layers_is_refused_before_any_per_layer_walk() {
    let mut v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("hf").join("config.json")).expect("read"),
    )
    .expect("json");
    v["num_hidden_layers"] = 233_333_333_333_333u64.into();
    let e = glassbox::weights::config::LlamaConfig::from_hf_value(
        &v,
        std::path::Path::new("config.json"),
    )
    .map(|_| ())
    .map_err(|e| e.to_string());
    let e = e.expect_err("a config with 2.3e14 layers must be refused");
    assert!(
        e.contains("config.json")
            && e.contains("num_hidden_layers")
            && e.contains("233333333333333"),
        "{e}"
    );
}

/// Fuzz finding (`config_json`, 2026-12-02 12:01): a config.json with hidden_size
/// 656666666666666666 passed `validate`, and `param_counts` then overflowed `vocab_size × d`
/// (a panic in a debug build, a wrong count in release). Every width is bounded by name.
#[test]
fn a_config_with_an_absurd_width_is_refused_before_any_product() {
    let base: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("hf").join("config.json")).expect("read"),
    )
    .expect("json");
    for field in ["hidden_size", "intermediate_size", "vocab_size"] {
        let mut v = base.clone();
        v[field] = 656_666_666_666_666_666u64.into();
        if field == "hidden_size" {
            v["num_attention_heads"] = 1.into();
            v["num_key_value_heads"] = 1.into();
        }
        let e = glassbox::weights::config::LlamaConfig::from_hf_value(
            &v,
            std::path::Path::new("config.json"),
        )
        .map(|c| c.param_counts().total())
        .map_err(|e| e.to_string());
        let e = e.expect_err("a width of 6.6e17 must be refused");
        assert!(
            e.contains("config.json") && e.contains(field) && e.contains("656666666666666666"),
            "{field}: {e}"
        );
    }
}

#[test]
fn a_kv_cache_too_large_to_allocate_is_an_error() {
    let mut f = tiny_file();
    f.set("llama.context_length", GgufValue::U32(u32::MAX));
    let path = write_model(&scratch("ctx"), &f);
    let m = Llama::load(&path).expect("a large context is only a number until it is allocated");
    // 2^31 positions × 2 layers × 32 (kv_dim) × 4 bytes × 2 (K and V) = 1 TiB: refused, not
    // an allocation failure that aborts the process
    let e = err_text(m.new_session(1 << 31));
    assert!(e.contains("KV-cache") && e.contains("bytes"), "{e}");
    // the default context (4096) of the same model is fine
    m.new_session(4096).expect("a 4096-position session");
}
