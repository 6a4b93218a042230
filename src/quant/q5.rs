//! # Q5_0 and Q5_1: blocks of 32 with a fifth bit per weight (5.5 and 6 bits per weight)
//!
//! ```text
//! Q5_0  block of 32 elements, 22 B:         x = d·(q − 16),  q ∈ 0..=31
//!       ┌──────┬──────────────┬─────────────────────────────────┐
//!       │ d f16│ qh: u32 (LE) │ qs: 16 bytes of nibbles           │
//!       └──────┴──────────────┴─────────────────────────────────┘
//! Q5_1  block of 32 elements, 24 B:         x = d·q + m
//!       ┌──────┬──────┬──────────────┬─────────────────────────┐
//!       │ d f16│ m f16│ qh: u32 (LE) │ qs: 16 bytes of nibbles   │
//!       └──────┴──────┴──────────────┴─────────────────────────┘
//!
//! q[j]      = (qs[j] & 0xF) | (bit j      of qh) << 4      j = 0..16
//! q[j + 16] = (qs[j] >> 4)  | (bit j + 16 of qh) << 4
//! ```
//!
//! These are Q4_0/Q4_1 with one more bit per weight, kept in a 32-bit word. They matter more
//! than their name suggests: llama.cpp writes Q5_0 wherever a Q4_K_M file meets a row whose
//! width is not a multiple of 256 (every 576-wide row of SmolLM2, most of gemma-3-270m).
//!
//! Reference: ggml `block_q5_0`, `block_q5_1`, `quantize_row_q5_0_ref`, `quantize_row_q5_1_ref`.

use super::kquant::{f16_bytes, fma_group, sum4, LOW4};
use super::{f16_at, simd};
use wide::f32x8;

/// Elements per block.
pub const QK: usize = 32;
/// Bytes per Q5_0 block.
pub const BYTES_Q5_0: usize = 22;
/// Bytes per Q5_1 block.
pub const BYTES_Q5_1: usize = 24;

/// The 32 five-bit quants of a block (`qh` the 4 bytes of high bits, `qs` the 16 of nibbles).
#[inline(always)]
fn quants(qh: &[u8], qs: &[u8]) -> [i8; 32] {
    let h = u32::from_le_bytes([qh[0], qh[1], qh[2], qh[3]]);
    std::array::from_fn(|j| {
        let nibble = if j < 16 {
            qs[j] & 0x0F
        } else {
            qs[j - 16] >> 4
        };
        (nibble | (((h >> j) & 1) as u8) << 4) as i8
    })
}

/// (d, m, quants) of a block: Q5_0 has m = −16·d folded in later, so it returns (d, None).
#[inline(always)]
fn parts(blk: &[u8], with_min: bool) -> (f32, Option<f32>, [i8; 32]) {
    if with_min {
        (
            f16_at(blk, 0),
            Some(f16_at(blk, 2)),
            quants(&blk[4..8], &blk[8..24]),
        )
    } else {
        (f16_at(blk, 0), None, quants(&blk[2..6], &blk[6..22]))
    }
}

/// Decode a row of Q5_0 (`with_min = false`) or Q5_1 blocks into `out` (bit for bit as gguf's
/// dequantizer: Q5_0 is `d·(q − 16)`, Q5_1 is `d·q + m`).
pub fn dequantize(row: &[u8], out: &mut [f32], with_min: bool) {
    let bytes = if with_min { BYTES_Q5_1 } else { BYTES_Q5_0 };
    for (blk, y) in row.chunks_exact(bytes).zip(out.chunks_exact_mut(QK)) {
        let (d, m, q) = parts(blk, with_min);
        for j in 0..QK {
            y[j] = match m {
                Some(m) => d * q[j] as f32 + m,
                None => d * (q[j] - 16) as f32,
            };
        }
    }
}

/// Dot product of a Q5_0 / Q5_1 row with `x`: Q5_0 by [`dot_q5_0`], Q5_1 with each block's 32
/// quants widened into registers, then `(q·d + m)·x`.
pub fn dot(row: &[u8], x: &[f32], with_min: bool) -> f32 {
    if !with_min {
        return dot_q5_0(row, x);
    }
    let mut acc = [f32x8::ZERO; 4];
    for (b, blk) in row.chunks_exact(BYTES_Q5_1).enumerate() {
        let (d, m) = (f16_at(blk, 0), f16_at(blk, 2));
        // nibbles: words 0, 1 = low nibbles of qs (elements 0..16), words 2, 3 = high nibbles;
        // the fifth bits: byte i of qh spread to eight bytes of 0 or 16 (SPREAD)
        let (w0, w1) = qs_words(&blk[8..24]);
        let nib = [w0 & LOW4, w1 & LOW4, (w0 >> 4) & LOW4, (w1 >> 4) & LOW4];
        let q: [u64; 4] = std::array::from_fn(|i| nib[i] | SPREAD[blk[4 + i] as usize]);
        fma_group(&mut acc, q, (d, m), (d, m), x, b * QK);
    }
    sum4(acc)
}

