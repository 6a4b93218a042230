//! The three reading steps of a GGUF file: header, metadata and tensor infos, extents.
//!
//! Each step reads through the bounds-checked [`Reader`], so a truncated or corrupt file is an
//! `Error::Format` that names the field and the offset.

use std::collections::HashMap;
use std::path::Path;

use super::value::{GgufValue, Reader};
use super::{GgufTensorInfo, GGUF_MAGIC, MAX_DIMS, MIN_KV_BYTES};
use crate::{Error, Result};

// ANCHOR: header
/// The fixed header: magic, version, and the two counts that follow.
pub(super) fn read_header(r: &mut Reader<'_>) -> Result<(u32, u64, u64)> {
    let magic = r.bytes(4, "magic")?;
    if magic != GGUF_MAGIC {
        return Err(Error::format(
            r.path,
            format!("wrong magic {magic:?} (expected \"GGUF\"): not a GGUF file"),
        ));
    }
    let version = r.u32("version")?;
    if version != 2 && version != 3 {
        return Err(Error::Unsupported(format!(
            "{}: GGUF version {version} (glassbox reads versions 2 and 3)",
            r.path.display()
        )));
    }
    let tensor_count = r.u64("tensor_count")?;
    let kv_count = r.u64("metadata_kv_count")?;
    Ok((version, tensor_count, kv_count))
}
// ANCHOR_END: header

/// `kv_count` metadata pairs `{ key, value type, value }`, in file order.
pub(super) fn read_metadata(r: &mut Reader<'_>, kv_count: u64) -> Result<Vec<(String, GgufValue)>> {
    // A larger count than the remaining bytes could hold cannot be honest: refuse it before
    // allocating.
    r.check_count(kv_count, MIN_KV_BYTES, "metadata_kv_count")?;
    let mut metadata = Vec::with_capacity(kv_count as usize);
    for i in 0..kv_count {
        let key = r.string(&format!("metadata key #{i}"))?;
        let ty = r.u32(&format!("type of metadata `{key}`"))?;
        let value = r.value(ty, &format!("metadata `{key}`"), 0)?;
        metadata.push((key, value));
    }
    Ok(metadata)
}

/// One tensor info: name, n_dims, dims (ne[0] first), ggml type, offset.
pub(super) fn read_tensor_info(r: &mut Reader<'_>, i: u64) -> Result<GgufTensorInfo> {
    let name = r.string(&format!("name of tensor #{i}"))?;
    let n_dims = r.u32(&format!("n_dims of tensor `{name}`"))?;
    if n_dims == 0 || n_dims > MAX_DIMS {
        return Err(Error::format(
            r.path,
            format!("tensor `{name}`: n_dims = {n_dims} (expected 1..={MAX_DIMS})"),
        ));
    }
    let mut dims = Vec::with_capacity(n_dims as usize);
    for d in 0..n_dims {
        dims.push(r.u64(&format!("dims[{d}] of tensor `{name}`"))?);
    }
    // The element count must fit in memory-sized integers; no real tensor comes close to 2^48.
    // Each dim too: a zero dim makes the count 0 however large the others are, and the byte
    // size of a row (dims[0] × bytes per element) would overflow (found by the fuzzer).
    if dims.iter().any(|&d| d > 1 << 48)
        || dims
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

/// Every tensor's name is unique, its offset aligned, and its bytes (for types of known size)
/// inside the `file_len` bytes of the file. Returns the name → index map.
pub(super) fn check_extents(
    path: &Path,
    tensors: &[GgufTensorInfo],
    alignment: usize,
    data_offset: usize,
    file_len: usize,
) -> Result<HashMap<String, usize>> {
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
        // Types of unknown size are checked when (if) someone asks for the tensor.
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
    Ok(tensor_index)
}
