//! `glassbox convert`: the tiny GGUF becomes a Hugging Face directory that glassbox loads back
//! through its safetensors path with the same config, tokenizer, template and weights.
//! (That `transformers` loads the output is checked by hand, see weights/README.md.)

use std::path::{Path, PathBuf};

use glassbox::weights::convert::{convert_gguf, OutDType};
use glassbox::weights::model_files::{ModelFiles, ModelFormat};
use glassbox::weights::tensor::WeightMatrix;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tiny")
        .join(name)
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("glassbox-convert-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn dequantize(w: &WeightMatrix) -> Vec<f32> {
    let mut out = vec![0f32; w.rows * w.cols];
    for (r, row) in out.chunks_exact_mut(w.cols).enumerate() {
        w.dequantize_row(r, row);
    }
    out
}

/// bf16 keeps 7 stored mantissa bits: round-to-nearest is off by at most half an ulp,
/// 2^-8 of a value at the bottom of its binade.
const BF16_REL: f32 = 1.0 / 256.0;

fn check(dtype: OutDType) {
    let src = ModelFiles::open(&fixture("tiny.gguf")).expect("open GGUF");
    let out = scratch(&format!("{dtype:?}"));
    let report = convert_gguf(&fixture("tiny.gguf"), &out, dtype).expect("convert");
    assert_eq!(report.tensors, 21);
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "generation_config.json",
    ] {
        assert!(out.join(f).is_file(), "{f} written");
    }
    let back = ModelFiles::open(&out).expect("converted directory loads");
    assert_eq!(back.format, ModelFormat::HfSafetensors);
    assert_eq!(back.config, src.config);
    assert_eq!(back.chat_template, src.chat_template);
    for text in [
        "Hello world!",
        "def add(a, b):\n    return 12345",
        "<|im_start|>user\nhi<|im_end|>",
    ] {
        assert_eq!(
            back.tokenizer.encode_with_special(text),
            src.tokenizer.encode_with_special(text),
            "{text:?}"
        );
    }
    assert_eq!(back.tokenizer.bos_id(), src.tokenizer.bos_id());
    assert_eq!(back.tokenizer.eos_ids(), src.tokenizer.eos_ids());
    for (name, w) in &src.weights.by_name() {
        let b = &back.weights.by_name()[name];
        assert_eq!((b.rows, b.cols), (w.rows, w.cols), "{name}");
        let (x, y) = (dequantize(w), dequantize(b));
        for (i, (p, q)) in x.iter().zip(&y).enumerate() {
            let tol = match dtype {
                OutDType::F32 => 0.0, // dequantized values are written exactly
                OutDType::Bf16 => p.abs() * BF16_REL,
            };
            assert!((p - q).abs() <= tol, "{name}[{i}]: {p} vs {q}");
        }
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn convert_to_f32_round_trips_exactly() {
    check(OutDType::F32);
}

#[test]
fn convert_to_bf16_rounds_within_bf16() {
    check(OutDType::Bf16);
}

#[test]
fn convert_refuses_a_hf_directory() {
    let e = convert_gguf(&fixture("hf"), &scratch("refuse"), OutDType::F32).expect_err("HF input");
    assert!(e.to_string().contains(".gguf"), "{e}");
}
