//! # Stage 3 · a prefill tile: weight rows decoded to f32 once, for the GEMM
//!
//! A prefill of a stored (non-f32) matrix decodes a tile of its rows to f32 and runs the f32
//! GEMM on it (`WeightMatrix::matmul`). Each weight is decoded once per product and then used
//! by `seq` tokens, so the decoding is `1/seq` of the multiply-adds; but a scalar decode
//! (`quant::dequantize_row`, one value at a time) costs about as much per value as 30 FMAs of
//! the 16-lane GEMM, so at `seq` = 128 it was a large share of the product. The two types whose
//! prefill had no integer-free shortcut get a 16-lane decoder here:
//!
//! ```text
//! F16    16 halves  (32 bytes) → 16 f32    one vcvtph2ps
//! Q8_0   16 quants  (16 bytes) → 16 f32    vpmovsxbd, vcvtdq2ps, one multiply by the block's d
//! ```
//!
//! Both give exactly the bits of `quant::dequantize_row` (an f16 → f32 conversion is exact;
//! `d · q` is one rounded product either way), which stays the reference and the path of every
//! other type and of builds without AVX-512F (`tests` below: bit equality).

use crate::quant::{self, DType};

/// `out = row` decoded to f32 (`out: [cols]`), the widest way this build has.
pub fn decode_row(dtype: DType, row: &[u8], out: &mut [f32]) {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    match dtype {
        DType::F16 => return wide::f16_row(row, out),
        DType::Q8_0 => return wide::q8_0_row(row, out),
        _ => {}
    }
    quant::dequantize_row(dtype, row, out);
}

/// Ask the CPU to bring `bytes` (the stored rows of the next tile) toward its caches, one
/// prefetch per 64-byte line, without waiting for them: the tile's GEMM runs meanwhile, and the
/// next [`decode_row`] reads from cache instead of stalling on memory. A hint only: nothing
/// happens where the build has no x86-64 prefetch instruction.
pub fn prefetch(bytes: &[u8]) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse"))]
    for line in bytes.chunks(64) {
        // SAFETY: a prefetch never faults and changes no memory; the address is inside `bytes`.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T1 }>(
                line.as_ptr() as *const i8
            )
        };
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse")))]
    let _ = bytes;
}

#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
mod wide {
    use std::arch::x86_64::*;

    use crate::quant::{self, DType};

    /// F16 row → f32, 16 at a time; the last `cols % 16` by the reference.
    pub fn f16_row(row: &[u8], out: &mut [f32]) {
        assert_eq!(row.len(), 2 * out.len(), "F16 row of {} values", out.len());
        let n16 = out.len() / 16 * 16;
        let (src, _) = row[..2 * n16].as_chunks::<32>();
        let (dst, _) = out[..n16].as_chunks_mut::<16>();
        for (s, d) in src.iter().zip(dst) {
            // SAFETY: AVX-512F is enabled (the cfg of this module); `s` is 32 readable bytes and
            // `d` 16 writable floats (array references), loadu/storeu need no alignment.
            unsafe {
                let h = _mm256_loadu_si256(s.as_ptr() as *const __m256i);
                _mm512_storeu_ps(d.as_mut_ptr(), _mm512_cvtph_ps(h));
            }
        }
        quant::dequantize_row(DType::F16, &row[2 * n16..], &mut out[n16..]);
    }

    /// Q8_0 row → f32: per block of 34 bytes (f16 scale d, then 32 signed quants), x = d · q.
    pub fn q8_0_row(row: &[u8], out: &mut [f32]) {
        const QK: usize = 32;
        let block = DType::Q8_0.row_bytes(QK).expect("one Q8_0 block");
        assert_eq!(
            row.len(),
            out.len() / QK * block,
            "Q8_0 row of {} values",
            out.len()
        );
        let (dst, _) = out.as_chunks_mut::<QK>();
        for (b, d) in row.chunks_exact(block).zip(dst) {
            let scale = half::f16::from_le_bytes([b[0], b[1]]).to_f32();
            let qs: &[u8; QK] = b[2..].try_into().expect("32 quants");
            // SAFETY: AVX-512F is enabled (the cfg of this module); `qs` is 32 readable bytes,
            // `d` 32 writable floats (array references), loadu/storeu need no alignment.
            unsafe {
                let s = _mm512_set1_ps(scale);
                for h in 0..2 {
                    let q = _mm_loadu_si128(qs[16 * h..].as_ptr() as *const __m128i);
                    let v = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q));
                    _mm512_storeu_ps(d[16 * h..].as_mut_ptr(), _mm512_mul_ps(s, v));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every type the tile decoder special-cases, at lengths that are and are not multiples of
    /// 16 (F16) and with extreme scales (Q8_0), bit-equal to `quant::dequantize_row`.
    #[test]
    fn equals_dequantize_row_bit_for_bit() {
        for (dtype, cols) in [
            (DType::F16, 1),
            (DType::F16, 15),
            (DType::F16, 16),
            (DType::F16, 77),
            (DType::F16, 576),
            (DType::Q8_0, 32),
            (DType::Q8_0, 576),
            (DType::Q8_0, 1536),
            (DType::F32, 24),
            (DType::Q4_1, 64),
        ] {
            for scale in [1e-3f32, 1.0, 6.0e4] {
                let x: Vec<f32> = (0..cols)
                    .map(|i| scale * (((i * 7919) % 257) as f32 / 128.0 - 1.0))
                    .collect();
                let row = quant::quantize_row(dtype, &x);
                let mut want = vec![0.0f32; cols];
                quant::dequantize_row(dtype, &row, &mut want);
                let mut got = vec![f32::NAN; cols];
                decode_row(dtype, &row, &mut got);
                let (gb, wb): (Vec<u32>, Vec<u32>) = (
                    got.iter().map(|v| v.to_bits()).collect(),
                    want.iter().map(|v| v.to_bits()).collect(),
                );
                assert_eq!(gb, wb, "{dtype} cols={cols} scale={scale}");
            }
        }
    }
}
