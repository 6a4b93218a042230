//! The GGUF writer (`formats::gguf_write`, used by `quantize`) against the reader: metadata of
//! every value type (extreme integers, NaN floats, empty and nested arrays, odd alignments)
//! and up to four tensors of every stored type (the K-quants and Q5 included), some of them
//! wrong on purpose (no dims, five dims, a row that is not whole blocks, a fill of the wrong
//! length). Written for real (temporary name, fsync, rename) into a directory on tmpfs:
//!
//! ```text
//! fields ──write_gguf──▶ Ok  ⇒ GgufFile::open reads the same metadata (bit for bit), the same
//!                              tensor infos and the same bytes, and every type decodes a row
//!                        Err ⇒ no file and no temporary file is left in the directory
//! ```
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use glassbox::formats::gguf::{GgufFile, GgufValue};
use glassbox::formats::gguf_write::{write_gguf, TensorSpec};
use glassbox::quant::DType;
use glassbox::weights::tensor::WeightMatrix;
use glassbox_fuzz::fields::{Float, Int};
use libfuzzer_sys::fuzz_target;

const KEYS: &[&str] = &[
    "general.architecture",
    "general.alignment",
    "general.file_type",
    "general.quantization_version",
    "llama.block_count",
    "tokenizer.ggml.tokens",
];

#[derive(Arbitrary, Debug)]
enum Scalar {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(Int),
    I32(i32),
    F32(Float),
    Bool(bool),
    Str(String),
    U64(Int),
    I64(Int),
    F64(Float),
}

