//! # Writing a GGUF v3 file: the reader's layout, produced in one pass
//!
//! ```text
//! "GGUF"  u32 3  u64 tensor_count  u64 metadata_kv_count
//! metadata_kv_count × { string key, u32 value_type, value }
//! tensor_count      × { string name, u32 n_dims, u64 dims[n_dims], u32 ggml_type, u64 offset }
//! zero padding to `general.alignment` (default 32)
//! tensor data, each tensor starting at a multiple of the alignment (offsets relative to here)
//! ```
//!
//! Every tensor's size is known from its type and shape before any data is made, so the header
//! (with every offset) is written first and the tensors are then streamed in order: a quantizer
//! never holds more than the rows it is working on.
//!
//! The file is written to a temporary name in the same directory, flushed, fsynced and renamed
//! over `OUT` only when complete: an interrupted run leaves no file that looks finished.
//!
//! Reference: the GGUF specification, ggml `docs/gguf.md`; the reader in `formats::gguf`.

use std::io::Write;
use std::path::Path;

use crate::formats::file::write_atomic_with;
use crate::formats::gguf::{
    ggml_type_name, GgufTensorInfo, GgufValue, DEFAULT_ALIGNMENT, GGUF_MAGIC,
};
use crate::{Error, Result};

/// One tensor to write: its header entry and the number of data bytes that will follow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorSpec {
    pub name: String,
    /// `dims[0]` moves fastest (the columns of a matrix), as in the reader.
    pub dims: Vec<u64>,
    /// The `ggml_type` id.
    pub type_id: u32,
    /// Bytes of data (rows × row bytes for the type).
    pub n_bytes: u64,
}

