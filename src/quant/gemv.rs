//! # Stage 3 · the decode GEMV: many stored rows per call, one type dispatch
//!
//! A decode step multiplies every weight matrix by one activation vector: `out[r] = W[r]·x` for
//! every row r, straight from the stored bytes. [`dot_row`](super::dot_row) does one row and
//! is kept as the readable version; called once per row it also paid, per row, for a length
//! check with integer divisions, a `match` on the type and bounds checks on `x`. For the
//! 576-element rows of SmolLM2 (18 blocks, ~150 cycles of arithmetic) that was half the time.
//!
//! [`dot_rows`] checks the sizes once, dispatches on the type once, and then runs a loop over
//! rows that the compiler sees whole. Each row is still computed **exactly as `dot_row`
//! computes it** (same operations, same order, bit-identical results: tested), so the model's
//! logits do not move.
//!
//! Two SIMD widths, chosen when glassbox is compiled (`target-cpu=native`):
//!
//! ```text
//! AVX2      dot_row's kernel: 4 accumulators of 8 lanes, acc[g] sums elements 8g..8g+8 of
//!           every block of 32.
//! AVX-512   2 accumulators of 16 lanes: lanes 0..16 are acc[0] and acc[1] side by side,
//!           lanes 16..32 are acc[2] and acc[3]. Every lane adds the same products in the same
//!           order as before; at the end the four 8-lane halves are summed as dot_row sums them.
//! ```
//!
//! Q4_0/Q4_1 on AVX-512 also replace "convert the nibble to float, then d·q + m" by a table
//! lookup: a block has only 16 possible weights, `T[q] = d·q + m` for q = 0..15 fills one
//! 16-lane register with one fused multiply-add, and `vpermps` picks `T[nibble]` for 16 lanes at
//! once (it reads only the low 4 bits of each index, so the high nibble needs no masking).
//! `T[q]` is the same fused `d·q + m` that dot_row computes per element, so nothing changes.
//!
//! ```text
//! block: d, m, 16 bytes ──► idx_lo = bytes (zero-extended) ──► vpermps(idx_lo, T) = w[0..16]
//!                       └─► idx_hi = bytes >> 4            ──► vpermps(idx_hi, T) = w[16..32]
//! ```

use super::{dot_row_naive, DType};
use crate::matmul;
use wide::f32x8;

// ANCHOR: dot_rows
/// `out[i] = row_i · x` for the consecutive stored rows in `w` (each `x.len()` elements of
/// `dtype`): the decode GEMV on one thread. Panics if `w` does not hold exactly `out.len()`
/// such rows (a programmer error: shapes are checked when a model loads).
pub fn dot_rows(dtype: DType, w: &[u8], x: &[f32], out: &mut [f32]) {
    let rb = check_rows(dtype, w, x, out);
    if rb == 0 {
        return out.fill(0.0); // rows of no elements
    }
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    if avx512::dot_rows(dtype, rb, w, x, out) {
        return;
    }
    dot_rows_f32x8(dtype, w, x, out)
}
// ANCHOR_END: dot_rows

/// [`dot_rows`] with 8-lane registers only (AVX2, or what `wide` makes of f32x8 elsewhere):
/// the kernel of every machine without AVX-512, tested here on every machine.
pub fn dot_rows_f32x8(dtype: DType, w: &[u8], x: &[f32], out: &mut [f32]) {
    let rb = check_rows(dtype, w, x, out);
    if rb == 0 {
        return out.fill(0.0); // rows of no elements
    }
    match dtype {
        DType::F32 => f32_rows(w, x, out),
        DType::F16 | DType::BF16 => each_row(w, rb, out, |r| half_row(dtype, r, x)),
        DType::Q8_0 => each_row(w, rb, out, |r| q8_0_row(r, x)),
        DType::Q4_0 => each_row(w, rb, out, |r| q4_row::<18>(r, x)),
        DType::Q4_1 => each_row(w, rb, out, |r| q4_row::<20>(r, x)),
    }
}

/// `out[i] = row_kernel(row i)` over rows of `rb` bytes (generic, so each kernel is inlined).
#[inline(always)]
fn each_row(w: &[u8], rb: usize, out: &mut [f32], row_kernel: impl Fn(&[u8]) -> f32) {
    for (o, r) in out.iter_mut().zip(w.chunks_exact(rb)) {
        *o = row_kernel(r);
    }
}