/// The 16 bytes of nibbles as two little-endian words.
#[inline(always)]
fn qs_words(qs: &[u8]) -> (u64, u64) {
    let w = |i: usize| u64::from_le_bytes(qs[8 * i..8 * i + 8].try_into().expect("8 bytes"));
    (w(0), w(1))
}

// ANCHOR: q5_0_dot
/// Dot product of a Q5_0 row with `x`, the scale taken out of the block's sum:
///
/// ```text
/// Σ_blocks d · s,   s = Σ_j (q_j − 16)·x_j     (32 products, then one multiply by d)
/// ```
///
/// `q − 16` is an integer in −16..=15, one signed byte: where the fifth bit is set it is the
/// nibble itself, where it is clear it is the nibble minus 16, which in two's complement is the
/// nibble with the top four bits set (`| 0xF0`). Element j's partial sum pairs it with element
/// j + 16 (`s[j] = (q_j−16)·x_j + (q_{j+16}−16)·x_{j+16}`), then `acc[j] += s[j]·d`: the
/// AVX-512 kernel ([`row_q5_0_wide16`]) does exactly these operations in one 16-lane register.
pub fn dot_q5_0(row: &[u8], x: &[f32]) -> f32 {
    let mut acc = [f32x8::ZERO; 2];
    for (blk, xb) in row.chunks_exact(BYTES_Q5_0).zip(x.chunks_exact(QK)) {
        let d = f32x8::splat(f16_at(blk, 0));
        let (w0, w1) = qs_words(&blk[6..22]);
        let nib = [w0 & LOW4, w1 & LOW4, (w0 >> 4) & LOW4, (w1 >> 4) & LOW4];
        // 0xF0 in every byte whose fifth bit is clear: SPREAD of the inverted bits, times 15
        let mut q = [0u8; 32];
        for (i, q8) in q.chunks_exact_mut(8).enumerate() {
            q8.copy_from_slice(&(nib[i] | (SPREAD[!blk[2 + i] as usize] * 15)).to_le_bytes());
        }
        let w = simd::i8x32(&q); // elements 0..8, 8..16, 16..24, 24..32
        let xg = |g: usize| f32x8::new(xb[8 * g..8 * g + 8].try_into().expect("8 floats"));
        let s0 = w[2].mul_add(xg(2), w[0] * xg(0));
        let s1 = w[3].mul_add(xg(3), w[1] * xg(1));
        acc[0] = s0.mul_add(d, acc[0]);
        acc[1] = s1.mul_add(d, acc[1]);
    }
    sum4([acc[0], acc[1], f32x8::ZERO, f32x8::ZERO])
}
// ANCHOR_END: q5_0_dot

/// One row of `BPB`-byte blocks (Q5_0: 22, Q5_1: 24) for `dot_rows`: the AVX-512 table kernel
/// when the build has it and `WIDE`, else [`dot`]. Both give the same bits.
#[inline(always)]
pub fn row_kernel<const BPB: usize, const WIDE: bool>(row: &[u8], x: &[f32]) -> f32 {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    if WIDE {
        return match BPB {
            BYTES_Q5_0 => row_q5_0_wide16(row, x),
            _ => row_table::<BPB>(row, x),
        };
    }
    dot(row, x, BPB == BYTES_Q5_1)
}