/// The GGUF value type id of a value (the table in `formats::gguf`).
fn type_id(v: &GgufValue) -> u32 {
    match v {
        GgufValue::U8(_) => 0,
        GgufValue::I8(_) => 1,
        GgufValue::U16(_) => 2,
        GgufValue::I16(_) => 3,
        GgufValue::U32(_) => 4,
        GgufValue::I32(_) => 5,
        GgufValue::F32(_) => 6,
        GgufValue::Bool(_) => 7,
        GgufValue::String(_) => 8,
        GgufValue::Array(_) => 9,
        GgufValue::U64(_) => 10,
        GgufValue::I64(_) => 11,
        GgufValue::F64(_) => 12,
    }
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// A value's bytes (without its type id). An array's element type is its first element's;
/// an empty array is written as an empty array of u8 (the reader keeps no type for it).
fn put_value(out: &mut Vec<u8>, key: &str, v: &GgufValue) -> Result<()> {
    match v {
        GgufValue::U8(x) => out.push(*x),
        GgufValue::I8(x) => out.extend_from_slice(&x.to_le_bytes()),
        GgufValue::U16(x) => out.extend_from_slice(&x.to_le_bytes()),
        GgufValue::I16(x) => out.extend_from_slice(&x.to_le_bytes()),
        GgufValue::U32(x) => out.extend_from_slice(&x.to_le_bytes()),
        GgufValue::I32(x) => out.extend_from_slice(&x.to_le_bytes()),
        GgufValue::F32(x) => out.extend_from_slice(&x.to_le_bytes()),
        GgufValue::Bool(x) => out.push(*x as u8),
        GgufValue::String(s) => put_string(out, s),
        GgufValue::U64(x) => out.extend_from_slice(&x.to_le_bytes()),
        GgufValue::I64(x) => out.extend_from_slice(&x.to_le_bytes()),
        GgufValue::F64(x) => out.extend_from_slice(&x.to_le_bytes()),
        GgufValue::Array(items) => {
            let elem = items.first().map_or(0, type_id);
            if let Some(bad) = items.iter().find(|i| type_id(i) != elem) {
                return Err(Error::invalid(format!(
                    "metadata `{key}`: an array mixes {} and {} elements",
                    items[0].type_name(),
                    bad.type_name()
                )));
            }
            out.extend_from_slice(&elem.to_le_bytes());
            out.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for item in items {
                put_value(out, key, item)?;
            }
        }
    }
    Ok(())
}

/// The alignment a metadata list asks for (`general.alignment`), else the default 32.
pub fn alignment_of(metadata: &[(String, GgufValue)]) -> Result<usize> {
    match metadata.iter().find(|(k, _)| k == "general.alignment") {
        None => Ok(DEFAULT_ALIGNMENT),
        Some((_, v)) => match v.as_u64() {
            Some(a) if a > 0 && a.is_power_of_two() && a <= 1 << 20 => Ok(a as usize),
            _ => Err(Error::invalid(format!(
                "general.alignment = {v} is not a power of two"
            ))),
        },
    }
}

// ANCHOR: header
/// The header bytes: magic, counts, metadata, tensor infos with their offsets, padding.
/// Returns the bytes and each tensor's offset relative to the data section.
pub fn header_bytes(
    metadata: &[(String, GgufValue)],
    tensors: &[TensorSpec],
) -> Result<(Vec<u8>, Vec<u64>)> {
    let align = alignment_of(metadata)? as u64;
    let mut h = Vec::new();
    h.extend_from_slice(GGUF_MAGIC);
    h.extend_from_slice(&3u32.to_le_bytes());
    h.extend_from_slice(&(tensors.len() as u64).to_le_bytes());
    h.extend_from_slice(&(metadata.len() as u64).to_le_bytes());
    for (key, value) in metadata {
        put_string(&mut h, key);
        h.extend_from_slice(&type_id(value).to_le_bytes());
        put_value(&mut h, key, value)?;
    }
    let mut offsets = Vec::with_capacity(tensors.len());
    let mut offset = 0u64;
    let mut names = std::collections::HashSet::with_capacity(tensors.len());
    for t in tensors {
        // a reader finds a tensor by its name: a second one of the same name is refused there
        if !names.insert(t.name.as_str()) {
            return Err(Error::invalid(format!("tensor `{}` appears twice", t.name)));
        }
        if t.dims.is_empty() || t.dims.len() > 4 {
            return Err(Error::invalid(format!(
                "tensor `{}`: {} dimensions (GGUF allows 1 to 4)",
                t.name,
                t.dims.len()
            )));
        }
        // the size a reader computes from the type and dims must be what `fill` will write
        let info = GgufTensorInfo {
            name: t.name.clone(),
            dims: t.dims.clone(),
            type_id: t.type_id,
            offset: 0,
        };
        let elements = t.dims.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
        let implied = elements.and_then(|_| info.n_bytes());
        if implied.map(|n| n as u64) != Some(t.n_bytes) {
            return Err(Error::invalid(format!(
                "tensor `{}`: {} bytes given, but type {} with dims {:?} holds {}",
                t.name,
                t.n_bytes,
                ggml_type_name(t.type_id),
                t.dims,
                implied.map_or("no whole number of blocks".into(), |n| n.to_string())
            )));
        }
        put_string(&mut h, &t.name);
        h.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
        for d in &t.dims {
            h.extend_from_slice(&d.to_le_bytes());
        }
        h.extend_from_slice(&t.type_id.to_le_bytes());
        h.extend_from_slice(&offset.to_le_bytes());
        offsets.push(offset);
        offset = (offset + t.n_bytes).next_multiple_of(align);
    }
    h.resize((h.len() as u64).next_multiple_of(align) as usize, 0);
    Ok((h, offsets))
}
// ANCHOR_END: header

/// A `Write` that counts what passes through (to check each tensor's size).
struct Counting<'a> {
    inner: &'a mut dyn Write,
    n: u64,
}

impl Write for Counting<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let k = self.inner.write(buf)?;
        self.n += k as u64;
        Ok(k)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Write a GGUF v3 file at `out`: the header, then each tensor's data in order, produced by
