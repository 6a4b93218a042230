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
use crate::matmul::{dot, load8, matvec_simd};

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
    half_row::<false>(dtype, row, x)
}

// ANCHOR: f32_rows
/// Many F32 rows times `x`: the f32 GEMV of `matmul` (`matvec_simd`: four rows from the four
/// quarters of the chunk share each load of x, two f32x8 accumulators per row), what decode
/// has always used for f32 weights; with `WIDE` on an AVX-512 build the same sums in 16-lane
/// registers ([`f32_rows_wide16`], the same bits); one scalar row at a time if the bytes are
/// not aligned f32.
pub fn f32_rows<const WIDE: bool>(w: &[u8], x: &[f32], out: &mut [f32]) {
    match as_f32_slice(w) {
        #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
        Some(wf) if WIDE => f32_rows_wide16(wf, x, out),
        Some(wf) => matvec_simd(wf, x, out, out.len(), x.len()),
        None => {
            for (o, r) in out.iter_mut().zip(w.chunks_exact(4 * x.len().max(1))) {
                *o = dot_row_naive(DType::F32, r, x);
            }
        }
    }
}

/// `matvec_simd` with one 16-lane register per row where it keeps two f32x8 accumulators.
/// `w: [n, k], x: [k], out: [n]`.
///
/// ```text
/// matvec_simd, per row   acc_a += w[p..p+8]·x[p..p+8]    acc_b += w[p+8..p+16]·x[p+8..p+16]
/// here, per row          acc   += w[p..p+16]·x[p..p+16]  lanes 0..8 = acc_a, 8..16 = acc_b
/// then                   a last 8 elements into acc_a (lanes 0..8 only, a masked FMA),
///                        (acc_a + acc_b).reduce_add(), the last 0–7 elements one by one
/// ```
///
/// Every lane adds the same products in the same order, so every row has `matvec_simd`'s
/// bits, the rows left over after the quarters (`dot`) included. Half the loads and FMAs per
/// byte: measured on the SmolLM2 F32 file, one thread, `cargo bench --bench decode -- f32`.
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
fn f32_rows_wide16(w: &[f32], x: &[f32], out: &mut [f32]) {
    use std::arch::x86_64::*;
    let (n, k) = (out.len(), x.len());
    assert_eq!(w.len(), n * k, "f32_rows: w is not [out.len(), x.len()]");
    let (k16, k8) = (k / 16 * 16, k / 8 * 8);
    let (xs, _) = x[..k16].as_chunks::<16>();
    let q = n / 4; // rows per quarter
    for i in 0..q {
        let rows: [&[f32]; 4] = std::array::from_fn(|r| &w[(r * q + i) * k..][..k]);
        let blocks = rows.map(|row| row[..k16].as_chunks::<16>().0);
        // SAFETY (whole block): AVX-512F is enabled (the cfg above); memory is read only
        // through `load16` (whole [f32; 16] arrays) and `load8_low` (asserted 8 floats).
        let acc = unsafe {
            let mut acc = [_mm512_setzero_ps(); 4];
            let [b0, b1, b2, b3] = blocks;
            for ((((xb, w0), w1), w2), w3) in xs.iter().zip(b0).zip(b1).zip(b2).zip(b3) {
                let xv = load16(xb);
                acc[0] = _mm512_fmadd_ps(load16(w0), xv, acc[0]);
                acc[1] = _mm512_fmadd_ps(load16(w1), xv, acc[1]);
                acc[2] = _mm512_fmadd_ps(load16(w2), xv, acc[2]);
                acc[3] = _mm512_fmadd_ps(load16(w3), xv, acc[3]);
            }
            if k8 > k16 {
                let xv = load8_low(&x[k16..]);
                for (a, row) in acc.iter_mut().zip(&rows) {
                    *a = _mm512_mask3_fmadd_ps(load8_low(&row[k16..]), xv, *a, 0x00ff);
                }
            }
            acc
        };
        for (r, row) in rows.iter().enumerate() {
            let [acc_a, acc_b, _, _] = simd::wide16::split(acc[r], acc[r]);
            let mut s = (acc_a + acc_b).reduce_add();
            for t in k8..k {
                s += row[t] * x[t];
            }
            out[r * q + i] = s;
        }
    }
    for j in 4 * q..n {
        out[j] = dot(&w[j * k..(j + 1) * k], x); // the 0–3 rows left over, as matvec_simd
    }
}

