//! Stage 3 · the SIMD kernels of the 8-bit activations (`q8act/mod.rs`): AVX2 (`vpmaddubsw`,
//! `vpmaddwd`) and AVX-512 VNNI (`vpdpbusd`). Each is tested against `dot_row_q8_naive`.

// ANCHOR: avx2
/// 32 products per block in four instructions: `vpmaddubsw` (u8 × i8 → 16 sums of pairs, i16),
/// `vpmaddwd` with ones (→ 8 sums of 4, i32), convert, and one fused multiply-add by `d_w d_x`.
#[cfg(all(
    target_arch = "x86_64",
    target_feature = "avx2",
    target_feature = "fma"
))]
pub mod avx2 {
    use super::super::{DType, Q8Act, QK};
    use std::arch::x86_64::*;

    /// The first `N` bytes of `b` (asserted; `N` is 16 or 32).
    #[inline(always)]
    fn load<const N: usize>(b: &[u8]) -> __m256i {
        assert!(b.len() >= N);
        // SAFETY: N readable bytes (asserted); loadu has no alignment requirement; AVX2 is
        // enabled for this module.
        unsafe {
            match N {
                16 => _mm256_castsi128_si256(_mm_loadu_si128(b.as_ptr() as *const __m128i)),
                _ => _mm256_loadu_si256(b.as_ptr() as *const __m256i),
            }
        }
    }

    #[inline(always)]
    pub fn row(dtype: DType, row: &[u8], x: &Q8Act) -> f32 {
        let bpb = dtype.bytes_per_block();
        let f16 = |b: &[u8]| half::f16::from_le_bytes([b[0], b[1]]).to_f32();
        // SAFETY (whole block): AVX2 and FMA are enabled for this module; registers only,
        // memory is read through `load`, which checks the length.
        unsafe {
            let ones = _mm256_set1_epi16(1);
            let mut acc = _mm256_setzero_ps();
            let mut msum = 0.0f32;
            let blocks = row.chunks_exact(bpb).zip(x.q.chunks_exact(QK));
            for (b, (blk, qx)) in blocks.enumerate() {
                let qx: &[u8] = bytemuck_i8(qx);
                let qy = load::<32>(qx);
                let (wq, yq) = match dtype {
                    DType::Q8_0 => {
                        // i8 × i8: maddubs wants one operand unsigned, so |w| and y·sign(w)
                        let w = load::<32>(&blk[2..]);
                        (_mm256_sign_epi8(w, w), _mm256_sign_epi8(qy, w))
                    }
                    _ => {
                        // 16 bytes of nibbles → 32 bytes 0..15: low nibbles, then high
                        let v = load::<16>(&blk[bpb - 16..]);
                        let v = _mm256_inserti128_si256::<1>(
                            v,
                            _mm_srli_epi16::<4>(_mm256_castsi256_si128(v)),
                        );
                        // Q4_0's (q − 8)·y = q·y − 8·y: q stays unsigned, 8·Σy is subtracted below
                        (_mm256_and_si256(v, _mm256_set1_epi8(0x0F)), qy)
                    }
                };
                let pairs = _mm256_maddubs_epi16(wq, yq); // i16: w0 y0 + w1 y1, ...
                let mut quads = _mm256_madd_epi16(pairs, ones); // i32: 4 products each
                if dtype == DType::Q4_0 {
                    // − 8 Σ y: maddubs(8, y) summed the same way
                    let eights = _mm256_maddubs_epi16(_mm256_set1_epi8(8), yq);
                    quads = _mm256_sub_epi32(quads, _mm256_madd_epi16(eights, ones));
                }
                let dd = _mm256_set1_ps(f16(blk) * x.d[b]); // d_w d_x
                acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(quads), dd, acc);
                if dtype == DType::Q4_1 {
                    msum += f16(&blk[2..]) * x.s[b]; // m_w · s_x
                }
            }
            let s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps::<1>(acc));
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
            _mm_cvtss_f32(s) + msum
        }
    }

    /// i8 values as their bytes (same size and alignment; every bit pattern valid).
    fn bytemuck_i8(q: &[i8]) -> &[u8] {
        // SAFETY: i8 and u8 have the same size and alignment, and every bit pattern is a valid
        // u8; the length is the same.
        unsafe { std::slice::from_raw_parts(q.as_ptr() as *const u8, q.len()) }
    }
}
// ANCHOR_END: avx2