/// Bytes per row, after checking that `w` holds exactly `out.len()` rows of `x.len()` elements.
fn check_rows(dtype: DType, w: &[u8], x: &[f32], out: &[f32]) -> usize {
    match dtype.row_bytes(x.len()) {
        Some(rb) if w.len() == out.len() * rb => rb,
        _ => panic!(
            "dot_rows: {} bytes are not {} {dtype} rows of {} elements",
            w.len(),
            out.len(),
            x.len()
        ),
    }
}

/// F32 rows: the f32 GEMV of `matmul.rs` when the bytes are aligned f32 (always, for GGUF data),
/// else one scalar row at a time.
fn f32_rows(w: &[u8], x: &[f32], out: &mut [f32]) {
    match super::as_f32_slice(w) {
        Some(wf) => matmul::matvec_simd(wf, x, out, out.len(), x.len()),
        None => {
            for (o, row) in out.iter_mut().zip(w.chunks_exact(4 * x.len())) {
                *o = dot_row_naive(DType::F32, row, x);
            }
        }
    }
}

fn f16_at(b: &[u8]) -> f32 {
    half::f16::from_le_bytes([b[0], b[1]]).to_f32()
}

fn reduce4(acc: [f32x8; 4]) -> f32 {
    ((acc[0] + acc[1]) + (acc[2] + acc[3])).reduce_add()
}

// ANCHOR: q4_row
/// One Q4_0 (`BPB` = 18) or Q4_1 (`BPB` = 20) row, exactly `dot_row`'s arithmetic:
/// w = d·q + m fused, acc[g] += w·x over elements 8g..8g+8 of each block.
#[inline(always)]
fn q4_row<const BPB: usize>(row: &[u8], x: &[f32]) -> f32 {
    let (blocks, _) = row.as_chunks::<BPB>();
    let (xs, _) = x.as_chunks::<32>();
    let mut acc = [f32x8::ZERO; 4];
    for (blk, xb) in blocks.iter().zip(xs) {
        let df = f16_at(blk);
        // Q4_0: x = d·(q − 8) = d·q − 8d ; Q4_1: x = d·q + m
        let (m, qs) = match BPB {
            18 => (-8.0 * df, &blk[2..18]),
            _ => (f16_at(&blk[2..]), &blk[4..20]),
        };
        let (d, m) = (f32x8::splat(df), f32x8::splat(m));
        let q = super::decode::nibbles(qs);
        let (xg, _) = xb.as_chunks::<8>();
        for g in 0..4 {
            acc[g] = q[g].mul_add(d, m).mul_add(f32x8::new(xg[g]), acc[g]);
        }
    }
    reduce4(acc)
}
// ANCHOR_END: q4_row

/// One Q8_0 row, exactly `dot_row`'s arithmetic: acc[g] += (q·d)·x.
#[inline(always)]
fn q8_0_row(row: &[u8], x: &[f32]) -> f32 {
    let (blocks, _) = row.as_chunks::<34>();
    let (xs, _) = x.as_chunks::<32>();
    let mut acc = [f32x8::ZERO; 4];
    for (blk, xb) in blocks.iter().zip(xs) {
        let d = f32x8::splat(f16_at(blk));
        let q = super::decode::i8x32(&blk[2..]);
        let (xg, _) = xb.as_chunks::<8>();
        for g in 0..4 {
            acc[g] = (q[g] * d).mul_add(f32x8::new(xg[g]), acc[g]);
        }
    }
    reduce4(acc)
}

/// One F16 or BF16 row, exactly `dot_row`'s arithmetic: 4 accumulators over 32 elements, then
/// 8 at a time into the first, then the last 0–7 one by one.
#[inline(always)]
fn half_row(dtype: DType, row: &[u8], x: &[f32]) -> f32 {
    half_row_from(dtype, row, x, 0, [f32x8::ZERO; 4])
}

/// `half_row` from element `p0` (a multiple of 32) on, with the accumulators so far.
#[inline(always)]
fn half_row_from(dtype: DType, row: &[u8], x: &[f32], p0: usize, mut acc: [f32x8; 4]) -> f32 {
    let widen = |p: usize| match dtype {
        DType::F16 => super::decode::f16x8(&row[2 * p..]),
        _ => super::decode::bf16x8(&row[2 * p..]),
    };
    let x8 = |p: usize| f32x8::new(x[p..p + 8].try_into().expect("8 floats"));
    let (n32, n8) = (x.len() / 32 * 32, x.len() / 8 * 8);
    for p in (p0..n32).step_by(32) {
        for (g, a) in acc.iter_mut().enumerate() {
            *a = widen(p + 8 * g).mul_add(x8(p + 8 * g), *a);
        }
    }
    for p in (n32..n8).step_by(8) {
        acc[0] = widen(p).mul_add(x8(p), acc[0]);
    }
    let tail: f32 = (n8..x.len())
        .map(|p| dot_row_naive(dtype, &row[2 * p..2 * p + 2], &x[p..p + 1]))
        .sum();
    reduce4(acc) + tail
}

