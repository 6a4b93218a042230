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
//! Q5_0          32                 22           d · (q − 16), q 5 bits    q5.rs
//! Q5_1          32                 24           d · q + m,   q 5 bits     q5.rs
//! Q2_K         256                 84           (d·sc)·q − dmin·m, 2 bits q2_k.rs
//! Q3_K         256                110           (d·sc)·q, q ∈ −4..3       q3_k.rs
//! Q4_K         256                144           (d·sc)·q − dmin·m, 4 bits q4_k.rs
//! Q5_K         256                176           (d·sc)·q − dmin·m, 5 bits q5_k.rs
//! Q6_K         256                210           (d·sc)·q, q ∈ −32..31     q6_k.rs
//! ```
//!
//! The K-quants (super-blocks of 256 with small integer scales per sub-block) share
//! `kquant.rs` (packed scales, the unpacking of eight quants per u64 and its widening), and
//! their quantizers share `kquant_search.rs` (how a scale is chosen: max-abs, or llama.cpp's
//! search). `mix.rs` says which type each tensor of a model gets for a llama.cpp file type.
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

pub mod kquant;
pub mod kquant_search;
pub mod mix;
pub mod q2_k;
pub mod q3_k;
pub mod q4_k;
pub mod q5;
pub mod q5_k;
pub mod q6_k;

pub use kquant::{ScaleRule, QK_K};

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
    Q5_0,
    Q5_1,
    Q2_K,
    Q3_K,
    Q4_K,
    Q5_K,
    Q6_K,
}

/// Elements per block of the 32-element types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1).
pub const QK: usize = 32;

impl DType {
    /// Every storage type glassbox reads, computes with and writes.
    pub const ALL: [DType; 13] = [
        DType::F32,
        DType::F16,
        DType::BF16,
        DType::Q8_0,
        DType::Q4_0,
        DType::Q4_1,
        DType::Q5_0,
        DType::Q5_1,
        DType::Q2_K,
        DType::Q3_K,
        DType::Q4_K,
        DType::Q5_K,
        DType::Q6_K,
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
            DType::Q5_0 => 6,
            DType::Q5_1 => 7,
            DType::Q2_K => 10,
            DType::Q3_K => 11,
            DType::Q4_K => 12,
            DType::Q5_K => 13,
            DType::Q6_K => 14,
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

    /// Elements per block: 1 for the float types, 32 or 256 for the quantized ones.
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
        DType::Q5_0 => q5::dequantize(row, out, false),
        DType::Q5_1 => q5::dequantize(row, out, true),
        DType::Q2_K => q2_k::dequantize(row, out),
        DType::Q3_K => q3_k::dequantize(row, out),
        DType::Q4_K => q4_k::dequantize(row, out),
        DType::Q5_K => q5_k::dequantize(row, out),
        DType::Q6_K => q6_k::dequantize(row, out),
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
        DType::Q5_0 => q5::dot(row, x, false),
        DType::Q5_1 => q5::dot(row, x, true),
        DType::Q2_K => q2_k::dot(row, x),
        DType::Q3_K => q3_k::dot(row, x),
        DType::Q4_K => q4_k::dot(row, x),
        DType::Q5_K => q5_k::dot(row, x),
        DType::Q6_K => q6_k::dot(row, x),
    }
}
// ANCHOR_END: dot_row

/// Quantize (or convert) a row to `dtype`, the inverse of `dequantize_row` up to rounding.
/// K-quants choose their scales as llama.cpp does (`ScaleRule::Search`).
pub fn quantize_row(dtype: DType, x: &[f32]) -> Vec<u8> {
    quantize_row_with(dtype, x, ScaleRule::Search)
}

/// [`quantize_row`] with the K-quants' scale rule chosen (the other types have one rule).
pub fn quantize_row_with(dtype: DType, x: &[f32], rule: ScaleRule) -> Vec<u8> {
    match dtype {
        DType::F32 | DType::F16 | DType::BF16 => float::quantize(dtype, x),
        DType::Q8_0 => quantize_row_q8_0(x),
        DType::Q4_0 => quantize_row_q4_0(x),
        DType::Q4_1 => quantize_row_q4_1(x),
        DType::Q5_0 => q5::quantize_q5_0(x),
        DType::Q5_1 => q5::quantize_q5_1(x),
        DType::Q2_K => q2_k::quantize(x, rule),
        DType::Q3_K => q3_k::quantize(x, rule),
        DType::Q4_K => q4_k::quantize(x, rule),
        DType::Q5_K => q5_k::quantize(x, rule),
        DType::Q6_K => q6_k::quantize(x, rule),
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
        assert_eq!(DType::from_gguf_type_id(16), None); // IQ2_XXS: not handled
    }

    /// The block sizes each format file chunks by agree with the ggml table DType reads.
    #[test]
    fn format_files_agree_with_the_ggml_table() {
        for (t, bytes) in [
            (DType::Q5_0, q5::BYTES_Q5_0),
            (DType::Q5_1, q5::BYTES_Q5_1),
            (DType::Q2_K, q2_k::BYTES),
            (DType::Q3_K, q3_k::BYTES),
            (DType::Q4_K, q4_k::BYTES),
            (DType::Q5_K, q5_k::BYTES),
            (DType::Q6_K, q6_k::BYTES),
        ] {
            assert_eq!(t.bytes_per_block(), bytes, "{t}");
        }
    }
}