/// `fill(i, w)`, which must write exactly `tensors[i].n_bytes` bytes to `w`. Written atomically
/// (`formats::file::write_atomic_with`: a temporary name, fsync, rename; removed on any error).
pub fn write_gguf(
    out: &Path,
    metadata: &[(String, GgufValue)],
    tensors: &[TensorSpec],
    mut fill: impl FnMut(usize, &mut dyn Write) -> Result<()>,
) -> Result<()> {
    let (header, offsets) = header_bytes(metadata, tensors)?;
    let align = alignment_of(metadata)? as u64;
    // an error of ours inside the writer: kept here, the write aborted with an io::Error
    let mut failed: Option<Error> = None;
    let written = write_atomic_with(out, |inner| {
        let mut w = Counting { inner, n: 0 };
        w.write_all(&header)?;
        let data_start = w.n;
        for (i, t) in tensors.iter().enumerate() {
            let pad = data_start + offsets[i] - w.n; // zeros up to this tensor's aligned offset
            w.write_all(&vec![0u8; pad as usize])?;
            let before = w.n;
            let checked = fill(i, &mut w).and_then(|()| match w.n - before {
                n if n == t.n_bytes => Ok(()),
                n => Err(Error::invalid(format!(
                    "tensor `{}`: wrote {n} bytes, its header says {}",
                    t.name, t.n_bytes
                ))),
            });
            if let Err(e) = checked {
                failed = Some(e);
                return Err(std::io::Error::other("stopped"));
            }
        }
        // the file ends at the end of the last tensor, padded to the alignment (as ggml does)
        let end = w.n.next_multiple_of(align);
        w.write_all(&vec![0u8; (end - w.n) as usize])
    });
    match (failed, written) {
        (Some(e), _) => Err(e),
        (None, r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::gguf::GgufFile;
    use std::fs;

    /// What we write, our reader reads back: metadata of every type, tensors at aligned offsets.
    #[test]
    fn round_trip_through_the_reader() {
        let dir = std::env::temp_dir().join(format!("gb-gguf-write-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let out = dir.join("t.gguf");
        let md = vec![
            (
                "general.architecture".to_string(),
                GgufValue::String("llama".into()),
            ),
            ("a.u8".into(), GgufValue::U8(7)),
            ("a.i64".into(), GgufValue::I64(-5)),
            ("a.f64".into(), GgufValue::F64(0.25)),
            ("a.bool".into(), GgufValue::Bool(true)),
            (
                "a.arr".into(),
                GgufValue::Array(vec![
                    GgufValue::String("x".into()),
                    GgufValue::String("yz".into()),
                ]),
            ),
        ];
        let tensors = vec![
            TensorSpec {
                name: "v".into(),
                dims: vec![3],
                type_id: 0,
                n_bytes: 12,
            },
            TensorSpec {
                name: "m".into(),
                dims: vec![2, 2],
                type_id: 0,
                n_bytes: 16,
            },
        ];
        write_gguf(&out, &md, &tensors, |i, w| {
            let vals: Vec<f32> = if i == 0 {
                vec![1., 2., 3.]
            } else {
                vec![4., 5., 6., 7.]
            };
            for v in vals {
                w.write_all(&v.to_le_bytes())
                    .map_err(|e| Error::io("test", e))?;
            }
            Ok(())
        })
        .unwrap();
        assert!(no_temp_files(&dir));
        let g = GgufFile::open(&out).unwrap();
        assert_eq!(g.version, 3);
        assert_eq!(g.metadata, md);
        assert_eq!(g.tensors[1].offset, 32); // 12 bytes, padded to the alignment
        let (offset, len) = g.tensor_extent(&g.tensors[1]).unwrap();
        let m: Vec<f32> = g.map()[offset..offset + len]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        assert_eq!(m, [4., 5., 6., 7.]);
        // a fill that writes the wrong size fails, and leaves nothing behind
        let bad = dir.join("bad.gguf");
        let e = write_gguf(&bad, &md, &tensors, |_, _| Ok(())).unwrap_err();
        assert!(e.to_string().contains("tensor `v`"), "{e}");
        assert!(!bad.exists() && no_temp_files(&dir));
        // a size the type and dims do not imply (found by fuzz/gguf_write: the reader could not
        // place such a tensor) is refused before anything is written: a Q8_0 row of 33 columns
        // is not whole blocks, and 3 f32 are not 13 bytes
        for (dims, type_id, n_bytes) in [(vec![33], 8, 35), (vec![3], 0, 13)] {
            let spec = [TensorSpec {
                name: "odd".into(),
                dims,
                type_id,
                n_bytes,
            }];
            let e = write_gguf(&bad, &md, &spec, |_, w| {
                w.write_all(&vec![0; n_bytes as usize])
                    .map_err(|e| Error::io("test", e))
            })
            .unwrap_err();
            assert!(e.to_string().contains("tensor `odd`"), "{e}");
            assert!(!bad.exists() && no_temp_files(&dir));
        }
        // two tensors of one name (fuzz/gguf_write, 2026-12-02 17:25): the writer wrote them and
        // the reader refused the file ("tensor `t2` appears twice"); now the writer refuses
        let twice = [tensors[0].clone(), tensors[0].clone()];
        let e = write_gguf(&bad, &md, &twice, |_, w| {
            w.write_all(&[0; 12]).map_err(|e| Error::io("test", e))
        })
        .unwrap_err();
        assert!(e.to_string().contains("tensor `v` appears twice"), "{e}");
        assert!(!bad.exists() && no_temp_files(&dir));
        fs::remove_dir_all(&dir).unwrap();
    }

    /// No temporary file (`.NAME.<pid>.<n>.tmp`, see `formats::file`) left in `dir`.
    fn no_temp_files(dir: &std::path::Path) -> bool {
        fs::read_dir(dir)
            .unwrap()
            .all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".tmp"))
    }
}