/// The 16-lane kernels (compiled only where the build has AVX-512F).
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
mod avx512 {
    use super::{each_row, f16_at, half_row_from, reduce4, DType};
    use std::arch::x86_64::*;
    use wide::f32x8;

    /// The AVX-512 kernel for `dtype`, if there is one (F32 stays on the f32 GEMV, which is
    /// bound by memory, not arithmetic). Sizes were checked by the caller; `rb` > 0.
    pub fn dot_rows(dtype: DType, rb: usize, w: &[u8], x: &[f32], out: &mut [f32]) -> bool {
        match dtype {
            DType::F32 => return false,
            DType::F16 | DType::BF16 => each_row(w, rb, out, |r| half_row(dtype, r, x)),
            DType::Q8_0 => each_row(w, rb, out, |r| q8_0_row(r, x)),
            DType::Q4_0 => each_row(w, rb, out, |r| q4_row::<18>(r, x)),
            DType::Q4_1 => each_row(w, rb, out, |r| q4_row::<20>(r, x)),
        }
        true
    }

    /// The four 8-lane sums of dot_row from the two 16-lane ones: lo = [acc0 | acc1],
    /// hi = [acc2 | acc3].
    #[inline(always)]
    fn split(lo: __m512, hi: __m512) -> [f32x8; 4] {
        let half = |v: __m512, upper: bool| -> f32x8 {
            // SAFETY: AVX-512F is enabled for this module (the cfg above); registers only.
            let h = unsafe {
                let d = _mm512_castps_pd(v);
                _mm256_castpd_ps(match upper {
                    true => _mm512_extractf64x4_pd::<1>(d),
                    false => _mm512_castpd512_pd256(d),
                })
            };
            // SAFETY: with AVX enabled (AVX-512F implies it) f32x8 is a #[repr(C, align(32))]
            // wrapper of one __m256: same size and alignment, every bit pattern valid.
            unsafe { std::mem::transmute::<__m256, f32x8>(h) }
        };
        [
            half(lo, false),
            half(lo, true),
            half(hi, false),
            half(hi, true),
        ]
    }

    /// Floats `OFF..OFF + 16` of a block of 32.
    #[inline(always)]
    fn x16<const OFF: usize>(xb: &[f32; 32]) -> __m512 {
        const { assert!(OFF <= 16) };
        // SAFETY: OFF + 16 ≤ 32 floats of `xb` (checked at compile time); loadu needs no
        // alignment; AVX-512F is enabled for this module.
        unsafe { _mm512_loadu_ps(xb.as_ptr().add(OFF)) }
    }

    /// The first 16 bytes of `b` (`b` must hold them: asserted, and known at compile time at
    /// every call, so the check costs nothing).
    #[inline(always)]
    fn bytes16(b: &[u8]) -> __m128i {
        assert!(b.len() >= 16);
        // SAFETY: 16 readable bytes (asserted above); loadu needs no alignment.
        unsafe { _mm_loadu_si128(b.as_ptr() as *const __m128i) }
    }

    /// The first 32 bytes of `b` (asserted, as in `bytes16`).
    #[inline(always)]
    fn bytes32(b: &[u8]) -> __m256i {
        assert!(b.len() >= 32);
        // SAFETY: 32 readable bytes (asserted above); loadu needs no alignment.
        unsafe { _mm256_loadu_si256(b.as_ptr() as *const __m256i) }
    }

    /// An f16 from the start of `b` in all 16 lanes (exactly `f16_at(b)` converted).
    #[inline(always)]
    fn splat_f16(b: &[u8]) -> __m512 {
        let bits = u16::from_le_bytes([b[0], b[1]]) as i16;
        // SAFETY: AVX-512F is enabled for this module; registers only.
        unsafe { _mm512_cvtph_ps(_mm256_set1_epi16(bits)) }
    }

