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

use super::f16_at;
use super::kquant::{f16_bytes, fma_group, sum4, LOW4};
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

/// Dot product of a Q5_0 / Q5_1 row with `x`: each block's 32 quants widened into registers,
/// then `(q·d + offset)·x` with offset = m (Q5_1) or −16·d (Q5_0).
pub fn dot(row: &[u8], x: &[f32], with_min: bool) -> f32 {
    let bytes = if with_min { BYTES_Q5_1 } else { BYTES_Q5_0 };
    let at = if with_min { 4 } else { 2 }; // where qh starts
    let mut acc = [f32x8::ZERO; 4];
    for (b, blk) in row.chunks_exact(bytes).enumerate() {
        let d = f16_at(blk, 0);
        let offset = if with_min { f16_at(blk, 2) } else { -16.0 * d };
        // nibbles: words 0, 1 = low nibbles of qs (elements 0..16), words 2, 3 = high nibbles;
        // the fifth bits: byte i of qh spread to eight bytes of 0 or 16 (SPREAD)
        let qs = &blk[at + 4..at + 20];
        let w = |i: usize| u64::from_le_bytes(qs[8 * i..8 * i + 8].try_into().expect("8 bytes"));
        let (w0, w1) = (w(0), w(1));
        let nib = [w0 & LOW4, w1 & LOW4, (w0 >> 4) & LOW4, (w1 >> 4) & LOW4];
        let q: [u64; 4] = std::array::from_fn(|i| nib[i] | SPREAD[blk[at + i] as usize]);
        fma_group(&mut acc, q, (d, offset), (d, offset), x, b * QK);
    }
    sum4(acc)
}

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
