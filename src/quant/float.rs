//! Stage 3 · quant: the float types F32, F16 and BF16 (one element per "block").
//!
//! ```text
//! F32    4 bytes, little-endian IEEE 754 single
//! F16    2 bytes, IEEE 754 half: 1 sign, 5 exponent, 10 mantissa bits
//! BF16   2 bytes, the top half of an f32: 1 sign, 8 exponent, 7 mantissa bits
//! ```

use half::{bf16, f16};
use wide::f32x8;

use super::{as_f32_slice, dot_row_naive, simd, DType};
use crate::matmul::{dot, load8};

/// Decode a row of F32, F16 or BF16 into `out`.
pub fn dequantize(dtype: DType, row: &[u8], out: &mut [f32]) {
    match dtype {
        DType::F32 => {
            for (o, b) in out.iter_mut().zip(row.chunks_exact(4)) {
                *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        DType::F16 => {
            for (o, b) in out.iter_mut().zip(row.chunks_exact(2)) {
                *o = f16::from_le_bytes([b[0], b[1]]).to_f32();
            }
        }
        DType::BF16 => {
            for (o, b) in out.iter_mut().zip(row.chunks_exact(2)) {
                *o = bf16::from_le_bytes([b[0], b[1]]).to_f32();
            }
        }
        _ => unreachable!("{dtype} is not a float type"),
    }
}

/// Dot product of a float row with `x`.
pub fn dot_row(dtype: DType, row: &[u8], x: &[f32]) -> f32 {
    if dtype == DType::F32 {
        return match as_f32_slice(row) {
            Some(w) => dot(w, x),
            None => dot_row_naive(dtype, row, x), // unaligned bytes: rare, not a hot path
        };
    }
    // eight stored halves → one f32x8 (F16C converts eight f16 in one instruction; bf16 is the
    // top half of an f32, so a shift does it)
    let widen = |p: usize| match dtype {
        DType::F16 => simd::f16x8(&row[2 * p..]),
        _ => simd::bf16x8(&row[2 * p..]),
    };
    let mut acc = [f32x8::ZERO; 4];
    let (n32, n8) = (x.len() / 32 * 32, x.len() / 8 * 8);
    for p in (0..n32).step_by(32) {
        for (g, a) in acc.iter_mut().enumerate() {
            *a = widen(p + 8 * g).mul_add(load8(x, p + 8 * g), *a);
        }
    }
    for p in (n32..n8).step_by(8) {
        acc[0] = widen(p).mul_add(load8(x, p), acc[0]);
    }
    let tail: f32 = (n8..x.len())
        .map(|p| dot_row_naive(dtype, &row[2 * p..2 * p + 2], &x[p..p + 1]))
        .sum();
    ((acc[0] + acc[1]) + (acc[2] + acc[3])).reduce_add() + tail
}

/// Convert f32 values to a row of F32, F16 or BF16 (rounding to nearest even).
pub fn quantize(dtype: DType, x: &[f32]) -> Vec<u8> {
    match dtype {
        DType::F32 => x.iter().flat_map(|v| v.to_le_bytes()).collect(),
        DType::F16 => x
            .iter()
            .flat_map(|&v| f16::from_f32(v).to_le_bytes())
            .collect(),
        DType::BF16 => x
            .iter()
            .flat_map(|&v| bf16::from_f32(v).to_le_bytes())
            .collect(),
        _ => unreachable!("{dtype} is not a float type"),
    }
}