/// [`dot_q5_0`] on AVX-512: one block is 16 bytes of nibbles zero-extended to 16 lanes (`q`),
/// `q & 15` for elements 0..16 and `q >> 4` for 16..32, minus 16 under the mask of the clear
/// fifth bits (the inverted `qh`), converted to f32; then `s = lo·x[0..16] + hi·x[16..32]` and
/// `acc += s·d`. Lanes 0..8 are [`dot_q5_0`]'s `acc[0]`, lanes 8..16 its `acc[1]`: the same
/// bits. Measured against the table kernel below (which it replaced for Q5_0): 1.24–1.33× on
/// gemma-3-270m's Q5_0 matrices on one thread (benches/README.md, "Second family").
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
#[inline(always)]
fn row_q5_0_wide16(row: &[u8], x: &[f32]) -> f32 {
    use super::simd::wide16::{bytes16, reduce, splat_f16, x16};
    use std::arch::x86_64::*;
    let (blocks, _) = row.as_chunks::<BYTES_Q5_0>();
    let (xs, _) = x.as_chunks::<QK>();
    // SAFETY (whole block): AVX-512F is enabled (the cfg above); only register operations,
    // memory is read through the checked helpers of `simd::wide16`.
    unsafe {
        let (low4, sixteen) = (_mm512_set1_epi32(15), _mm512_set1_epi32(16));
        let mut acc = _mm512_setzero_ps();
        for (blk, xb) in blocks.iter().zip(xs) {
            let clear = !u32::from_le_bytes([blk[2], blk[3], blk[4], blk[5]]); // fifth bit 0
            let q = _mm512_cvtepu8_epi32(bytes16(&blk[6..]));
            let nib_lo = _mm512_and_si512(q, low4);
            let nib_hi = _mm512_srli_epi32::<4>(q);
            let lo = _mm512_mask_sub_epi32(nib_lo, clear as u16, nib_lo, sixteen); // q − 16
            let hi = _mm512_mask_sub_epi32(nib_hi, (clear >> 16) as u16, nib_hi, sixteen);
            let s = _mm512_mul_ps(_mm512_cvtepi32_ps(lo), x16::<0>(xb));
            let s = _mm512_fmadd_ps(_mm512_cvtepi32_ps(hi), x16::<16>(xb), s);
            acc = _mm512_fmadd_ps(s, splat_f16(blk), acc);
        }
        reduce(acc, _mm512_setzero_ps())
    }
}

// ANCHOR: q5_table
/// The AVX-512 kernel, Q4's table lookup with one more bit. A block has 32 possible weights
/// `T[q] = d·q + offset` (q = 0..31; the same fused `d·q + offset` that [`dot`] computes per
/// element), two 16-lane registers filled by two fused multiply-adds; `vpermt2ps` reads the low
/// 5 bits of each lane's index and picks from the pair. The index is the nibble with the fifth
/// bit OR-ed in under a lane mask that *is* 16 bits of `qh`:
///
/// ```text
/// qs ─► zero-extend ─► & 15 ─► | 16 where qh bit j      ─► vpermt2ps(T) = w[0..16]   fma x[0..16]
///    └► >> 4 ─► zero-extend ─► & 15 ─► | 16 where qh bit j+16 ─► w[16..32]          fma x[16..32]
/// ```
///
/// Lanes 0..16 hold the f32x8 kernel's acc[0], acc[1] and lanes 16..32 acc[2], acc[3], with the
/// same products in the same order, so the bits equal [`dot`]'s.
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
#[inline(always)]
fn row_table<const BPB: usize>(row: &[u8], x: &[f32]) -> f32 {
    use super::simd::wide16::{bytes16, reduce, splat_f16, x16};
    use std::arch::x86_64::*;
    let (blocks, _) = row.as_chunks::<BPB>();
    let (xs, _) = x.as_chunks::<QK>();
    // SAFETY (whole block): AVX-512F is enabled (the cfg above); only register operations,
    // memory is read through the checked helpers of `simd::wide16`.
    unsafe {
        let iota = _mm512_setr_ps(
            0., 1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12., 13., 14., 15.,
        );
        let iota16 = _mm512_add_ps(iota, _mm512_set1_ps(16.0));
        let (low4, bit4) = (_mm512_set1_epi32(15), _mm512_set1_epi32(16));
        let (mut lo_acc, mut hi_acc) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        for (blk, xb) in blocks.iter().zip(xs) {
            let d = splat_f16(blk);
            let offset = match BPB {
                BYTES_Q5_0 => _mm512_set1_ps(-16.0 * f16_at(blk, 0)), // Q5_0: −16·d
                _ => splat_f16(&blk[2..]),                            // Q5_1: m
            };
            let (t_lo, t_hi) = (
                _mm512_fmadd_ps(iota, d, offset),   // T[0..16]
                _mm512_fmadd_ps(iota16, d, offset), // T[16..32]
            );
            let at = BPB - 20; // where qh starts
            let qh = u32::from_le_bytes([blk[at], blk[at + 1], blk[at + 2], blk[at + 3]]);
            let qs = bytes16(&blk[at + 4..]);
            let lo = _mm512_and_si512(_mm512_cvtepu8_epi32(qs), low4);
            let hi = _mm512_and_si512(_mm512_cvtepu8_epi32(_mm_srli_epi16::<4>(qs)), low4);
            let lo = _mm512_mask_or_epi32(lo, qh as u16, lo, bit4);
            let hi = _mm512_mask_or_epi32(hi, (qh >> 16) as u16, hi, bit4);
            let (w_lo, w_hi) = (
                _mm512_permutex2var_ps(t_lo, lo, t_hi),
                _mm512_permutex2var_ps(t_lo, hi, t_hi),
            );
            lo_acc = _mm512_fmadd_ps(w_lo, x16::<0>(xb), lo_acc);
            hi_acc = _mm512_fmadd_ps(w_hi, x16::<16>(xb), hi_acc);
        }
        reduce(lo_acc, hi_acc)
    }
}
// ANCHOR_END: q5_table

