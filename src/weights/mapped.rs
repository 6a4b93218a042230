//! # Stage 3 · a tensor of a model file as a weight matrix over the mapped bytes
//!
//! The file readers (`formats::gguf`, `formats::safetensors`) say where a tensor's bytes are
//! and what type the file calls them; here that type becomes a [`DType`] glassbox can compute
//! with (or a clear "unsupported"), and the bytes become a [`WeightMatrix`] that borrows the
//! memory map: nothing is copied, a Q4_1 or bf16 weight stays Q4_1 or bf16.
//!
//! ```text
//! GGUF         dims [cols, rows, …] (fastest first)   → [rows = dims[1]·dims[2]·…, cols = dims[0]]
//! safetensors  shape [.., last] (slowest first)        → [rows = product of the others, cols = last]
//! ```
//! A vector (a norm weight `[d]`) is a matrix with one row.

use std::sync::Arc;

use crate::formats::gguf::{ggml_type_name, GgufFile};
use crate::formats::safetensors::{Dtype, SafetensorsModel};
use crate::quant::DType;
use crate::weights::tensor::{Storage, WeightMatrix};
use crate::{Error, Result};

impl WeightMatrix {
    /// Tensor `name` of a GGUF file, over the mapped bytes.
    pub fn from_gguf(g: &GgufFile, name: &str) -> Result<WeightMatrix> {
        let t = g
            .tensor_info(name)
            .ok_or_else(|| Error::missing_tensor(&g.path, name))?;
        let dtype = DType::from_gguf_type_id(t.type_id).ok_or_else(|| {
            Error::Unsupported(format!(
                "tensor `{name}` in {} has type {} (id {}); glassbox reads {}",
                g.path.display(),
                ggml_type_name(t.type_id),
                t.type_id,
                DType::names()
            ))
        })?;
        let (rows, cols) = t.rows_cols();
        let (offset, len) = g.tensor_extent(t).ok_or_else(|| {
            Error::format(
                &g.path,
                format!(
                    "tensor `{name}`: a row of {cols} elements is not a whole number of {dtype} blocks of {}",
                    dtype.block_size()
                ),
            )
        })?;
        let map = Arc::clone(g.map());
        WeightMatrix::new(
            name,
            dtype,
            rows,
            cols,
            Storage::Mapped { map, offset, len },
        )
        .map_err(|e| e.in_file(&g.path))
    }

    /// Tensor `name` of a safetensors model (one file or shards), over the mapped bytes.
    pub fn from_safetensors(st: &SafetensorsModel, name: &str) -> Result<WeightMatrix> {
        let t = st
            .tensor(name)
            .ok_or_else(|| Error::missing_tensor(st.first_file(), name))?;
        let dtype = match t.dtype {
            Dtype::F32 => DType::F32,
            Dtype::BF16 => DType::BF16,
            Dtype::F16 => DType::F16,
            other => {
                return Err(Error::Unsupported(format!(
                    "tensor `{name}` in {} has dtype {other:?}; glassbox reads F32, BF16 and F16 safetensors",
                    t.file.path.display()
                )))
            }
        };
        let (rows, cols) = match t.shape {
            [] => (1, 1),
            [n] => (1, *n),
            [outer @ .., last] => (outer.iter().product(), *last),
        };
        let storage = Storage::Mapped {
            map: Arc::clone(t.file.map()),
            offset: t.offset,
            len: t.len,
        };
        WeightMatrix::new(name, dtype, rows, cols, storage).map_err(|e| e.in_file(&t.file.path))
    }
}
