//! # Stage 3 · safetensors: Hugging Face's weight files, memory-mapped
//!
//! ```text
//! u64 n (little-endian) │ n bytes of JSON header │ tensor data
//! header: { "model.norm.weight": { "dtype": "BF16", "shape": [576], "data_offsets": [0, 1152] },
//!           ..., "__metadata__": { "format": "pt" } }
//! ```
//!
//! Offsets are relative to the start of the data (byte `8 + n`), tensors are C-order
//! (row-major), little-endian. A big model is split into shards `model-00001-of-00002.safetensors`
//! …, with `model.safetensors.index.json` mapping each tensor name to its shard (`weight_map`).
//!
//! Each tensor becomes a `WeightMatrix` over the mapped bytes (`Storage::Mapped`): a bf16 model
//! stays bf16 in memory. A 1-D tensor (a norm weight `[d]`) is a matrix with one row.
//!
//! Reference: <https://github.com/huggingface/safetensors> (format in its README).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;
use safetensors::tensor::{Dtype, Metadata, SafeTensors};

use crate::quant::DType;
use crate::weights::tensor::{Storage, WeightMatrix};
use crate::{Error, Result};

/// One `.safetensors` file, mapped, with its parsed header.
pub struct SafetensorsFile {
    pub path: PathBuf,
    map: Arc<Mmap>,
    /// Where the data section starts: `8 + header length`.
    data_start: usize,
    metadata: Metadata,
}

impl SafetensorsFile {
    pub fn open(path: &Path) -> Result<SafetensorsFile> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        // SAFETY: read-only private map; we assume the file is not modified while mapped.
        // The safetensors crate validates the header and every offset against the length.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        let (n, metadata) = SafeTensors::read_metadata(&map[..])
            .map_err(|e| Error::format(path, format!("not a valid safetensors file: {e}")))?;
        Ok(SafetensorsFile {
            path: path.to_path_buf(),
            map: Arc::new(map),
            data_start: 8 + n,
            metadata,
        })
    }

    /// Tensor names in this file, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.metadata.tensors().into_keys().collect();
        v.sort();
        v
    }

    /// The stored shape (slowest dimension first) and dtype name.
    pub fn shape(&self, name: &str) -> Option<(Vec<usize>, String)> {
        self.metadata
            .info(name)
            .map(|i| (i.shape.clone(), format!("{:?}", i.dtype)))
    }

    /// A tensor as a matrix over the mapped bytes: `[rows, cols]` with `cols` the last
    /// dimension and `rows` the product of the others (1 for a vector).
    pub fn tensor(&self, name: &str) -> Result<WeightMatrix> {
        let info = self
            .metadata
            .info(name)
            .ok_or_else(|| Error::format(&self.path, format!("missing tensor `{name}`")))?;
        let dtype = match info.dtype {
            Dtype::F32 => DType::F32,
            Dtype::BF16 => DType::BF16,
            Dtype::F16 => DType::F16,
            other => {
                return Err(Error::Unsupported(format!(
                    "tensor `{name}` in {} has dtype {other:?}; glassbox reads F32, BF16 and F16 safetensors",
                    self.path.display()
                )))
            }
        };
        let (rows, cols) = match info.shape.as_slice() {
            [] => (1, 1),
            [n] => (1, *n),
            [outer @ .., last] => (outer.iter().product(), *last),
        };
        let (start, end) = info.data_offsets;
        let storage = Storage::Mapped {
            map: Arc::clone(&self.map),
            offset: self.data_start + start,
            len: end - start,
        };
        WeightMatrix::new(name, dtype, rows, cols, storage)
    }
}

/// All tensors of a model: one file or the shards listed in `model.safetensors.index.json`.
pub struct SafetensorsModel {
    pub shards: Vec<SafetensorsFile>,
    /// tensor name → index into `shards`
    index: BTreeMap<String, usize>,
}

impl SafetensorsModel {
    /// Open `path`: a `.safetensors` file, an `.index.json`, or a directory holding
    /// `model.safetensors` or `model.safetensors.index.json`.
    pub fn open(path: &Path) -> Result<SafetensorsModel> {
        if path.is_dir() {
            let single = path.join("model.safetensors");
            let index = path.join("model.safetensors.index.json");
            return if single.is_file() {
                Self::open_files(&[single])
            } else if index.is_file() {
                Self::open_index(&index)
            } else {
                Err(Error::format(
                    path,
                    "no model.safetensors or model.safetensors.index.json in this directory",
                ))
            };
        }
        if path.to_string_lossy().ends_with(".json") {
            Self::open_index(path)
        } else {
            Self::open_files(&[path.to_path_buf()])
        }
    }

    fn open_files(paths: &[PathBuf]) -> Result<SafetensorsModel> {
        let mut shards = Vec::with_capacity(paths.len());
        let mut index = BTreeMap::new();
        for (i, p) in paths.iter().enumerate() {
            let f = SafetensorsFile::open(p)?;
            for name in f.names() {
                if index.insert(name.clone(), i).is_some() {
                    return Err(Error::format(
                        p,
                        format!("tensor `{name}` is in more than one shard"),
                    ));
                }
            }
            shards.push(f);
        }
        Ok(SafetensorsModel { shards, index })
    }

    /// Sharded: `{"weight_map": {"model.norm.weight": "model-00002-of-00002.safetensors", ...}}`.
    fn open_index(index_path: &Path) -> Result<SafetensorsModel> {
        let text = std::fs::read_to_string(index_path).map_err(|e| Error::io(index_path, e))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::format(index_path, format!("not valid JSON: {e}")))?;
        let map = v
            .get("weight_map")
            .and_then(|m| m.as_object())
            .ok_or_else(|| Error::format(index_path, "no `weight_map` object"))?;
        let dir = index_path.parent().unwrap_or(Path::new("."));
        let mut files: Vec<String> = Vec::new();
        for (name, f) in map {
            let f = f.as_str().ok_or_else(|| {
                Error::format(
                    index_path,
                    format!("weight_map[`{name}`] is not a file name"),
                )
            })?;
            if f.contains('/') || f.contains('\\') || f == ".." {
                return Err(Error::format(
                    index_path,
                    format!("shard name `{f}` must be a plain file name"),
                ));
            }
            if !files.iter().any(|x| x == f) {
                files.push(f.to_string());
            }
        }
        files.sort();
        let paths: Vec<PathBuf> = files.iter().map(|f| dir.join(f)).collect();
        let model = Self::open_files(&paths)?;
        // Every tensor the index promises must be in the shard it names.
        for (name, f) in map {
            let want = dir.join(f.as_str().unwrap_or_default());
            match model.index.get(name) {
                Some(&i) if model.shards[i].path == want => {}
                _ => {
                    return Err(Error::format(
                        &want,
                        format!(
                            "missing tensor `{name}` (listed in {})",
                            index_path.display()
                        ),
                    ))
                }
            }
        }
        Ok(model)
    }

    /// All tensor names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.index.keys().map(String::as_str)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Stored shape and dtype name of a tensor.
    pub fn shape(&self, name: &str) -> Option<(Vec<usize>, String)> {
        self.shards[*self.index.get(name)?].shape(name)
    }

    /// A tensor as a memory-mapped `WeightMatrix`.
    pub fn tensor(&self, name: &str) -> Result<WeightMatrix> {
        match self.index.get(name) {
            Some(&i) => self.shards[i].tensor(name),
            None => {
                let where_ = self
                    .shards
                    .first()
                    .map(|s| s.path.clone())
                    .unwrap_or_default();
                Err(Error::format(where_, format!("missing tensor `{name}`")))
            }
        }
    }
}
