//! # Stage 3 · GGUF: llama.cpp's single-file model format, read by hand
//!
//! ```text
//! offset 0   "GGUF"  u32 version (2 or 3)  u64 tensor_count  u64 metadata_kv_count
//!            metadata_kv_count × { string key, u32 value_type, value }
//!            tensor_count      × { string name, u32 n_dims, u64 dims[n_dims], u32 ggml_type, u64 offset }
//!            padding to `general.alignment` (default 32)
//! data_offset  tensor data; each tensor at data_offset + its offset (a multiple of the alignment)
//!
//! string = u64 length + UTF-8 bytes (no NUL)       all integers little-endian
//! value_type: 0 u8  1 i8  2 u16  3 i16  4 u32  5 i32  6 f32  7 bool  8 string
//!             9 array = { u32 element_type, u64 count, count × value }   10 u64  11 i64  12 f64
//! ```
//!
//! `dims[0]` moves fastest: a weight stored as `dims = [cols, rows]` is `[rows, cols]` row-major
//! in our notation (`[out_features, in_features]`), the same bytes PyTorch has.
//!
//! Every read is bounds-checked against the file length, so a truncated or corrupt file gives a
//! `Error::Format` naming the field and the offsets, never a panic, and a corrupt count never
//! allocates more than the bytes that remain could hold.
//!
//! Reference: the GGUF specification, ggml `docs/gguf.md`; `gguf-py/gguf/gguf_reader.py`.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;

use crate::quant::DType;
pub use crate::weights::gguf_value::GgufValue;
use crate::weights::gguf_value::Reader;
use crate::weights::tensor::{Storage, WeightMatrix};
use crate::{Error, Result};

/// The four bytes every GGUF file starts with.
pub const GGUF_MAGIC: &[u8; 4] = b"GGUF";
/// Alignment of the data section when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: usize = 32;
/// ggml supports at most 4 dimensions.
const MAX_DIMS: u32 = 4;

/// One tensor's description in the header.
#[derive(Clone, Debug)]
pub struct GgufTensorInfo {
    pub name: String,
    /// `dims[0]` is the fastest-moving dimension (the columns of a matrix).
    pub dims: Vec<u64>,
    /// The `ggml_type` id (see [`ggml_type_name`]).
    pub type_id: u32,
    /// Byte offset relative to the start of the data section.
    pub offset: u64,
}

impl GgufTensorInfo {
    /// The storage type, if glassbox supports it.
    pub fn dtype(&self) -> Option<DType> {
        DType::from_gguf_type_id(self.type_id)
    }
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
    /// Bytes in the data section, for supported types.
    pub fn n_bytes(&self) -> Option<usize> {
        let (rows, cols) = self.rows_cols();
        self.dtype()?.row_bytes(cols)?.checked_mul(rows)
    }
    /// Shape in PyTorch order (slowest first): `[rows, cols]` for a matrix, `[n]` for a vector.
    pub fn shape(&self) -> Vec<usize> {
        self.dims.iter().rev().map(|&d| d as usize).collect()
    }
}

