//! # Stage 3 · quant: weights as they are stored, and a dot product for each storage type
//!
//! A model file stores each weight matrix row by row in one of these types. We never convert a
//! whole matrix to f32 (a 1B model in bf16 would become 4 GB); instead every kernel reads the
//! stored bytes of a row and multiplies them with an f32 activation vector on the fly.
//!
//! ```text
//! F32   4 B per element          F16 / BF16   2 B per element (little-endian)
//!
//! Q8_0  block of 32 elements, 34 B:        x[i] = d · q[i]
//!       ┌──────┬───────────────────────────────┐
//!       │ d f16│ q[0] q[1] … q[31]   (int8)     │
//!       └──────┴───────────────────────────────┘
//!
//! Q4_0  block of 32 elements, 18 B:        x[i] = d · (q[i] − 8),  q[i] ∈ 0..=15
//! Q4_1  block of 32 elements, 20 B:        x[i] = d · q[i] + m
//!       ┌──────┬──────┬─────────────────────────────────────────┐
//!       │ d f16│ m f16│ byte 0   byte 1   …  byte 15              │   (Q4_0 has no m)
//!       └──────┴──────┴─────────────────────────────────────────┘
//!                        │ low nibble of byte j  = q[j]       (elements 0..16)
//!                        └ high nibble of byte j = q[j + 16]  (elements 16..32)
//! ```
//!
//! The nibble order is the classic pitfall: elements j and j+16 share a byte, not j and j+1.
//! A wrong order loads fine and gives wrong numbers.
//!
//! Reference: ggml's `ggml-common.h` (block_q8_0, block_q4_0, block_q4_1) and the reference
//! quantizers `quantize_row_q*_ref` in `ggml-quants.c`; type ids from the GGUF spec.

use half::{bf16, f16};
use wide::f32x8;

use crate::formats::gguf::{ggml_type, GgmlType};
use crate::matmul::load8;

pub mod gemv;
pub mod q8act;

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

// ANCHOR: dequantize
/// Decode one stored row into f32, element by element: the scalar reference.
/// `row` holds `out.len()` elements of type `dtype`; panics otherwise (programmer error).
pub fn dequantize_row(dtype: DType, row: &[u8], out: &mut [f32]) {
    check_row(dtype, row, out.len());
    let bpb = dtype.bytes_per_block();
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
        DType::Q8_0 => {
            for (o, blk) in out.chunks_exact_mut(QK).zip(row.chunks_exact(bpb)) {
                let d = f16_at(blk, 0);
                for i in 0..QK {
                    o[i] = d * (blk[2 + i] as i8) as f32; // x = d · q
                }
            }
        }
        DType::Q4_0 | DType::Q4_1 => {
            for (o, blk) in out.chunks_exact_mut(QK).zip(row.chunks_exact(bpb)) {
                let d = f16_at(blk, 0);
                // Q4_0: x = d·(q − 8) = d·q − 8d ; Q4_1: x = d·q + m
                let (m, qs) = match dtype {
                    DType::Q4_0 => (-8.0 * d, &blk[2..18]),
                    _ => (f16_at(blk, 2), &blk[4..20]),
                };
                for j in 0..16 {
                    o[j] = d * (qs[j] & 0x0F) as f32 + m; // low nibble: element j
                    o[j + 16] = d * (qs[j] >> 4) as f32 + m; // high nibble: element j + 16
                }
            }
        }
    }
}

/// Dot product of a stored row with `x`: dequantize into a buffer, then multiply. The reference
/// for `dot_row` (slow: it allocates and makes two passes).
pub fn dot_row_naive(dtype: DType, row: &[u8], x: &[f32]) -> f32 {
    let mut w = vec![0.0f32; x.len()];
    dequantize_row(dtype, row, &mut w);
    w.iter().zip(x).map(|(a, b)| a * b).sum()
}
// ANCHOR_END: dequantize

/// Decoding eight stored values into one f32x8 register. On x86-64 with AVX2 + F16C (this
/// build's `target-cpu=native`) each is two or three instructions; elsewhere a portable
/// version that the compiler vectorizes as it can. Both are tested against `dequantize_row`.
#[cfg(all(
    target_arch = "x86_64",
    target_feature = "avx2",
    target_feature = "f16c"
))]
mod decode {
    use std::arch::x86_64::*;
    use wide::f32x8;

    #[inline(always)]
    fn wide(v: __m256) -> f32x8 {
        // SAFETY: with AVX enabled, f32x8 is a #[repr(C, align(32))] wrapper of one __m256:
        // same size, same alignment, every bit pattern valid. This is a register move.
        unsafe { std::mem::transmute::<__m256, f32x8>(v) }
    }

