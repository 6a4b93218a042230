//! Shared by the hostile-input tests (`tests/hostile_*.rs`, issue 17): the tiny model's GGUF
//! as typed fields to edit, the serialiser the fuzz targets use (one writer for both), and
//! scratch directories.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use glassbox::formats::gguf::{GgufFile, GgufValue};
use glassbox::weights::tensor::WeightMatrix;

#[path = "../../fuzz/src/gguf_writer.rs"]
pub mod gguf_writer;

pub use gguf_writer::{File, Tensor};

pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tiny")
        .join(rel)
}

/// The tiny model (`tests/fixtures/tiny/tiny.gguf`) as fields: metadata, tensors, data.
pub fn tiny_file() -> File {
    let g = GgufFile::open(&fixture("tiny.gguf")).expect("tests/fixtures/tiny/tiny.gguf");
    let tensors = g
        .tensors
        .iter()
        .map(|t| Tensor {
            name: t.name.clone(),
            dims: t.dims.clone(),
            ty: t.type_id,
            offset: None,
            data: WeightMatrix::from_gguf(&g, &t.name)
                .expect("tensor")
                .bytes()
                .to_vec(),
        })
        .collect();
    File {
        version: g.version,
        metadata: g.metadata.clone(),
        tensors,
        alignment: g.alignment as u64,
        ..File::default()
    }
}

impl File {
    /// Set metadata `key` to `v` (added if absent).
    pub fn set(&mut self, key: &str, v: GgufValue) -> &mut Self {
        match self.metadata.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = v,
            None => self.metadata.push((key.to_string(), v)),
        }
        self
    }
}

/// A fresh scratch directory for one test (removed first, so reruns start clean).
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("glassbox-hostile-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create scratch dir");
    d
}

/// Write `file` as `dir/model.gguf` and return the path.
pub fn write_model(dir: &Path, file: &File) -> PathBuf {
    let p = dir.join("model.gguf");
    std::fs::write(&p, file.to_bytes()).expect("write model.gguf");
    p
}

/// The error text of `r`, which must be an error.
pub fn err_text<T>(r: glassbox::Result<T>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}
