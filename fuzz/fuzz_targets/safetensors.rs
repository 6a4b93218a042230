//! safetensors: the first byte picks what the rest is.
//! * even: a `.safetensors` file (u64 header length, JSON header, data): every tensor becomes
//!   a weight matrix and its first and last rows are decoded;
//! * odd: a `model.safetensors.index.json`, read beside two real shards (the tiny model's
//!   tensors split in two), so the weight map's names and shard names are what is fuzzed.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use glassbox::formats::safetensors::{SafetensorsFile, SafetensorsModel};
use glassbox::weights::tensor::WeightMatrix;
use libfuzzer_sys::fuzz_target;

/// A directory holding the tiny model's safetensors as two shards, made once per process.
fn shard_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/tiny/hf/model.safetensors");
        let dir = std::env::temp_dir().join(format!("glassbox-fuzz-shards-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        for name in [
            "model-00001-of-00002.safetensors",
            "model-00002-of-00002.safetensors",
        ] {
            std::fs::copy(&src, dir.join(name)).expect("copy the tiny model's safetensors");
        }
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let Ok(f) = SafetensorsFile::from_bytes(Path::new("fuzz.safetensors"), rest) else {
            return;
        };
        let names = f.names();
        let Ok(model) = SafetensorsModel::from_shards(vec![f]) else {
            return;
        };
        let mut row = Vec::new();
        for name in &names {
            if let Ok(w) = WeightMatrix::from_safetensors(&model, name) {
                if w.rows > 0 && w.cols <= 1 << 16 {
                    row.resize(w.cols, 0.0);
                    w.dequantize_row(0, &mut row);
                    w.dequantize_row(w.rows - 1, &mut row);
                }
            }
        }
    } else {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(rest) else {
            return;
        };
        let index = shard_dir().join("model.safetensors.index.json");
        if let Ok(model) = SafetensorsModel::open_index_value(&v, &index) {
            for name in model.names() {
                let _ = WeightMatrix::from_safetensors(&model, name);
            }
        }
    }
});
