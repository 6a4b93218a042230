//! # Stage 3 · quant: weights as they are stored, and a dot product for each storage type
//!
//! A model file stores each weight matrix row by row in one of these types. We never convert a
//! whole matrix to f32 (a 1B model in bf16 would become 4 GB); instead every kernel reads the
//! stored bytes of a row and multiplies them with an f32 activation vector on the fly.
//!
//! ```text
//! type   elements per block   bytes per block   element                   file
//! F32            1                  4           the float                 float.rs
//! F16            1                  2           IEEE half                 float.rs
//! BF16           1                  2           top half of an f32        float.rs
//! Q8_0          32                 34           d · q,  q int8            q8_0.rs
//! Q4_0          32                 18           d · (q − 8), q 4 bits     q4.rs
//! Q4_1          32                 20           d · q + m,   q 4 bits     q4.rs
//! ```
//!
//! One file per family of block layouts (each draws its block), one place that dispatches on
//! the type (this file: [`dequantize_row`], [`dot_row`], [`quantize_row`]), and the SIMD
//! decoding helpers in `simd.rs`. A new stored type is a [`DType`] variant, its file, and one
//! arm in each dispatch. Block sizes come from the ggml type table (`formats::gguf::types`).
//!
//! Reference: ggml's `ggml-common.h` (the block structs) and the reference quantizers
//! `quantize_row_q*_ref` in `ggml-quants.c`; type ids from the GGUF spec.

mod float;
pub mod gemv;
mod q4;
mod q8_0;
pub mod q8act;
mod simd;

pub use q4::{quantize_row_q4_0, quantize_row_q4_1};
pub use q8_0::quantize_row_q8_0;

use half::f16;

use crate::formats::gguf::{ggml_type, GgmlType};

/// The storage type of a weight matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum DType {
    F32,
    F16,
    BF16,
    Q8_0,
    Q4_0,
    Q4_1,
}

/// Elements per quantized block (the same for Q8_0, Q4_0, Q4_1).
pub const QK: usize = 32;

impl DType {
    /// Every storage type glassbox computes with.
    pub const ALL: [DType; 6] = [
        DType::F32,
        DType::F16,
        DType::BF16,
        DType::Q8_0,
        DType::Q4_0,
        DType::Q4_1,
    ];

    /// The type id used in GGUF tensor infos (`ggml_type`).
    pub fn gguf_type_id(self) -> u32 {
        match self {
            DType::F32 => 0,
            DType::F16 => 1,
            DType::Q4_0 => 2,
            DType::Q4_1 => 3,
            DType::Q8_0 => 8,
            DType::BF16 => 30,
        }
    }

    /// The DType for a GGUF type id, `None` for types glassbox does not handle.
    pub fn from_gguf_type_id(id: u32) -> Option<DType> {
        DType::ALL.into_iter().find(|t| t.gguf_type_id() == id)
    }

