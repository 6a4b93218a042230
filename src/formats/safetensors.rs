//! # safetensors: Hugging Face's weight files, memory-mapped
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
//! This module finds a tensor's stored dtype, shape and bytes; `weights/` makes it a
//! `WeightMatrix` over the mapped bytes, so a bf16 model stays bf16 in memory.
//!
//! Reference: <https://github.com/huggingface/safetensors> (format in its README).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;
pub use safetensors::tensor::Dtype;
use safetensors::tensor::{Metadata, SafeTensors};

use crate::formats::file;
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
        Self::parse(path, map)
    }

    /// Parse safetensors bytes held in memory (fuzzing, corrupt-file tests); `name` labels errors.
    pub fn from_bytes(name: &Path, bytes: &[u8]) -> Result<SafetensorsFile> {
        let mut m =
            memmap2::MmapMut::map_anon(bytes.len().max(1)).map_err(|e| Error::io(name, e))?;
        m[..bytes.len()].copy_from_slice(bytes);
        let map = m.make_read_only().map_err(|e| Error::io(name, e))?;
        // an empty input maps one zero byte: give the parser exactly the input
        if bytes.is_empty() {
            return Err(Error::format(
                name,
                "not a valid safetensors file: it is empty",
            ));
        }
        Self::parse(name, map)
    }

    fn parse(path: &Path, map: Mmap) -> Result<SafetensorsFile> {
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

    /// Where tensor `name` is: its stored dtype and shape, and its bytes in [`Self::map`].
    pub fn tensor(&self, name: &str) -> Option<StoredTensor<'_>> {
        let info = self.metadata.info(name)?;
        let (start, end) = info.data_offsets;
        Some(StoredTensor {
            file: self,
            dtype: info.dtype,
            shape: &info.shape,
            offset: self.data_start + start,
            len: end - start,
        })
    }

    /// The memory map the tensor extents point into.
    pub fn map(&self) -> &Arc<Mmap> {
        &self.map
    }
}

/// One tensor of a safetensors file, located (the safetensors crate has checked that the
/// offsets lie inside the file and agree with the dtype and shape).
pub struct StoredTensor<'a> {
    /// The shard it is in.
    pub file: &'a SafetensorsFile,
    pub dtype: Dtype,
    /// Slowest dimension first (C order).
    pub shape: &'a [usize],
    /// Byte offset of its data in the mapped file.
    pub offset: usize,
    pub len: usize,
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
        let shards = paths
            .iter()
            .map(|p| SafetensorsFile::open(p))
            .collect::<Result<Vec<_>>>()?;
        Self::from_shards(shards)
    }

    /// A model made of files already opened (each tensor name in exactly one of them).
    pub fn from_shards(shards: Vec<SafetensorsFile>) -> Result<SafetensorsModel> {
        let mut index = BTreeMap::new();
        for (i, f) in shards.iter().enumerate() {
            for name in f.names() {
                if index.insert(name.clone(), i).is_some() {
                    return Err(Error::format(
                        &f.path,
                        format!("tensor `{name}` is in more than one shard"),
                    ));
                }
            }
        }
        Ok(SafetensorsModel { shards, index })
    }

    /// Sharded: `{"weight_map": {"model.norm.weight": "model-00002-of-00002.safetensors", ...}}`.
    fn open_index(index_path: &Path) -> Result<SafetensorsModel> {
        Self::open_index_value(&file::read_json(index_path)?, index_path)
    }

    /// [`Self::open_index`] of an index already parsed; the shards are read from the
    /// directory of `index_path`.
    pub fn open_index_value(v: &serde_json::Value, index_path: &Path) -> Result<SafetensorsModel> {
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
                    // the index lists it in this shard; the shard lacks it
                    return Err(Error::missing_tensor(&want, name.as_str()));
                }
            }
        }
        Ok(model)
    }

    /// All tensor names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.index.keys().map(String::as_str)
    }

    /// Where tensor `name` is, in whichever shard holds it.
    pub fn tensor(&self, name: &str) -> Option<StoredTensor<'_>> {
        self.shards[*self.index.get(name)?].tensor(name)
    }

    /// The file a missing tensor is reported against: the first shard.
    pub fn first_file(&self) -> &Path {
        self.shards
            .first()
            .map_or(Path::new(""), |s| s.path.as_path())
    }
}
