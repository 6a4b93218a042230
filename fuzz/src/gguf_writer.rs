//! A GGUF serialiser that can lie: the structure-aware target builds a file from typed fields
//! (the tiny model's metadata and tensors, then edits), and the fields that say how much
//! follows (tensor and metadata counts, array lengths) may be written as something other than
//! what follows. Random byte flips rarely make a count of exactly 2³² or a float of exactly
//! NaN; this writes them on purpose.
//!
//! Layout (ggml `docs/gguf.md`): `"GGUF" u32 version u64 n_tensors u64 n_kv`, the key/value
//! pairs, the tensor infos, padding to the alignment, then each tensor's data.

use glassbox::formats::gguf::GgufValue;

/// One tensor to write: the info fields, and the bytes placed in the data section.
#[derive(Clone, Debug)]
pub struct Tensor {
    pub name: String,
    pub dims: Vec<u64>,
    pub ty: u32,
    /// `None`: the next aligned offset after the previous tensor (what a writer does).
    pub offset: Option<u64>,
    pub data: Vec<u8>,
}

/// A whole file, with the counts it will claim.
#[derive(Clone, Debug, Default)]
pub struct File {
    pub version: u32,
    pub metadata: Vec<(String, GgufValue)>,
    pub tensors: Vec<Tensor>,
    /// Claimed counts; `None` writes the true count.
    pub claimed_tensors: Option<u64>,
    pub claimed_kv: Option<u64>,
    /// For metadata key `.0`, write array length `.1` whatever the array holds.
    pub claimed_array_len: Vec<(String, u64)>,
    pub alignment: u64,
}

/// The GGUF value type id of `v` (see `formats/gguf/value.rs`).
pub fn type_id(v: &GgufValue) -> u32 {
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

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend(s.as_bytes());
}

fn put_value(out: &mut Vec<u8>, v: &GgufValue, claimed_len: Option<u64>) {
    match v {
        GgufValue::U8(x) => out.push(*x),
        GgufValue::I8(x) => out.extend(x.to_le_bytes()),
        GgufValue::U16(x) => out.extend(x.to_le_bytes()),
        GgufValue::I16(x) => out.extend(x.to_le_bytes()),
        GgufValue::U32(x) => out.extend(x.to_le_bytes()),
        GgufValue::I32(x) => out.extend(x.to_le_bytes()),
        GgufValue::F32(x) => out.extend(x.to_le_bytes()),
        GgufValue::Bool(x) => out.push(*x as u8),
        GgufValue::String(s) => put_str(out, s),
        GgufValue::U64(x) => out.extend(x.to_le_bytes()),
        GgufValue::I64(x) => out.extend(x.to_le_bytes()),
        GgufValue::F64(x) => out.extend(x.to_le_bytes()),
        GgufValue::Array(a) => {
            out.extend(a.first().map_or(0, type_id).to_le_bytes());
            out.extend(claimed_len.unwrap_or(a.len() as u64).to_le_bytes());
            for x in a {
                put_value(out, x, None);
            }
        }
    }
}

impl File {
    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let align = self.alignment.clamp(1, 1 << 12) as usize;
        let mut out = b"GGUF".to_vec();
        out.extend(self.version.to_le_bytes());
        let n_t = self.claimed_tensors.unwrap_or(self.tensors.len() as u64);
        out.extend(n_t.to_le_bytes());
        out.extend(
            self.claimed_kv
                .unwrap_or(self.metadata.len() as u64)
                .to_le_bytes(),
        );
        for (k, v) in &self.metadata {
            put_str(&mut out, k);
            out.extend(type_id(v).to_le_bytes());
            let claimed = self
                .claimed_array_len
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, n)| *n);
            put_value(&mut out, v, claimed);
        }
        let mut next = 0u64;
        for t in &self.tensors {
            put_str(&mut out, &t.name);
            out.extend((t.dims.len() as u32).to_le_bytes());
            for d in &t.dims {
                out.extend(d.to_le_bytes());
            }
            out.extend(t.ty.to_le_bytes());
            out.extend(t.offset.unwrap_or(next).to_le_bytes());
            next += (t.data.len() as u64).div_ceil(align as u64) * align as u64;
        }
        out.resize(out.len().div_ceil(align) * align, 0);
        for t in &self.tensors {
            out.extend(&t.data);
            out.resize(out.len().div_ceil(align) * align, 0);
        }
        out
    }
}