    /// The ggml type's entry: name and block size, written once in `formats::gguf::types`.
    fn ggml(self) -> &'static GgmlType {
        ggml_type(self.gguf_type_id()).expect("every DType is a ggml type")
    }

    /// `(elements, bytes)` of one block: (1, 4) for F32, (32, 20) for Q4_1 (see the pictures in
    /// the module doc).
    fn block(self) -> (usize, usize) {
        self.ggml()
            .block
            .expect("every DType has a known block size")
    }

    /// Elements per block: 1 for the float types, 32 for the quantized ones.
    pub fn block_size(self) -> usize {
        self.block().0
    }

    /// Bytes per block.
    pub fn bytes_per_block(self) -> usize {
        self.block().1
    }

    /// Bytes of one row of `cols` elements; `None` if `cols` is not a whole number of blocks.
    pub fn row_bytes(self, cols: usize) -> Option<usize> {
        if !cols.is_multiple_of(self.block_size()) {
            return None;
        }
        Some(cols / self.block_size() * self.bytes_per_block())
    }

    /// The name used by GGUF tools ("Q4_1", "BF16", ...).
    pub fn name(self) -> &'static str {
        self.ggml().name
    }

    /// True for the block-quantized types.
    pub fn is_quantized(self) -> bool {
        self.block_size() > 1
    }

    /// "F32, F16, BF16, Q8_0, Q4_0 and Q4_1": what glassbox reads, for error messages.
    pub fn names() -> String {
        let names: Vec<&str> = DType::ALL.iter().map(|t| t.name()).collect();
        let (last, rest) = names.split_last().expect("ALL is not empty");
        format!("{} and {last}", rest.join(", "))
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The f16 at byte `i` of a block, as f32 (the scales `d` and `m`).
#[inline(always)]
fn f16_at(b: &[u8], i: usize) -> f32 {
    f16::from_le_bytes([b[i], b[i + 1]]).to_f32()
}

fn check_row(dtype: DType, row: &[u8], n: usize) {
    assert_eq!(
        Some(row.len()),
        dtype.row_bytes(n),
        "{dtype} row of {} bytes does not hold {n} elements",
        row.len()
    );
}

/// The row's bytes as f32s when they are suitably aligned (always true for GGUF data, which is
/// aligned to 32 bytes, and for f32 vectors turned into bytes), else `None`.
pub fn as_f32_slice(bytes: &[u8]) -> Option<&[f32]> {
    if cfg!(target_endian = "big") {
        return None;
    }
    // SAFETY: every bit pattern is a valid f32, `align_to` only yields the aligned middle part,
    // and we accept the result only when that part is the whole slice. Stored floats are
    // little-endian, which is this target's order (checked above).
    let (head, mid, tail) = unsafe { bytes.align_to::<f32>() };
    (head.is_empty() && tail.is_empty()).then_some(mid)
}

/// Decode one stored row into f32, element by element: the scalar reference.
/// `row` holds `out.len()` elements of type `dtype`; panics otherwise (programmer error).
pub fn dequantize_row(dtype: DType, row: &[u8], out: &mut [f32]) {
    check_row(dtype, row, out.len());
    match dtype {
        DType::F32 | DType::F16 | DType::BF16 => float::dequantize(dtype, row, out),
        DType::Q8_0 => q8_0::dequantize(row, out),
        DType::Q4_0 | DType::Q4_1 => q4::dequantize(dtype, row, out),
    }
}

/// Dot product of a stored row with `x`: dequantize into a buffer, then multiply. The reference
/// for `dot_row` (slow: it allocates and makes two passes).
pub fn dot_row_naive(dtype: DType, row: &[u8], x: &[f32]) -> f32 {
    let mut w = vec![0.0f32; x.len()];
    dequantize_row(dtype, row, &mut w);
    w.iter().zip(x).map(|(a, b)| a * b).sum()
}

// ANCHOR: dot_row
/// Dot product of a stored row with `x` (length = the row's element count), without ever
/// writing the decoded row to memory: each block is decoded into four f32x8 registers and
/// multiplied into four running sums. Panics if the row does not hold `x.len()` elements.
pub fn dot_row(dtype: DType, row: &[u8], x: &[f32]) -> f32 {
    check_row(dtype, row, x.len());
    match dtype {
        DType::F32 | DType::F16 | DType::BF16 => float::dot_row(dtype, row, x),
        DType::Q8_0 => q8_0::dot_row(row, x),
        DType::Q4_0 | DType::Q4_1 => q4::dot_row(dtype, row, x),
    }
}
// ANCHOR_END: dot_row

/// Quantize (or convert) a row to `dtype`, the inverse of `dequantize_row` up to rounding.
pub fn quantize_row(dtype: DType, x: &[f32]) -> Vec<u8> {
    match dtype {
        DType::F32 | DType::F16 | DType::BF16 => float::quantize(dtype, x),
        DType::Q8_0 => quantize_row_q8_0(x),
        DType::Q4_0 => quantize_row_q4_0(x),
        DType::Q4_1 => quantize_row_q4_1(x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The book's worked example: d = 0.5, m = −1, every byte 0x10 (low nibble 0, high 1).
    #[test]
    fn q4_1_known_block() {
        let mut blk = Vec::new();
        blk.extend_from_slice(&f16::from_f32(0.5).to_le_bytes());
        blk.extend_from_slice(&f16::from_f32(-1.0).to_le_bytes());
        blk.extend_from_slice(&[0x10; 16]);
        let mut out = [0.0f32; 32];
        dequantize_row(DType::Q4_1, &blk, &mut out);
        assert_eq!(&out[..16], &[-1.0; 16]);
        assert_eq!(&out[16..], &[-0.5; 16]);
        assert_eq!(dot_row(DType::Q4_1, &blk, &[1.0; 32]), -24.0);
    }

    #[test]
    fn sizes_and_ids() {
        assert_eq!(DType::Q4_1.row_bytes(576), Some(18 * 20));
        assert_eq!(DType::Q8_0.row_bytes(33), None);
        assert_eq!(DType::BF16.row_bytes(3), Some(6));
        for t in DType::ALL {
            assert_eq!(DType::from_gguf_type_id(t.gguf_type_id()), Some(t));
        }
        assert_eq!(DType::from_gguf_type_id(12), None); // Q4_K: not handled
    }
}