/// The ggml type name for a GGUF tensor type id (also for types glassbox cannot compute with).
pub fn ggml_type_name(id: u32) -> String {
    const NAMES: [&str; 31] = [
        "F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K",
        "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL",
        "IQ3_S", "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64", "IQ1_M", "BF16",
    ];
    match NAMES.get(id as usize) {
        Some(n) => (*n).to_string(),
        None => format!("type id {id}"),
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
                "truncated: the file is empty (a GGUF header has 24 bytes)",
            ));
        }
        // SAFETY: the map is read-only and private to this process. Like every mmap-based model
        // loader we assume nobody truncates or rewrites the file while it is open; all offsets
        // are bounds-checked against the map's length, which is fixed at map time.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        Self::parse(path, Arc::new(map))
    }

    /// Parse GGUF bytes held in memory (tests, corrupt-file experiments); `name` labels errors.
    pub fn from_bytes(name: &Path, bytes: &[u8]) -> Result<GgufFile> {
        let mut m =
            memmap2::MmapMut::map_anon(bytes.len().max(1)).map_err(|e| Error::io(name, e))?;
        m[..bytes.len()].copy_from_slice(bytes);
        let map = m.make_read_only().map_err(|e| Error::io(name, e))?;
        Self::parse_prefix(name, Arc::new(map), bytes.len())
    }

    fn parse(path: &Path, map: Arc<Mmap>) -> Result<GgufFile> {
        let len = map.len();
        Self::parse_prefix(path, map, len)
    }

    /// Parse the first `len` bytes of `map` (all of it, except for an empty `from_bytes`).
    fn parse_prefix(path: &Path, map: Arc<Mmap>, len: usize) -> Result<GgufFile> {
        if len < 24 {
            return Err(Error::format(
                path,
                format!("truncated: {len} bytes is shorter than the 24-byte GGUF header"),
            ));
        }
        let mut r = Reader {
            buf: &map[..len],
            pos: 0,
            path,
        };
        // ANCHOR: header
        let magic = r.bytes(4, "magic")?;
        if magic != GGUF_MAGIC {
            return Err(Error::format(
                path,
                format!("wrong magic {magic:?} (expected \"GGUF\"): not a GGUF file"),
            ));
        }
        let version = r.u32("version")?;
        if version != 2 && version != 3 {
            return Err(Error::Unsupported(format!(
                "{}: GGUF version {version} (glassbox reads versions 2 and 3)",
                path.display()
            )));
        }
        let tensor_count = r.u64("tensor_count")?;
        let kv_count = r.u64("metadata_kv_count")?;
        // ANCHOR_END: header
        // Each key-value pair takes at least 8 (key length) + 4 (type) + 1 bytes; each tensor
        // info at least 8 + 4 + 8 + 4 + 8. A larger count cannot be honest.
        r.check_count(kv_count, 13, "metadata_kv_count")?;
        let mut metadata = Vec::with_capacity(kv_count as usize);
        for i in 0..kv_count {
            let key = r.string(&format!("metadata key #{i}"))?;
            let ty = r.u32(&format!("type of metadata `{key}`"))?;
            let value = r.value(ty, &format!("metadata `{key}`"), 0)?;
            metadata.push((key, value));
        }
        r.check_count(tensor_count, 32, "tensor_count")?;
        let mut tensors = Vec::with_capacity(tensor_count as usize);
        for i in 0..tensor_count {
            tensors.push(read_tensor_info(&mut r, i)?);
        }

        let key_index: HashMap<String, usize> = metadata
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.clone(), i))
            .collect();
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
        let file_len = len;
        if data_offset > file_len {
            return Err(Error::format(
                path,
                format!("truncated: the data section would start at {data_offset}, past the end of the file ({file_len} bytes)"),
            ));
        }
        let mut tensor_index = HashMap::with_capacity(tensors.len());
        for (i, t) in tensors.iter().enumerate() {
            if tensor_index.insert(t.name.clone(), i).is_some() {
                return Err(Error::format(
                    path,
                    format!("tensor `{}` appears twice", t.name),
                ));
            }
            if t.offset % alignment as u64 != 0 {
                return Err(Error::format(
                    path,
                    format!(
                        "tensor `{}`: offset {} is not a multiple of the alignment {alignment}",
                        t.name, t.offset
                    ),
                ));
            }
            // Types we cannot size are checked when (if) someone asks for the tensor.
            if let Some(n) = t.n_bytes() {
                let end = (data_offset as u64)
                    .checked_add(t.offset)
                    .and_then(|s| s.checked_add(n as u64));
                if end.is_none_or(|e| e > file_len as u64) {
                    return Err(Error::format(
                        path,
                        format!(
                            "tensor `{}`: offset {} + {n} bytes is past the end of the file ({file_len} bytes, data section at {data_offset})",
                            t.name, t.offset
                        ),
                    ));
                }
            }
        }
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
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key)?.as_u64()
    }
    pub fn get_f32(&self, key: &str) -> Option<f32> {
        self.get(key)?.as_f32()
    }
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.get(key)?.as_bool()
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

    /// A tensor as a matrix over the mapped bytes (no copy): `rows = dims[1] × …`, `cols = dims[0]`.
    pub fn tensor(&self, name: &str) -> Result<WeightMatrix> {
        let t = self.tensor_info(name).ok_or_else(|| {
            Error::format(
                &self.path,
                format!(
                    "missing tensor `{name}` ({} tensors in the file)",
                    self.tensors.len()
                ),
            )
        })?;
        let dtype = t.dtype().ok_or_else(|| {
            Error::Unsupported(format!(
                "tensor `{name}` in {} has type {} (id {}); glassbox reads {}",
                self.path.display(),
                ggml_type_name(t.type_id),
                t.type_id,
                DType::ALL.map(DType::name).join(", ")
            ))
        })?;
        let (rows, cols) = t.rows_cols();
        let len = t.n_bytes().ok_or_else(|| {
            Error::format(
                &self.path,
                format!(
                    "tensor `{name}`: a row of {cols} elements is not a whole number of {} blocks of {}",
                    dtype.name(),
                    dtype.block_size()
                ),
            )
        })?;
        // In bounds: checked in `parse` for every tensor of a supported type.
        let offset = self.data_offset + t.offset as usize;
        WeightMatrix::new(
            name,
            dtype,
            rows,
            cols,
            Storage::Mapped {
                map: Arc::clone(&self.map),
                offset,
                len,
            },
        )
    }

    /// The shared memory map (for callers that build their own views).
    pub fn map(&self) -> &Arc<Mmap> {
        &self.map
    }
}

/// One tensor info: name, n_dims, dims (ne[0] first), ggml type, offset.
fn read_tensor_info(r: &mut Reader<'_>, i: u64) -> Result<GgufTensorInfo> {
    let name = r.string(&format!("name of tensor #{i}"))?;
    let n_dims = r.u32(&format!("n_dims of tensor `{name}`"))?;
    if n_dims == 0 || n_dims > MAX_DIMS {
        return Err(Error::format(
            r.path,
            format!("tensor `{name}`: n_dims = {n_dims} (expected 1..=4)"),
        ));
    }
    let mut dims = Vec::with_capacity(n_dims as usize);
    for d in 0..n_dims {
        dims.push(r.u64(&format!("dims[{d}] of tensor `{name}`"))?);
    }
    // The element count must fit in memory-sized integers; no real tensor comes close to 2^48.
    if dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .is_none_or(|n| n > 1 << 48)
    {
        return Err(Error::format(
            r.path,
            format!("tensor `{name}`: dims {dims:?} are too large"),
        ));
    }
    let type_id = r.u32(&format!("type of tensor `{name}`"))?;
    let offset = r.u64(&format!("offset of tensor `{name}`"))?;
    Ok(GgufTensorInfo {
        name,
        dims,
        type_id,
        offset,
    })
}
