//! # GGUF: llama.cpp's single-file model format, read by hand
//!
//! ```text
//! offset 0   "GGUF"  u32 version (2 or 3)  u64 tensor_count  u64 metadata_kv_count   ← header
//!            metadata_kv_count × { string key, u32 value_type, value }                 ← metadata
//!            tensor_count      × { string name, u32 n_dims, u64 dims[n_dims], u32 ggml_type, u64 offset }
//!            padding to `general.alignment` (default 32)
//! data_offset  tensor data; each tensor at data_offset + its offset (a multiple of the alignment)
//!
//! string = u64 length + UTF-8 bytes (no NUL)       all integers little-endian
//! value_type: see `gguf_value.rs`
//! ```
//!
//! `dims[0]` moves fastest: a weight stored as `dims = [cols, rows]` is `[rows, cols]` row-major
//! in our notation (`[out_features, in_features]`), the same bytes PyTorch has.
//!
//! Reading is three steps, one function each: the **header**, the **metadata** and tensor
//! infos, then the **extents** (every tensor's bytes must lie inside the file). Every read is
//! bounds-checked against the file length, so a truncated or corrupt file gives an
//! `Error::Format` naming the field and the offsets, never a panic, and a corrupt count never
//! allocates more than the bytes that remain could hold.
//!
//! This module knows the container only: it hands out metadata values and the bytes of a tensor.
//! Which stored types glassbox can compute with is `quant::DType`; a tensor becomes a weight
//! matrix in `weights/`. The tokenizer reads its vocabulary from here without loading weights.
//!
//! Reference: the GGUF specification, ggml `docs/gguf.md`; `gguf-py/gguf/gguf_reader.py`.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;

mod read;
pub mod types;
pub mod value;

use crate::{Error, Result};
use read::{check_extents, read_header, read_metadata, read_tensor_info};
pub use types::{ggml_type, ggml_type_name, GgmlType, GGML_TYPES};
pub use value::GgufValue;
use value::Reader;

/// The four bytes every GGUF file starts with.
pub const GGUF_MAGIC: &[u8; 4] = b"GGUF";
/// magic (4) + version (4) + tensor_count (8) + metadata_kv_count (8).
const HEADER_BYTES: usize = 24;
/// Alignment of the data section when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: usize = 32;
/// ggml supports at most 4 dimensions.
const MAX_DIMS: u32 = 4;
/// The least bytes one metadata pair can take: key length (8) + value type (4) + 1 byte.
const MIN_KV_BYTES: u64 = 8 + 4 + 1;
/// The least bytes one tensor info can take: name length, n_dims, one dim, type, offset.
const MIN_TENSOR_INFO_BYTES: u64 = 8 + 4 + 8 + 4 + 8;

/// Whether `path` is a GGUF file: its first four bytes are the magic, or its name ends in
/// `.gguf` (so that a truncated or corrupt model still reaches the GGUF reader's errors).
pub fn looks_like_gguf(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    let has_magic = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok_and(|_| &magic == GGUF_MAGIC);
    has_magic
        || path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
}

/// One tensor's description in the header.
#[derive(Clone, Debug)]
pub struct GgufTensorInfo {
    pub name: String,
    /// `dims[0]` is the fastest-moving dimension (the columns of a matrix).
    pub dims: Vec<u64>,
    /// The `ggml_type` id (see [`GGML_TYPES`]).
    pub type_id: u32,
    /// Byte offset relative to the start of the data section.
    pub offset: u64,
}

impl GgufTensorInfo {
    /// Matrix view: `cols = dims[0]`, `rows = dims[1] × dims[2] × …` (1 for a vector).
    pub fn rows_cols(&self) -> (usize, usize) {
        let cols = self.dims.first().copied().unwrap_or(1) as usize;
        let rows = self.dims.iter().skip(1).product::<u64>() as usize;
        (rows, cols)
    }
    /// Number of elements (checked while reading the header, so this does not overflow).
    pub fn n_elements(&self) -> u64 {
        self.dims.iter().product()
    }
    /// Bytes in the data section: `None` for a type of unknown size, or rows that are not a
    /// whole number of the type's blocks. (Reading the header bounds every dim and their
    /// product by 2^48, so the products below cannot overflow; they are checked anyway.)
    pub fn n_bytes(&self) -> Option<usize> {
        let (block, bytes) = ggml_type(self.type_id)?.block?;
        let (rows, cols) = self.rows_cols();
        if !cols.is_multiple_of(block) {
            return None;
        }
        (cols / block).checked_mul(bytes)?.checked_mul(rows)
    }
    /// Shape in PyTorch order (slowest first): `[rows, cols]` for a matrix, `[n]` for a vector.
    pub fn shape(&self) -> Vec<usize> {
        self.dims.iter().rev().map(|&d| d as usize).collect()
    }
}

