//! # GGUF typed values, and the bounds-checked cursor that reads them
//!
//! ```text
//! value_type: 0 u8  1 i8  2 u16  3 i16  4 u32  5 i32  6 f32  7 bool (1 byte, 0 or 1)
//!             8 string = u64 length + UTF-8 bytes
//!             9 array  = u32 element_type, u64 count, count × value   (arrays may nest)
//!             10 u64  11 i64  12 f64                                   all little-endian
//! ```
//!
//! The cursor never reads past the end: every read checks the length first, and a count is
//! checked against the bytes that remain (`count × smallest element ≤ remaining`) before
//! anything is allocated, so a corrupt count of 2^60 is an error, not an out-of-memory abort.
//!
//! Reference: the GGUF specification, ggml `docs/gguf.md`.

use std::fmt;
use std::path::Path;

use crate::{Error, Result};

/// Nested arrays deeper than this are refused (real files nest at most one level).
const MAX_ARRAY_DEPTH: usize = 8;

/// The most array elements all metadata of one file may hold together. Each element is a
/// 32-byte [`GgufValue`] in memory, however small in the file (a u8 is 1 byte there), so this
/// bounds what a file can make us allocate: 2²³ elements = 256 MiB at most. The largest real
/// tokenizers hold under 10⁶ (Gemma 3: 262,144 tokens + scores + types).
pub const MAX_METADATA_ELEMENTS: u64 = 1 << 23;

/// One typed metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum GgufValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(String),
    Array(Vec<GgufValue>),
    U64(u64),
    I64(i64),
    F64(f64),
}

impl GgufValue {
    /// Any integer type, if it is non-negative and fits in u64.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            GgufValue::U8(v) => Some(v as u64),
            GgufValue::U16(v) => Some(v as u64),
            GgufValue::U32(v) => Some(v as u64),
            GgufValue::U64(v) => Some(v),
            GgufValue::I8(v) => u64::try_from(v).ok(),
            GgufValue::I16(v) => u64::try_from(v).ok(),
            GgufValue::I32(v) => u64::try_from(v).ok(),
            GgufValue::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }
    /// Any integer type that fits in u32 (writers differ on the width they use).
    pub fn as_u32(&self) -> Option<u32> {
        self.as_u64().and_then(|v| u32::try_from(v).ok())
    }
    /// Any signed or unsigned integer as i64.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            GgufValue::I8(v) => Some(v as i64),
            GgufValue::I16(v) => Some(v as i64),
            GgufValue::I32(v) => Some(v as i64),
            GgufValue::I64(v) => Some(v),
            _ => self.as_u64().and_then(|v| i64::try_from(v).ok()),
        }
    }
    /// F32 or F64 (narrowed), or an integer.
    pub fn as_f32(&self) -> Option<f32> {
        match *self {
            GgufValue::F32(v) => Some(v),
            GgufValue::F64(v) => Some(v as f32),
            _ => self.as_i64().map(|v| v as f32),
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            GgufValue::Bool(b) => Some(b),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            GgufValue::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_array(&self) -> Option<&[GgufValue]> {
        match self {
            GgufValue::Array(a) => Some(a),
            _ => None,
        }
    }
    /// The GGUF name of this value's type (`u32`, `string`, `array[string]`, ...).
    pub fn type_name(&self) -> String {
        match self {
            GgufValue::U8(_) => "u8".into(),
            GgufValue::I8(_) => "i8".into(),
            GgufValue::U16(_) => "u16".into(),
            GgufValue::I16(_) => "i16".into(),
            GgufValue::U32(_) => "u32".into(),
            GgufValue::I32(_) => "i32".into(),
            GgufValue::F32(_) => "f32".into(),
            GgufValue::Bool(_) => "bool".into(),
            GgufValue::String(_) => "string".into(),
            GgufValue::U64(_) => "u64".into(),
            GgufValue::I64(_) => "i64".into(),
            GgufValue::F64(_) => "f64".into(),
            GgufValue::Array(a) => match a.first() {
                Some(v) => format!("array[{}]", v.type_name()),
                None => "array".into(),
            },
        }
    }
}

/// Short display: scalars in full, strings up to 60 chars, arrays as `[first, … (n items)]`.
impl fmt::Display for GgufValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GgufValue::String(s) if s.chars().count() > 60 => {
                let head: String = s.chars().take(57).collect();
                write!(f, "{head:?}… ({} bytes)", s.len())
            }
            GgufValue::String(s) => write!(f, "{s:?}"),
            GgufValue::Array(a) => {
                let shown: Vec<String> = a.iter().take(3).map(|v| v.to_string()).collect();
                let more = if a.len() > 3 { ", …" } else { "" };
                write!(f, "[{}{more}] ({} items)", shown.join(", "), a.len())
            }
            GgufValue::U8(v) => write!(f, "{v}"),
            GgufValue::I8(v) => write!(f, "{v}"),
            GgufValue::U16(v) => write!(f, "{v}"),
            GgufValue::I16(v) => write!(f, "{v}"),
            GgufValue::U32(v) => write!(f, "{v}"),
            GgufValue::I32(v) => write!(f, "{v}"),
            GgufValue::U64(v) => write!(f, "{v}"),
            GgufValue::I64(v) => write!(f, "{v}"),
            GgufValue::F32(v) => write!(f, "{v}"),
            GgufValue::F64(v) => write!(f, "{v}"),
            GgufValue::Bool(v) => write!(f, "{v}"),
        }
    }
}