/// Byte `b` spread over a u64: byte k is 16 if bit k of `b` is set, else 0 (the fifth bit of
/// eight quants, in place). Built at compile time.
const SPREAD: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut b = 0;
    while b < 256 {
        let mut k = 0;
        while k < 8 {
            if b >> k & 1 == 1 {
                t[b] |= 0x10 << (8 * k);
            }
            k += 1;
        }
        b += 1;
    }
    t
};

/// Pack 32 five-bit values into `qh` (4 bytes) + `qs` (16 bytes).
fn pack(q: &[u8; 32], out: &mut Vec<u8>) {
    let mut qh = 0u32;
    for (j, &v) in q.iter().enumerate() {
        qh |= ((v as u32 & 0x10) >> 4) << j;
    }
    out.extend_from_slice(&qh.to_le_bytes());
    out.extend((0..16).map(|j| (q[j] & 0x0F) | ((q[j + 16] & 0x0F) << 4)));
}

// ANCHOR: quantize
/// Q5_0 quantizer (ggml's `quantize_row_q5_0_ref`): the value of largest magnitude maps to
/// −16, `d = max / −16`, `q = min(31, trunc(x/d + 16.5))`. Panics unless `x` is whole blocks.
pub fn quantize_q5_0(x: &[f32]) -> Vec<u8> {
    assert_eq!(x.len() % QK, 0, "Q5_0 rows hold whole blocks of 32");
    let mut out = Vec::with_capacity(x.len() / QK * BYTES_Q5_0);
    for blk in x.chunks_exact(QK) {
        let (mut amax, mut max) = (0.0f32, 0.0f32);
        for &v in blk {
            if amax < v.abs() {
                amax = v.abs();
                max = v;
            }
        }
        let d = max / -16.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&f16_bytes(d));
        // `as i8` truncates toward zero and saturates, like the C cast on these values
        let q: [u8; 32] = std::array::from_fn(|j| ((blk[j] * id + 16.5) as i8).min(31) as u8);
        pack(&q, &mut out);
    }
    out
}

/// Q5_1 quantizer (ggml's `quantize_row_q5_1_ref`): `m = min`, `d = (max − min)/31`,
/// `q = trunc((x − m)/d + 0.5)`.
pub fn quantize_q5_1(x: &[f32]) -> Vec<u8> {
    assert_eq!(x.len() % QK, 0, "Q5_1 rows hold whole blocks of 32");
    let mut out = Vec::with_capacity(x.len() / QK * BYTES_Q5_1);
    for blk in x.chunks_exact(QK) {
        let min = blk.iter().fold(f32::MAX, |a, &v| if v < a { v } else { a });
        let max = blk
            .iter()
            .fold(-f32::MAX, |a, &v| if v > a { v } else { a });
        let d = (max - min) / 31.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&f16_bytes(d));
        out.extend_from_slice(&f16_bytes(min));
        let q: [u8; 32] = std::array::from_fn(|j| ((blk[j] - min) * id + 0.5) as u8);
        pack(&q, &mut out);
    }
    out
}
// ANCHOR_END: quantize

#[cfg(test)]
mod tests {
    use super::*;

    /// By hand (Q5_0): d = 0.5, qh = 0xFFFF0000 (elements 16–31 get the fifth bit), qs bytes
    /// 0x21 → element j: nibble 1 → 0.5·(1 − 16) = −7.5; element j + 16: (2 | 16) → 0.5·2 = 1.
    #[test]
    fn q5_0_by_hand() {
        let mut blk = f16_bytes(0.5).to_vec();
        blk.extend(0xFFFF_0000u32.to_le_bytes());
        blk.extend([0x21u8; 16]);
        let mut y = [0.0f32; 32];
        dequantize(&blk, &mut y, false);
        assert!(y[..16].iter().all(|&v| v == -7.5));
        assert!(y[16..].iter().all(|&v| v == 1.0));
        assert_eq!(dot(&blk, &[1.0; 32], false), 16.0 * -7.5 + 16.0);
    }

    /// A round trip through Q5_1 is within half a step (plus f16 rounding of d and m).
    #[test]
    fn q5_1_round_trip() {
        let x: Vec<f32> = (0..64).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
        let q = quantize_q5_1(&x);
        let mut y = vec![0.0; 64];
        dequantize(&q, &mut y, true);
        for (a, b) in x.iter().zip(&y) {
            assert!(
                (a - b).abs() <= 6.0 / 31.0 * 0.51 + 3.0 / 1024.0,
                "{a} vs {b}"
            );
        }
    }
}