/// AVX-512 VNNI: `vpdpbusd` multiplies 64 u8 × i8 pairs and adds each group of four into an
/// i32 lane, in one instruction: two blocks per step (lanes 0–7 block b, 8–15 block b + 1).
/// Every type becomes unsigned weights `u` plus a per-block offset term:
///
/// ```text
/// Q4_1:  w = d_w·u + m_w              u = q ∈ 0..15      → d_w d_x Σ u·y + m_w s_x
/// Q4_0:  w = d_w·(u − 8)              u = q ∈ 0..15      → d_w d_x Σ u·y − 8 d_w s_x
/// Q8_0:  w = d_w·(u − 128)            u = q + 128 ∈ 0..255 → d_w d_x Σ u·y − 128 d_w s_x
/// ```
#[cfg(all(
    target_arch = "x86_64",
    target_feature = "avx512f",
    target_feature = "avx512bw",
    target_feature = "avx512vnni"
))]
pub mod vnni {
    use super::super::{DType, Q8Act, QK};
    use std::arch::x86_64::*;

    #[inline(always)]
    fn f16(b: &[u8]) -> f32 {
        half::f16::from_le_bytes([b[0], b[1]]).to_f32()
    }

    /// One block's 32 weights as unsigned bytes (elements 0..32 in order), and its offset
    /// `m` (the term that multiplies s_x).
    #[inline(always)]
    fn block<const BPB: usize>(blk: &[u8; BPB]) -> (__m256i, f32) {
        let d = f16(blk);
        // SAFETY: AVX2 (implied by AVX-512F) is enabled for this module; the loads read bytes
        // 2..34 (Q8_0, BPB = 34) or BPB−16..BPB (Q4) of a BPB-byte array.
        unsafe {
            match BPB {
                34 => {
                    let q = _mm256_loadu_si256(blk[2..].as_ptr() as *const __m256i);
                    (_mm256_xor_si256(q, _mm256_set1_epi8(-128)), -128.0 * d) // q + 128
                }
                _ => {
                    let v = _mm_loadu_si128(blk[BPB - 16..].as_ptr() as *const __m128i);
                    let both = _mm256_set_m128i(_mm_srli_epi16::<4>(v), v);
                    let u = _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
                    (u, if BPB == 20 { f16(&blk[2..]) } else { -8.0 * d })
                }
            }
        }
    }

    #[inline(always)]
    pub fn row(dtype: DType, row: &[u8], x: &Q8Act) -> f32 {
        match dtype {
            DType::Q4_0 => row_of::<18>(row, x),
            DType::Q4_1 => row_of::<20>(row, x),
            _ => row_of::<34>(row, x),
        }
    }

    #[inline(always)]
    fn row_of<const BPB: usize>(row: &[u8], x: &Q8Act) -> f32 {
        let (blocks, _) = row.as_chunks::<BPB>();
        let (ys, _) = x.q.as_chunks::<64>(); // two blocks of x per chunk
        let nb = blocks.len();
        let mut msum = 0.0f32; // Σ m · s_x
                               // SAFETY (whole block): AVX-512F/BW/VNNI are enabled for this module; registers only,
                               // memory is read from arrays of known length (blocks: BPB bytes, y: 64 bytes).
        unsafe {
            let mut acc = _mm512_setzero_ps();
            for (p, y) in ys.iter().enumerate() {
                let (b0, b1) = (&blocks[2 * p], &blocks[2 * p + 1]);
                let ((u0, m0), (u1, m1)) = (block(b0), block(b1));
                let u = _mm512_inserti64x4::<1>(_mm512_castsi256_si512(u0), u1);
                let y = _mm512_loadu_si512(y.as_ptr() as *const __m512i);
                let sums = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, y);
                let dd = _mm512_insertf32x8::<1>(
                    _mm512_set1_ps(f16(b0) * x.d[2 * p]),
                    _mm256_set1_ps(f16(b1) * x.d[2 * p + 1]),
                );
                acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums), dd, acc);
                msum += m0 * x.s[2 * p] + m1 * x.s[2 * p + 1];
            }
            if nb % 2 == 1 {
                // the last block alone, in the low half
                let b = nb - 1;
                let (u, m) = block(&blocks[b]);
                let y = _mm256_loadu_si256(x.q[b * QK..][..QK].as_ptr() as *const __m256i);
                let sums = _mm512_dpbusd_epi32(
                    _mm512_setzero_si512(),
                    _mm512_zextsi256_si512(u),
                    _mm512_zextsi256_si512(y),
                );
                let dd = _mm512_maskz_mov_ps(0x00FF, _mm512_set1_ps(f16(&blocks[b]) * x.d[b]));
                acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums), dd, acc);
                msum += m * x.s[b];
            }
            _mm512_reduce_add_ps(acc) + msum
        }
    }
}