/// An open, memory-mapped GGUF file with its parsed header.
pub struct GgufFile {
    pub path: PathBuf,
    pub version: u32,
    /// Metadata in file order.
    pub metadata: Vec<(String, GgufValue)>,
    pub tensors: Vec<GgufTensorInfo>,
    /// Where the data section starts (aligned).
    pub data_offset: usize,
    pub alignment: usize,
    key_index: HashMap<String, usize>,
    tensor_index: HashMap<String, usize>,
    map: Arc<Mmap>,
}

impl fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GgufFile")
            .field("path", &self.path)
            .field("version", &self.version)
            .field("metadata", &self.metadata.len())
            .field("tensors", &self.tensors.len())
            .field("data_offset", &self.data_offset)
            .finish()
    }
}

impl GgufFile {
    /// Map the file and parse its header, metadata and tensor infos (the data stays on disk).
    pub fn open(path: &Path) -> Result<GgufFile> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if len == 0 {
            // mapping an empty file fails on some systems; report it as what it is
            return Err(Error::format(
                path,
                format!("truncated: the file is empty (a GGUF header has {HEADER_BYTES} bytes)"),
            ));
        }
        // SAFETY: the map is read-only and private to this process. Like every mmap-based model
        // loader we assume nobody truncates or rewrites the file while it is open; all offsets
        // are bounds-checked against the map's length, which is fixed at map time.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        // Ask the kernel to read the whole file ahead now (it returns at once): when the file
        // is not in the page cache, the disk reads the weights while we parse the metadata and
        // build the tokenizer, instead of page by page during the first forward pass. Only a
        // hint: if the kernel refuses it, the pages still come on first touch.
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::WillNeed);
        let len = map.len();
        Self::parse(path, Arc::new(map), len)
    }

    /// Parse GGUF bytes held in memory (tests, corrupt-file experiments); `name` labels errors.
    pub fn from_bytes(name: &Path, bytes: &[u8]) -> Result<GgufFile> {
        let mut m =
            memmap2::MmapMut::map_anon(bytes.len().max(1)).map_err(|e| Error::io(name, e))?;
        m[..bytes.len()].copy_from_slice(bytes);
        let map = m.make_read_only().map_err(|e| Error::io(name, e))?;
        Self::parse(name, Arc::new(map), bytes.len())
    }

    /// Parse the first `len` bytes of `map` (all of it, except for an empty `from_bytes`):
    /// header, metadata and tensor infos, then the extents of the data.
    fn parse(path: &Path, map: Arc<Mmap>, len: usize) -> Result<GgufFile> {
        if len < HEADER_BYTES {
            return Err(Error::format(
                path,
                format!(
                    "truncated: {len} bytes is shorter than the {HEADER_BYTES}-byte GGUF header"
                ),
            ));
        }
        let mut r = Reader {
            buf: &map[..len],
            pos: 0,
            path,
            elements_left: value::MAX_METADATA_ELEMENTS,
        };
        let (version, tensor_count, kv_count) = read_header(&mut r)?;
        let metadata = read_metadata(&mut r, kv_count)?;
        let key_index: HashMap<String, usize> = metadata
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.clone(), i))
            .collect();
        r.check_count(tensor_count, MIN_TENSOR_INFO_BYTES, "tensor_count")?;
        let tensors = (0..tensor_count)
            .map(|i| read_tensor_info(&mut r, i))
            .collect::<Result<Vec<_>>>()?;
        let alignment = match key_index.get("general.alignment").map(|&i| &metadata[i].1) {
            None => DEFAULT_ALIGNMENT,
            Some(v) => match v.as_u64() {
                Some(a) if a > 0 && a.is_power_of_two() && a <= 1 << 20 => a as usize,
                _ => {
                    return Err(Error::format(
                        path,
                        format!("general.alignment = {v} is not a power of two"),
                    ))
                }
            },
        };
        // data_offset = end of the tensor infos rounded up to the alignment
        let data_offset = r.pos.div_ceil(alignment) * alignment;
        let tensor_index = check_extents(path, &tensors, alignment, data_offset, len)?;
        Ok(GgufFile {
            path: path.to_path_buf(),
            version,
            metadata,
            tensors,
            data_offset,
            alignment,
            key_index,
            tensor_index,
            map,
        })
    }

    /// The metadata value under `key`.
    pub fn get(&self, key: &str) -> Option<&GgufValue> {
        self.key_index.get(key).map(|&i| &self.metadata[i].1)
    }
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key)?.as_str()
    }
    pub fn get_u32(&self, key: &str) -> Option<u32> {
        self.get(key)?.as_u32()
    }
    pub fn get_f32(&self, key: &str) -> Option<f32> {
        self.get(key)?.as_f32()
    }
    pub fn get_array(&self, key: &str) -> Option<&[GgufValue]> {
        self.get(key)?.as_array()
    }

    /// A required integer: a missing key or a value of another type is a format error.
    pub fn require_u32(&self, key: &str) -> Result<u32> {
        self.require(key, "an unsigned integer", GgufValue::as_u32)
    }
    /// A required float (f32, f64 or integer).
    pub fn require_f32(&self, key: &str) -> Result<f32> {
        self.require(key, "a number", GgufValue::as_f32)
    }
    /// A required string.
    pub fn require_str(&self, key: &str) -> Result<&str> {
        self.require(key, "a string", GgufValue::as_str)
    }
    /// A required array of strings (`tokenizer.ggml.tokens`, `tokenizer.ggml.merges`).
    pub fn require_str_array(&self, key: &str) -> Result<Vec<&str>> {
        let arr = self.require(key, "an array", GgufValue::as_array)?;
        arr.iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str().ok_or_else(|| {
                    Error::format(
                        &self.path,
                        format!(
                            "metadata `{key}`[{i}] is {}, expected a string",
                            v.type_name()
                        ),
                    )
                })
            })
            .collect()
    }

    fn require<'a, T>(
        &'a self,
        key: &str,
        what: &str,
        f: impl Fn(&'a GgufValue) -> Option<T>,
    ) -> Result<T> {
        let v = self
            .get(key)
            .ok_or_else(|| Error::format(&self.path, format!("metadata key `{key}` is missing")))?;
        f(v).ok_or_else(|| {
            Error::format(
                &self.path,
                format!(
                    "metadata `{key}` is {} = {v}, expected {what}",
                    v.type_name()
                ),
            )
        })
    }

    /// `general.architecture` (e.g. `llama`).
    pub fn architecture(&self) -> Option<&str> {
        self.get_str("general.architecture")
    }

    /// The header entry of a tensor.
    pub fn tensor_info(&self, name: &str) -> Option<&GgufTensorInfo> {
        self.tensor_index.get(name).map(|&i| &self.tensors[i])
    }

    /// Where a tensor's bytes are in the mapped file: `(offset, len)`, for a type of known size
    /// (in bounds: checked for every such tensor when the file was opened). `None` for a type
    /// of unknown size or rows that are not whole blocks.
    pub fn tensor_extent(&self, t: &GgufTensorInfo) -> Option<(usize, usize)> {
        Some((self.data_offset + t.offset as usize, t.n_bytes()?))
    }

    /// The memory map the tensor extents point into (shared by every matrix made from it).
    pub fn map(&self) -> &Arc<Mmap> {
        &self.map
    }

    /// Map every page of the tensor data into this process now (`MADV_POPULATE_READ`, Linux
    /// 5.14+; blocks until the pages are read), instead of one page fault per 64 KiB during the
    /// first forward pass. Only a hint: where it is refused, the pages come on first touch.
    pub fn prefault_data(&self) {
        #[cfg(target_os = "linux")]
        if self.data_offset < self.map.len() {
            let len = self.map.len() - self.data_offset;
            let _ = self
                .map
                .advise_range(memmap2::Advice::PopulateRead, self.data_offset, len);
        }
    }
}