    /// 16 bytes at the start of `b` as one SSE register (`b` must hold them: asserted).
    #[inline(always)]
    fn load16(b: &[u8]) -> __m128i {
        assert!(b.len() >= 16);
        // SAFETY: 16 readable bytes (asserted above); loadu has no alignment requirement.
        unsafe { _mm_loadu_si128(b.as_ptr() as *const __m128i) }
    }

    /// 8 f16 (16 bytes) → f32x8 with F16C's vcvtph2ps.
    #[inline(always)]
    pub fn f16x8(b: &[u8]) -> f32x8 {
        // SAFETY: F16C is enabled for this whole module (the cfg above); registers only.
        wide(unsafe { _mm256_cvtph_ps(load16(b)) })
    }

    /// 8 bf16 (16 bytes) → f32x8: widen to 32 bits and shift into the top half.
    #[inline(always)]
    pub fn bf16x8(b: &[u8]) -> f32x8 {
        // SAFETY: AVX2 is enabled for this whole module (the cfg above); registers only.
        let v = unsafe { _mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(load16(b))) };
        wide(unsafe { _mm256_castsi256_ps(v) }) // SAFETY: as above
    }

    /// 32 int8 (Q8_0's q) → four f32x8.
    #[inline(always)]
    pub fn i8x32(b: &[u8]) -> [f32x8; 4] {
        let (lo, hi) = (load16(b), load16(&b[16..]));
        // SAFETY: AVX2 is enabled for this whole module (the cfg above); registers only.
        unsafe {
            let cv = |v: __m128i| wide(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v)));
            [
                cv(lo),
                cv(_mm_srli_si128::<8>(lo)),
                cv(hi),
                cv(_mm_srli_si128::<8>(hi)),
            ]
        }
    }

    /// 16 bytes of nibbles (Q4's q) → four f32x8: elements 0–7, 8–15 (low nibbles of bytes
    /// 0–15), 16–23, 24–31 (high nibbles).
    #[inline(always)]
    pub fn nibbles(b: &[u8]) -> [f32x8; 4] {
        let v = load16(b);
        // SAFETY: AVX2 is enabled for this whole module (the cfg above); registers only.
        unsafe {
            let mask = _mm_set1_epi8(0x0F);
            let (lo, hi) = (
                _mm_and_si128(v, mask),
                _mm_and_si128(_mm_srli_epi16::<4>(v), mask),
            );
            let cv = |v: __m128i| wide(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v)));
            [
                cv(lo),
                cv(_mm_srli_si128::<8>(lo)),
                cv(hi),
                cv(_mm_srli_si128::<8>(hi)),
            ]
        }
    }
}

#[cfg(not(all(
    target_arch = "x86_64",
    target_feature = "avx2",
    target_feature = "f16c"
)))]
mod decode {
    use half::f16;
    use wide::f32x8;

    pub fn f16x8(b: &[u8]) -> f32x8 {
        f32x8::new(std::array::from_fn(|t| {
            f16::from_le_bytes([b[2 * t], b[2 * t + 1]]).to_f32()
        }))
    }
    pub fn bf16x8(b: &[u8]) -> f32x8 {
        f32x8::new(std::array::from_fn(|t| {
            f32::from_bits((u16::from_le_bytes([b[2 * t], b[2 * t + 1]]) as u32) << 16)
        }))
    }
    pub fn i8x32(b: &[u8]) -> [f32x8; 4] {
        std::array::from_fn(|g| f32x8::new(std::array::from_fn(|t| (b[8 * g + t] as i8) as f32)))
    }
    pub fn nibbles(b: &[u8]) -> [f32x8; 4] {
        let lo = |o: usize| f32x8::new(std::array::from_fn(|t| (b[o + t] & 0x0F) as f32));
        let hi = |o: usize| f32x8::new(std::array::from_fn(|t| (b[o + t] >> 4) as f32));
        [lo(0), lo(8), hi(0), hi(8)]
    }
}

