//! Stage 3 · quant: decoding eight stored values into one f32x8 register, for every stored
//! type's dot product. (f32 operands are loaded with `matmul::load8`, shared with the f32
//! kernels.)
//!
//! On x86-64 with AVX2 + F16C (this build's `target-cpu=native`) each helper is two or three
//! instructions; elsewhere a portable version that the compiler vectorizes as it can. Both
//! are tested against `dequantize_row` (`tests/kernels_quant.rs`).
//!
//! Where the build also has AVX-512F, [`wide16`] holds the 16-lane helpers of the decode
//! kernels (`dot_rows`): one 512-bit register is two of the f32x8 accumulators side by side.

/// The AVX2 + F16C versions.
#[cfg(all(
    target_arch = "x86_64",
    target_feature = "avx2",
    target_feature = "f16c"
))]
mod imp {
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

/// The portable versions (any target).
#[cfg(not(all(
    target_arch = "x86_64",
    target_feature = "avx2",
    target_feature = "f16c"
)))]
mod imp {
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

pub use imp::{bf16x8, f16x8, i8x32, nibbles};

/// The 16-lane helpers (compiled only where the build has AVX-512F). A 16-lane accumulator
/// over elements `0..16` of every block of 32 is the f32x8 kernels' `acc[0]` and `acc[1]` side
/// by side; one over `16..32` is `acc[2]` and `acc[3]`. [`wide16::reduce`] adds the four
/// halves exactly as the f32x8 kernels do, so both widths give the same bits.
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
pub mod wide16 {
    use std::arch::x86_64::*;
    use wide::f32x8;

    /// The four 8-lane sums held by `lo = [acc0 | acc1]` and `hi = [acc2 | acc3]`.
    #[inline(always)]
    pub fn split(lo: __m512, hi: __m512) -> [f32x8; 4] {
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

    /// `((acc0 + acc1) + (acc2 + acc3)).reduce_add()`, the f32x8 kernels' final sum.
    #[inline(always)]
    pub fn reduce(lo: __m512, hi: __m512) -> f32 {
        let a = split(lo, hi);
        ((a[0] + a[1]) + (a[2] + a[3])).reduce_add()
    }

    /// Floats `OFF..OFF + 16` of a block of 32.
    #[inline(always)]
    pub fn x16<const OFF: usize>(xb: &[f32; 32]) -> __m512 {
        const { assert!(OFF <= 16) };
        // SAFETY: OFF + 16 ≤ 32 floats of `xb` (checked at compile time); loadu needs no
        // alignment; AVX-512F is enabled for this module.
        unsafe { _mm512_loadu_ps(xb.as_ptr().add(OFF)) }
    }

    /// The first 16 bytes of `b` (asserted; the length is known at compile time at every call).
    #[inline(always)]
    pub fn bytes16(b: &[u8]) -> __m128i {
        assert!(b.len() >= 16);
        // SAFETY: 16 readable bytes (asserted above); loadu needs no alignment.
        unsafe { _mm_loadu_si128(b.as_ptr() as *const __m128i) }
    }

    /// The first 32 bytes of `b` (asserted, as in `bytes16`).
    #[inline(always)]
    pub fn bytes32(b: &[u8]) -> __m256i {
        assert!(b.len() >= 32);
        // SAFETY: 32 readable bytes (asserted above); loadu needs no alignment.
        unsafe { _mm256_loadu_si256(b.as_ptr() as *const __m256i) }
    }

    /// The f16 at the start of `b` in all 16 lanes (the same value as `f16_at(b, 0)`).
    #[inline(always)]
    pub fn splat_f16(b: &[u8]) -> __m512 {
        let bits = u16::from_le_bytes([b[0], b[1]]) as i16;
        // SAFETY: AVX-512F is enabled for this module; registers only.
        unsafe { _mm512_cvtph_ps(_mm256_set1_epi16(bits)) }
    }
}