/// 16 floats in one register.
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
#[inline(always)]
fn load16(a: &[f32; 16]) -> std::arch::x86_64::__m512 {
    // SAFETY: 16 readable floats; loadu needs no alignment; AVX-512F is enabled (the cfg).
    unsafe { std::arch::x86_64::_mm512_loadu_ps(a.as_ptr()) }
}

/// The first 8 floats of `a` in lanes 0..8, zeros above (asserted: at least 8 floats).
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
#[inline(always)]
fn load8_low(a: &[f32]) -> std::arch::x86_64::__m512 {
    assert!(a.len() >= 8);
    // SAFETY: the mask reads lanes 0..8 only, 8 readable floats (asserted above).
    unsafe { std::arch::x86_64::_mm512_maskz_loadu_ps(0x00ff, a.as_ptr()) }
}
// ANCHOR_END: f32_rows

/// One F16 or BF16 row with the widest kernel the build has (`WIDE`) or the f32x8 one (the
/// same bits).
#[inline(always)]
pub fn half_row<const WIDE: bool>(dtype: DType, row: &[u8], x: &[f32]) -> f32 {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    if WIDE {
        let (n32, acc) = wide16_blocks(dtype, row, x);
        return half_row_from(dtype, row, x, n32, acc);
    }
    half_row_from(dtype, row, x, 0, [f32x8::ZERO; 4])
}

/// The f32x8 kernel from element `p0` (a multiple of 32) on, with the sums so far: four
/// accumulators over each 32 elements, then 8 at a time into the first, then the last 0–7 one
/// by one. Eight stored halves → one f32x8 (F16C converts eight f16 in one instruction; bf16
/// is the top half of an f32, so a shift does it).
#[inline(always)]
fn half_row_from(dtype: DType, row: &[u8], x: &[f32], p0: usize, mut acc: [f32x8; 4]) -> f32 {
    let widen = |p: usize| match dtype {
        DType::F16 => simd::f16x8(&row[2 * p..]),
        _ => simd::bf16x8(&row[2 * p..]),
    };
    let (n32, n8) = (x.len() / 32 * 32, x.len() / 8 * 8);
    for p in (p0..n32).step_by(32) {
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

/// The AVX-512 part of a half row: every whole block of 32, 16 halves → 16 floats per
/// instruction; returns where it stopped and the four f32x8 sums so far.
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
#[inline(always)]
fn wide16_blocks(dtype: DType, row: &[u8], x: &[f32]) -> (usize, [f32x8; 4]) {
    use simd::wide16::{bytes32, split, x16};
    use std::arch::x86_64::*;
    let n32 = x.len() / 32 * 32;
    let (ws, _) = row[..2 * n32].as_chunks::<64>();
    let (xs, _) = x[..n32].as_chunks::<32>();
    // SAFETY (whole block): AVX-512F is enabled (the cfg above); only register operations,
    // memory is read through the checked helpers of `simd::wide16`.
    let acc = unsafe {
        let widen = |b: &[u8]| match dtype {
            DType::F16 => _mm512_cvtph_ps(bytes32(b)),
            _ => _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(bytes32(b)))),
        };
        let (mut lo_acc, mut hi_acc) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        for (wb, xb) in ws.iter().zip(xs) {
            lo_acc = _mm512_fmadd_ps(widen(&wb[..32]), x16::<0>(xb), lo_acc);
            hi_acc = _mm512_fmadd_ps(widen(&wb[32..]), x16::<16>(xb), hi_acc);
        }
        split(lo_acc, hi_acc)
    };
    (n32, acc)
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