    // ANCHOR: q4_lut
    /// One Q4_0 (`BPB` = 18) or Q4_1 (`BPB` = 20) row with the 16-entry table:
    /// T = fma(0..15, d, m), w = T[nibble], acc += w·x.
    #[inline(always)]
    fn q4_row<const BPB: usize>(row: &[u8], x: &[f32]) -> f32 {
        let (blocks, _) = row.as_chunks::<BPB>();
        let (xs, _) = x.as_chunks::<32>();
        // SAFETY (whole block): AVX-512F is enabled for this module; only register operations,
        // memory is read through the checked helpers above.
        unsafe {
            let iota = _mm512_setr_ps(
                0., 1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12., 13., 14., 15.,
            );
            let (mut lo_acc, mut hi_acc) = (_mm512_setzero_ps(), _mm512_setzero_ps());
            for (blk, xb) in blocks.iter().zip(xs) {
                let d = splat_f16(blk);
                let m = match BPB {
                    18 => _mm512_set1_ps(-8.0 * f16_at(blk)), // Q4_0: x = d·q − 8d
                    _ => splat_f16(&blk[2..]),                // Q4_1: x = d·q + m
                };
                let table = _mm512_fmadd_ps(iota, d, m); // T[q] = d·q + m, q = 0..15
                let qs = bytes16(&blk[BPB - 16..]);
                let lo = _mm512_cvtepu8_epi32(qs); // vpermps reads only bits 0..3: no mask
                let hi = _mm512_cvtepu8_epi32(_mm_srli_epi16::<4>(qs));
                lo_acc = _mm512_fmadd_ps(_mm512_permutexvar_ps(lo, table), x16::<0>(xb), lo_acc);
                hi_acc = _mm512_fmadd_ps(_mm512_permutexvar_ps(hi, table), x16::<16>(xb), hi_acc);
            }
            reduce4(split(lo_acc, hi_acc))
        }
    }
    // ANCHOR_END: q4_lut

    /// One Q8_0 row: 16 int8 → 16 f32 per instruction, acc += (q·d)·x.
    #[inline(always)]
    fn q8_0_row(row: &[u8], x: &[f32]) -> f32 {
        let (blocks, _) = row.as_chunks::<34>();
        let (xs, _) = x.as_chunks::<32>();
        // SAFETY (whole block): AVX-512F is enabled for this module; only register operations,
        // memory is read through the checked helpers above.
        unsafe {
            let q = |b: &[u8]| _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(bytes16(b)));
            let (mut lo_acc, mut hi_acc) = (_mm512_setzero_ps(), _mm512_setzero_ps());
            for (blk, xb) in blocks.iter().zip(xs) {
                let d = splat_f16(blk);
                lo_acc = _mm512_fmadd_ps(_mm512_mul_ps(q(&blk[2..]), d), x16::<0>(xb), lo_acc);
                hi_acc = _mm512_fmadd_ps(_mm512_mul_ps(q(&blk[18..]), d), x16::<16>(xb), hi_acc);
            }
            reduce4(split(lo_acc, hi_acc))
        }
    }

    /// One F16/BF16 row: 16 halves → 16 floats per instruction over the blocks of 32, then
    /// the f32x8 kernel's 8-wide and scalar tail with the same accumulators.
    #[inline(always)]
    fn half_row(dtype: DType, row: &[u8], x: &[f32]) -> f32 {
        let n32 = x.len() / 32 * 32;
        let (ws, _) = row[..2 * n32].as_chunks::<64>();
        let (xs, _) = x[..n32].as_chunks::<32>();
        // SAFETY (whole block): AVX-512F is enabled for this module; only register operations,
        // memory is read through the checked helpers above.
        let acc = unsafe {
            let widen = |b: &[u8]| match dtype {
                DType::F16 => _mm512_cvtph_ps(bytes32(b)),
                _ => {
                    _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(bytes32(b))))
                }
            };
            let (mut lo_acc, mut hi_acc) = (_mm512_setzero_ps(), _mm512_setzero_ps());
            for (wb, xb) in ws.iter().zip(xs) {
                lo_acc = _mm512_fmadd_ps(widen(&wb[..32]), x16::<0>(xb), lo_acc);
                hi_acc = _mm512_fmadd_ps(widen(&wb[32..]), x16::<16>(xb), hi_acc);
            }
            split(lo_acc, hi_acc)
        };
        half_row_from(dtype, row, x, n32, acc)
    }
}