impl Scalar {
    fn get(&self) -> GgufValue {
        match self {
            Scalar::U8(v) => GgufValue::U8(*v),
            Scalar::I8(v) => GgufValue::I8(*v),
            Scalar::U16(v) => GgufValue::U16(*v),
            Scalar::I16(v) => GgufValue::I16(*v),
            Scalar::U32(v) => GgufValue::U32(v.get() as u32),
            Scalar::I32(v) => GgufValue::I32(*v),
            Scalar::F32(v) => GgufValue::F32(v.get()),
            Scalar::Bool(v) => GgufValue::Bool(*v),
            Scalar::Str(v) => GgufValue::String(v.clone()),
            Scalar::U64(v) => GgufValue::U64(v.get()),
            Scalar::I64(v) => GgufValue::I64(v.get() as i64),
            Scalar::F64(v) => GgufValue::F64(v.get() as f64),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Meta {
    One(Scalar),
    /// `n` (< 4096) copies of one scalar: one element type, as GGUF requires.
    Array(u16, Scalar),
    /// Arrays of arrays (one level), which GGUF allows.
    Nested(Vec<(u8, Scalar)>),
    /// Elements of two types: the writer must refuse it.
    Mixed(Scalar, Scalar),
}

impl Meta {
    fn get(&self) -> GgufValue {
        match self {
            Meta::One(s) => s.get(),
            Meta::Array(n, s) => GgufValue::Array(vec![s.get(); *n as usize % 4096]),
            Meta::Nested(v) => GgufValue::Array(
                v.iter()
                    .take(8)
                    .map(|(n, s)| GgufValue::Array(vec![s.get(); *n as usize % 16 + 1]))
                    .collect(),
            ),
            Meta::Mixed(a, b) => GgufValue::Array(vec![a.get(), b.get()]),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Tensor {
    dtype: u8,
    /// Blocks per row (1–4) and the other dims (each 1–3).
    blocks: u8,
    rows: Vec<u8>,
    /// Break it on purpose: 0 = fine, 1 = no dims, 2 = five dims, 3 = a row of a block and one
    /// element, 4 = a fill one byte short.
    defect: u8,
    name: Option<String>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    metadata: Vec<(u8, Option<String>, Meta)>,
    alignment: Option<Int>,
    tensors: Vec<Tensor>,
}

/// A directory on tmpfs when there is one (fsync and rename are cheap there), this process's own.
fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = std::path::Path::new("/dev/shm");
        let base = if base.is_dir() {
            base.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let d = base.join(format!("glassbox-fuzz-gguf-write-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("fuzz output directory");
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(input) = Input::arbitrary(&mut u) else {
        return;
    };
    let fill_bytes = u.take_rest();
    let mut metadata: Vec<(String, GgufValue)> = Vec::new();
    for (k, other, v) in input.metadata.iter().take(12) {
        let key = other
            .clone()
            .unwrap_or_else(|| KEYS[*k as usize % KEYS.len()].to_string());
        if metadata.iter().all(|(have, _)| *have != key) {
            metadata.push((key, v.get()));
        }
    }
    if let Some(a) = input.alignment {
        metadata.retain(|(k, _)| k != "general.alignment");
        metadata.push(("general.alignment".into(), GgufValue::U32(a.get() as u32)));
    }
    let mut specs = Vec::new();
    let mut short = Vec::new();
    for (i, t) in input.tensors.iter().take(4).enumerate() {
        let dtype = DType::ALL[t.dtype as usize % DType::ALL.len()];
        let mut dims = vec![(dtype.block_size() * (1 + t.blocks as usize % 4)) as u64];
        dims.extend(t.rows.iter().take(3).map(|&r| 1 + r as u64 % 3));
        let rows: u64 = dims[1..].iter().product();
        let mut n_bytes = rows * dtype.row_bytes(dims[0] as usize).expect("whole blocks") as u64;
        match t.defect % 8 {
            1 => dims.clear(),
            2 => dims.resize(5, 1),
            3 if dtype.block_size() > 1 => {
                dims[0] += 1;
                n_bytes += 1;
            }
            4 => short.push(i),
            _ => {}
        }
        let name = match &t.name {
            Some(n) if specs.iter().all(|s: &TensorSpec| s.name != *n) => n.clone(),
            _ => format!("t{i}"),
        };
        specs.push(TensorSpec {
            name,
            dims,
            type_id: dtype.gguf_type_id(),
            n_bytes,
        });
    }
    let data_of = |i: usize, n: u64| -> Vec<u8> {
        let n = n as usize - short.contains(&i) as usize;
        if fill_bytes.is_empty() {
            vec![i as u8; n]
        } else {
            fill_bytes.iter().copied().cycle().skip(i).take(n).collect()
        }
    };
    let path = dir().join("out.gguf");
    let written = write_gguf(&path, &metadata, &specs, |i, w| {
        w.write_all(&data_of(i, specs[i].n_bytes))
            .map_err(|e| glassbox::Error::io("fuzz fill", e))
    });
    match written {
        Ok(()) => {
            let g = GgufFile::open(&path)
                .unwrap_or_else(|e| panic!("the writer wrote a file the reader refuses: {e}"));
            assert_eq!(
                format!("{:?}", g.metadata),
                format!("{metadata:?}"),
                "metadata round trip"
            );
            assert_eq!(g.tensors.len(), specs.len());
            for (i, (t, s)) in g.tensors.iter().zip(&specs).enumerate() {
                assert_eq!((&t.name, &t.dims, t.type_id), (&s.name, &s.dims, s.type_id));
                let (at, len) = g.tensor_extent(t).expect("extent of a written tensor");
                assert!(
                    g.map()[at..at + len] == data_of(i, s.n_bytes)[..],
                    "tensor `{}` bytes",
                    t.name
                );
                if let Ok(w) = WeightMatrix::from_gguf(&g, &t.name) {
                    let mut row = vec![0.0f32; w.cols];
                    w.dequantize_row(0, &mut row);
                    w.dequantize_row(w.rows - 1, &mut row);
                }
            }
            std::fs::remove_file(&path).expect("remove the written file");
        }
        Err(_) => {
            assert!(!path.exists(), "a failed write left the file");
        }
    }
    let left: Vec<_> = std::fs::read_dir(dir())
        .expect("read dir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
});
