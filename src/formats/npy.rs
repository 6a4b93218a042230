//! # NumPy `.npy` files of `float32`: the format reference dumps travel in.
//!
//! `glassbox logits --dump out.npy` writes the last position's logits so that
//! `numpy.load("out.npy")` reads them, and the tests read the logits and hidden states that
//! `scripts/fixtures_model.py` saved with `np.save`. Only what those need is handled: format
//! version 1.0 (and 2.0/3.0 on reading), dtype `<f4` (little-endian float32), C order.
//!
//! The layout (<https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html>):
//!
//! ```text
//! offset 0  b"\x93NUMPY"                      magic, 6 bytes
//!        6  major, minor                      1, 0
//!        8  header_len: u16 little-endian     (u32 in versions 2 and 3)
//!       10  "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 576), }"
//!           padded with spaces and ended by '\n' so that 10 + header_len is a multiple of 64
//!   10+len  the data: prod(shape) × 4 bytes, little-endian f32, row-major
//! ```

use std::path::Path;

use crate::{Error, Result};

const MAGIC: &[u8] = b"\x93NUMPY";

// ANCHOR: write
/// Write `data` (row-major, `shape`) as a float32 `.npy` file.
pub fn write_f32(path: impl AsRef<Path>, data: &[f32], shape: &[usize]) -> Result<()> {
    let path = path.as_ref();
    let n: usize = shape.iter().product();
    if n != data.len() {
        return Err(Error::Shape {
            file: path.to_path_buf(),
            name: "data".into(),
            expected: shape.to_vec(),
            found: vec![data.len()],
        });
    }
    // Python tuple syntax: a one-element tuple needs its trailing comma, "(49152,)".
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let tuple = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple}, }}");
    // Pad with spaces so magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
    let unpadded = MAGIC.len() + 2 + 2 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');

    let mut bytes = Vec::with_capacity(10 + header.len() + 4 * data.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&[1, 0]);
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    crate::formats::file::write_atomic(path, &bytes)
}
// ANCHOR_END: write

/// A float32 array read from a `.npy` file: its shape and its values in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyF32 {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Read a float32 (`<f4`), C-order `.npy` file. Anything else is an error naming the file.
pub fn read_f32(path: impl AsRef<Path>) -> Result<NpyF32> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_f32(&bytes, path)
}

/// Parse the bytes of a `.npy` file; `path` is only used in error messages.
pub fn parse_f32(bytes: &[u8], path: &Path) -> Result<NpyF32> {
    let bad = |what: &str| Error::format(path, format!("not a float32 .npy file: {what}"));
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(bad("missing the \\x93NUMPY magic"));
    }
    let (header_len, start): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(bad(&format!("unsupported format version {v}"))),
    };
    let end = start
        .checked_add(header_len)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| bad("header runs past the end of the file"))?;
    let header = std::str::from_utf8(&bytes[start..end]).map_err(|_| bad("header is not text"))?;

    let value_of = |key: &str| -> Option<&str> {
        let at = header.find(&format!("'{key}'"))? + key.len() + 2;
        let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
        Some(rest)
    };
    let descr = value_of("descr").ok_or_else(|| bad("no 'descr' in the header"))?;
    if !(descr.starts_with("'<f4'") || descr.starts_with("'float32'")) {
        let shown: String = descr.chars().take(8).collect();
        return Err(bad(&format!(
            "dtype {shown}…, expected '<f4' (little-endian float32)"
        )));
    }
    let fortran = value_of("fortran_order").ok_or_else(|| bad("no 'fortran_order'"))?;
    if fortran.starts_with("True") {
        return Err(bad("Fortran (column-major) order is not supported"));
    }
    let shape_text = value_of("shape").ok_or_else(|| bad("no 'shape' in the header"))?;
    let close = shape_text
        .find(')')
        .ok_or_else(|| bad("unterminated shape tuple"))?;
    let shape = shape_text[..close]
        .trim_start_matches('(')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| bad(&format!("bad dimension `{s}` in shape")))
        })
        .collect::<Result<Vec<usize>>>()?;

    let n: usize = shape.iter().product();
    let data_bytes = &bytes[end..];
    if data_bytes.len() != 4 * n {
        return Err(bad(&format!(
            "shape {shape:?} needs {} bytes of data, found {}",
            4 * n,
            data_bytes.len()
        )));
    }
    let data = data_bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(NpyF32 { shape, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("glassbox-npy-{}-{name}", std::process::id()))
    }

    #[test]
    fn round_trip_1d_and_2d() {
        for shape in [vec![5usize], vec![2, 3], vec![0], vec![1, 1, 4]] {
            let n: usize = shape.iter().product();
            let data: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 1.0).collect();
            let p = tmp(&format!("{}.npy", shape.len()));
            write_f32(&p, &data, &shape).unwrap();
            let bytes = std::fs::read(&p).unwrap();
            // Header padded so the data starts on a 64-byte boundary.
            let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
            assert_eq!((10 + header_len) % 64, 0);
            let back = read_f32(&p).unwrap();
            assert_eq!(back.shape, shape);
            assert_eq!(back.data, data);
            std::fs::remove_file(&p).ok();
        }
    }

    #[test]
    fn one_dim_header_is_python_tuple() {
        let p = tmp("tuple.npy");
        write_f32(&p, &[1.0, 2.0], &[2]).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        let text = String::from_utf8_lossy(&bytes[10..]);
        assert!(text.contains("'shape': (2,)"), "{text}");
        std::fs::remove_file(&p).ok();
    }

    #[test]
    fn rejects_wrong_dtype_and_truncation_naming_the_file() {
        let p = Path::new("x.npy");
        let mut header = String::from("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[1, 0]);
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(&1.0f64.to_le_bytes());
        let err = parse_f32(&bytes, p).unwrap_err().to_string();
        assert!(err.contains("x.npy") && err.contains("<f8"), "{err}");

        let f4 = header.replace("<f8", "<f4");
        let mut short = MAGIC.to_vec();
        short.extend_from_slice(&[1, 0]);
        short.extend_from_slice(&(f4.len() as u16).to_le_bytes());
        short.extend_from_slice(f4.as_bytes());
        short.extend_from_slice(&[0, 0]); // 2 of the 4 data bytes
        let err = parse_f32(&short, p).unwrap_err().to_string();
        assert!(
            err.contains("x.npy") && err.contains("needs 4 bytes"),
            "{err}"
        );

        assert!(parse_f32(b"not numpy at all", p).is_err());
    }
}