// ANCHOR: dot_row
/// Dot product of a stored row with `x` (length = the row's element count), without ever
/// writing the decoded row to memory: each block is decoded into four f32x8 registers and
/// multiplied into four running sums. Panics if the row does not hold `x.len()` elements.
pub fn dot_row(dtype: DType, row: &[u8], x: &[f32]) -> f32 {
    check_row(dtype, row, x.len());
    let bpb = dtype.bytes_per_block();
    let mut acc = [f32x8::ZERO; 4];
    match dtype {
        DType::F32 => {
            if let Some(w) = as_f32_slice(row) {
                return crate::matmul::dot(w, x);
            }
            return dot_row_naive(dtype, row, x); // unaligned bytes: rare, not a hot path
        }
        DType::F16 | DType::BF16 => {
            // eight stored halves → one f32x8 (F16C converts eight f16 in one instruction;
            // bf16 is the top half of an f32, so a shift does it)
            let widen = |p: usize| match dtype {
                DType::F16 => decode::f16x8(&row[2 * p..]),
                _ => decode::bf16x8(&row[2 * p..]),
            };
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
            return ((acc[0] + acc[1]) + (acc[2] + acc[3])).reduce_add() + tail;
        }
        DType::Q8_0 => {
            for (b, blk) in row.chunks_exact(bpb).enumerate() {
                let d = f32x8::splat(f16_at(blk, 0));
                let q = decode::i8x32(&blk[2..]);
                for g in 0..4 {
                    acc[g] = (q[g] * d).mul_add(load8(x, b * QK + 8 * g), acc[g]);
                    // (d·q)·x
                }
            }
        }
        DType::Q4_0 | DType::Q4_1 => {
            for (b, blk) in row.chunks_exact(bpb).enumerate() {
                let df = f16_at(blk, 0);
                let (m, qs) = match dtype {
                    DType::Q4_0 => (-8.0 * df, &blk[2..18]),
                    _ => (f16_at(blk, 2), &blk[4..20]),
                };
                let (d, m) = (f32x8::splat(df), f32x8::splat(m));
                let q = decode::nibbles(qs);
                for g in 0..4 {
                    let w = q[g].mul_add(d, m); // x = d·q + m, in registers
                    acc[g] = w.mul_add(load8(x, b * QK + 8 * g), acc[g]);
                }
            }
        }
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])).reduce_add()
}
// ANCHOR_END: dot_row

// ANCHOR: quantize
/// Q8_0 quantizer (ggml's `quantize_row_q8_0_ref`): d = max|x| / 127, q = round(x / d).
/// Panics if `x.len()` is not a multiple of 32.
pub fn quantize_row_q8_0(x: &[f32]) -> Vec<u8> {
    assert_eq!(x.len() % QK, 0, "Q8_0 rows hold whole blocks of 32");
    let mut out = Vec::with_capacity(x.len() / QK * 34);
    for blk in x.chunks_exact(QK) {
        let amax = blk.iter().fold(0.0f32, |a, v| a.max(v.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
        out.extend(blk.iter().map(|v| (v * id).round() as i8 as u8)); // round half away from 0, like roundf
    }
    out
}

/// Q4_0 quantizer (ggml's `quantize_row_q4_0_ref`): the value of largest magnitude maps to −8,
/// d = that value / −8, q = min(15, trunc(x/d + 8.5)).
pub fn quantize_row_q4_0(x: &[f32]) -> Vec<u8> {
    assert_eq!(x.len() % QK, 0, "Q4_0 rows hold whole blocks of 32");
    let mut out = Vec::with_capacity(x.len() / QK * 18);
    for blk in x.chunks_exact(QK) {
        let (mut amax, mut max) = (0.0f32, 0.0f32);
        for &v in blk {
            if amax < v.abs() {
                amax = v.abs();
                max = v;
            }
        }
        let d = max / -8.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
        let q = |v: f32| ((v * id + 8.5) as i8).min(15) as u8; // `as i8` truncates, like the C cast
        out.extend((0..16).map(|j| q(blk[j]) | (q(blk[j + 16]) << 4)));
    }
    out
}

/// Q4_1 quantizer (ggml's `quantize_row_q4_1_ref`): m = min, d = (max − min) / 15,
/// q = min(15, trunc((x − m)/d + 0.5)).
pub fn quantize_row_q4_1(x: &[f32]) -> Vec<u8> {
    assert_eq!(x.len() % QK, 0, "Q4_1 rows hold whole blocks of 32");
    let mut out = Vec::with_capacity(x.len() / QK * 20);
    for blk in x.chunks_exact(QK) {
        let min = blk.iter().fold(f32::MAX, |a, &v| a.min(v));
        let max = blk.iter().fold(-f32::MAX, |a, &v| a.max(v));
        let d = (max - min) / 15.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
        out.extend_from_slice(&f16::from_f32(min).to_le_bytes());
        let q = |v: f32| (((v - min) * id + 0.5) as i8).min(15) as u8;
        out.extend((0..16).map(|j| q(blk[j]) | (q(blk[j + 16]) << 4)));
    }
    out
}

/// Quantize (or convert) a row to `dtype`, the inverse of `dequantize_row` up to rounding.
pub fn quantize_row(dtype: DType, x: &[f32]) -> Vec<u8> {
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
        DType::Q8_0 => quantize_row_q8_0(x),
        DType::Q4_0 => quantize_row_q4_0(x),
        DType::Q4_1 => quantize_row_q4_1(x),
    }
}
// ANCHOR_END: quantize

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