/// A cursor over the mapped bytes; every read checks the length first.
pub(crate) struct Reader<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) pos: usize,
    pub(crate) path: &'a Path,
    /// Array elements still allowed (starts at [`MAX_METADATA_ELEMENTS`]).
    pub(crate) elements_left: u64,
}

impl<'a> Reader<'a> {
    pub(crate) fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| {
                Error::format(
                    self.path,
                    format!(
                        "truncated: {what} needs {n} bytes at offset {}, but the file has {} bytes",
                        self.pos,
                        self.buf.len()
                    ),
                )
            })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    pub(crate) fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N, what)?);
        Ok(a)
    }
    pub(crate) fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    pub(crate) fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    /// A count of items of at least `min_bytes` each must fit in what is left of the file.
    pub(crate) fn check_count(&self, count: u64, min_bytes: u64, what: &str) -> Result<()> {
        if count
            .checked_mul(min_bytes)
            .is_none_or(|n| n > self.remaining() as u64)
        {
            return Err(Error::format(
                self.path,
                format!(
                    "{what} = {count} at offset {} cannot fit in the {} bytes left in the file (truncated or corrupt)",
                    self.pos,
                    self.remaining()
                ),
            ));
        }
        Ok(())
    }
    pub(crate) fn string(&mut self, what: &str) -> Result<String> {
        // (labels are formatted only on the error path: this runs once per token string)
        if self.remaining() < 8 {
            return self
                .bytes(8, &format!("length of {what}"))
                .map(|_| String::new());
        }
        let len = self.u64("")?;
        if len > self.remaining() as u64 {
            self.check_count(len, 1, &format!("length of {what}"))?;
        }
        let start = self.pos;
        let raw = self.bytes(len as usize, what)?;
        String::from_utf8(raw.to_vec()).map_err(|e| {
            Error::format(
                self.path,
                format!("{what} at offset {start} is not valid UTF-8: {e}"),
            )
        })
    }

    /// One value of GGUF type `ty` (see the table in the module docs).
    pub(crate) fn value(&mut self, ty: u32, what: &str, depth: usize) -> Result<GgufValue> {
        Ok(match ty {
            0 => GgufValue::U8(u8::from_le_bytes(self.array(what)?)),
            1 => GgufValue::I8(i8::from_le_bytes(self.array(what)?)),
            2 => GgufValue::U16(u16::from_le_bytes(self.array(what)?)),
            3 => GgufValue::I16(i16::from_le_bytes(self.array(what)?)),
            4 => GgufValue::U32(u32::from_le_bytes(self.array(what)?)),
            5 => GgufValue::I32(i32::from_le_bytes(self.array(what)?)),
            6 => GgufValue::F32(f32::from_le_bytes(self.array(what)?)),
            7 => match self.array::<1>(what)?[0] {
                0 => GgufValue::Bool(false),
                1 => GgufValue::Bool(true),
                b => {
                    return Err(Error::format(
                        self.path,
                        format!("{what}: bool byte {b} is neither 0 nor 1"),
                    ))
                }
            },
            8 => GgufValue::String(self.string(what)?),
            9 => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(Error::format(
                        self.path,
                        format!("{what}: arrays nested deeper than {MAX_ARRAY_DEPTH}"),
                    ));
                }
                let elem = self.u32(&format!("element type of {what}"))?;
                let count = self.u64(&format!("length of {what}"))?;
                let min = match elem {
                    0 | 1 | 7 => 1,
                    2 | 3 => 2,
                    4..=6 => 4, // u32, i32, f32
                    8 | 10 | 11 | 12 => 8,
                    9 => 12,
                    _ => return Err(self.bad_type(elem, what)),
                };
                self.check_count(count, min, &format!("length of {what}"))?;
                self.elements_left = self.elements_left.checked_sub(count).ok_or_else(|| {
                    Error::format(
                        self.path,
                        format!(
                            "{what}: an array of {count} elements takes the file's metadata past {MAX_METADATA_ELEMENTS} array elements in all (each costs 32 bytes in memory)"
                        ),
                    )
                })?;
                let mut items = Vec::with_capacity(count as usize);
                // elements share the array's label: formatting "{what}[{i}]" for each of the
                // 49152 tokens would cost more than reading them
                for _ in 0..count {
                    items.push(self.value(elem, what, depth + 1)?);
                }
                GgufValue::Array(items)
            }
            10 => GgufValue::U64(u64::from_le_bytes(self.array(what)?)),
            11 => GgufValue::I64(i64::from_le_bytes(self.array(what)?)),
            12 => GgufValue::F64(f64::from_le_bytes(self.array(what)?)),
            _ => return Err(self.bad_type(ty, what)),
        })
    }

    pub(crate) fn bad_type(&self, ty: u32, what: &str) -> Error {
        Error::format(
            self.path,
            format!(
                "{what}: unknown value type {ty} at offset {} (known: 0..=12)",
                self.pos
            ),
        )
    }
}
