//! # Stage 2 · the AVX-512 register tile: 8 rows of w × 32 tokens
//!
//! Compiled only where the build has AVX-512F (`target-cpu=native` on a CPU that has it); the
//! f32x8 tile of `tile8.rs` is the fallback everywhere else, and both are tested against
//! `matmul_naive`. Same roles as the f32x8 tile (lanes = tokens, x packed, w broadcast and read
//! in place), twice the lanes and twice the registers:
//!
//! ```text
//! AVX2     16 ymm × 8 lanes:  6 rows of w × 16 tokens = 12 accumulators (+ 3) = 15 of 16
//! AVX-512  32 zmm × 16 lanes: 8 rows of w × 32 tokens = 16 accumulators (+ 3) = 19 of 32
//! ```
//!
//! Why not fill all 32: every row of w is its own stream (w is read in place), and each needs a
//! general-purpose register for its address. 8 rows + the x sliver + the loop counter fit the
//! 16 that x86-64 has; 12 or 14 rows (24 or 28 accumulators) would spill addresses to the stack
//! inside the hot loop. The x sliver that the extra rows would share is read from L1 anyway
//! (`KC` below), so the remaining registers would buy little.

use std::arch::x86_64::*;

use super::gemm::Tile;

// ANCHOR: tile16
/// The AVX-512 tile (see the module doc).
pub(crate) struct Tile16;

/// acc[r] = [out[i..i+16][j+r], out[i+16..i+32][j+r]]: two registers of 16 tokens per row of w.
type Acc16 = [[__m512; 2]; 8];

impl Tile for Tile16 {
    const WR: usize = 8;
    const XR: usize = 32;
    /// k-block: a sliver of x [KC, 32] is 128 KiB, in L2 (128 bytes per k step for 16 FMAs,
    /// 16 bytes per cycle at the FMA peak; L2 delivers 64). Long blocks keep the tile's
    /// read-modify-write of `out` rare (none for k ≤ 1024, e.g. every SmolLM2 product but
    /// `down`), as for the f32x8 tile, whose measured KC this keeps.
    const KC: usize = 1024;
    /// Rows of w per panel (45 groups of 8): every trip of a sliver shares 45 kernel calls.
    const W_PANEL: usize = 360;
    type Acc = Acc16;

    fn kernel_rows(ws: &[&[f32]], xs: &[f32]) -> Acc16 {
        let ws: [&[f32]; 8] = ws.try_into().expect("8 rows of w");
        kernel_rows_8x32(ws, xs)
    }

    fn kernel_cols(wt: &[f32], ld: usize, kc: usize, xs: &[f32]) -> Acc16 {
        kernel_cols_8x32(wt, ld, kc, xs)
    }

    fn put(acc: &Acc16, out: &mut [&mut [f32]], i: usize, j: usize, first: bool) {
        put_8x32(acc, out, i, j, first)
    }
}

/// w read in place, 8 rows each `kc` long: step p reads w[0..8][p], one float from each row.
#[inline(never)] // compiled on its own: its 19 zmm registers are not shared with the caller's
fn kernel_rows_8x32(ws: [&[f32]; 8], xs: &[f32]) -> Acc16 {
    let kc = ws[0].len();
    // every row cut to exactly kc steps once here, so the loop carries no bounds checks
    let [w0, w1, w2, w3, w4, w5, w6, w7] = ws.map(|row| &row[..kc]);
    kernel_8x32(
        kc,
        |p| [w0[p], w1[p], w2[p], w3[p], w4[p], w5[p], w6[p], w7[p]],
        xs,
    )
}

/// w stored transposed (`[k, ld]`, a row of w is a column of it): step p reads the 8 adjacent
/// floats wt[p·ld .. p·ld + 8]. This is how the backward reads Wᵀ and xᵀ without copying.
#[inline(never)]
fn kernel_cols_8x32(wt: &[f32], ld: usize, kc: usize, xs: &[f32]) -> Acc16 {
    kernel_8x32(
        kc,
        |p| *wt[p * ld..].first_chunk::<8>().expect("8 columns of wt"),
        xs,
    )
}

/// The loop shared by both layouts. For each k step p, with w_p = the 8 weights `w_at(p)`:
/// acc[r][h] += w_p[r] · x[16h .. 16h + 16][p], one broadcast times the two registers of x.
/// `xs`: a packed sliver of 32 rows of x, `[kc, 32]` (the 32 tokens of one k step adjacent).
#[inline(always)]
fn kernel_8x32(kc: usize, w_at: impl Fn(usize) -> [f32; 8], xs: &[f32]) -> Acc16 {
    let xs = &xs.as_chunks::<32>().0[..kc]; // xs[p] = x[0..32][p]
                                            // SAFETY (whole block): AVX-512F is enabled for this file (its `mod` line is behind the
                                            // cfg); only register operations, memory is read through `load16` and the checked `w_at`.
    unsafe {
        // sixteen named accumulators (c<r><half>), so the compiler keeps every one in a register
        let z = _mm512_setzero_ps();
        let (mut c00, mut c01, mut c10, mut c11, mut c20, mut c21) = (z, z, z, z, z, z);
        let (mut c30, mut c31, mut c40, mut c41, mut c50, mut c51) = (z, z, z, z, z, z);
        let (mut c60, mut c61, mut c70, mut c71) = (z, z, z, z);
        for p in 0..kc {
            let (x0, x1) = (load16::<0>(&xs[p]), load16::<16>(&xs[p]));
            let w = w_at(p);
            let b = _mm512_set1_ps(w[0]);
            (c00, c01) = (_mm512_fmadd_ps(b, x0, c00), _mm512_fmadd_ps(b, x1, c01));
            let b = _mm512_set1_ps(w[1]);
            (c10, c11) = (_mm512_fmadd_ps(b, x0, c10), _mm512_fmadd_ps(b, x1, c11));
            let b = _mm512_set1_ps(w[2]);
            (c20, c21) = (_mm512_fmadd_ps(b, x0, c20), _mm512_fmadd_ps(b, x1, c21));
            let b = _mm512_set1_ps(w[3]);
            (c30, c31) = (_mm512_fmadd_ps(b, x0, c30), _mm512_fmadd_ps(b, x1, c31));
            let b = _mm512_set1_ps(w[4]);
            (c40, c41) = (_mm512_fmadd_ps(b, x0, c40), _mm512_fmadd_ps(b, x1, c41));
            let b = _mm512_set1_ps(w[5]);
            (c50, c51) = (_mm512_fmadd_ps(b, x0, c50), _mm512_fmadd_ps(b, x1, c51));
            let b = _mm512_set1_ps(w[6]);
            (c60, c61) = (_mm512_fmadd_ps(b, x0, c60), _mm512_fmadd_ps(b, x1, c61));
            let b = _mm512_set1_ps(w[7]);
            (c70, c71) = (_mm512_fmadd_ps(b, x0, c70), _mm512_fmadd_ps(b, x1, c71));
        }
        [
            [c00, c01],
            [c10, c11],
            [c20, c21],
            [c30, c31],
            [c40, c41],
            [c50, c51],
            [c60, c61],
            [c70, c71],
        ]
    }
}
// ANCHOR_END: tile16

/// Floats `OFF..OFF + 16` of one packed k step.
#[inline(always)]
fn load16<const OFF: usize>(xp: &[f32; 32]) -> __m512 {
    const { assert!(OFF <= 16) };
    // SAFETY: OFF + 16 ≤ 32 floats of `xp` (checked at compile time); loadu needs no alignment;
    // AVX-512F is enabled for this file (its `mod` line in mod.rs is behind the cfg).
    unsafe { _mm512_loadu_ps(xp.as_ptr().add(OFF)) }
}

/// Put a finished tile into the output: acc[r] lane l of half h is out[i + 16h + l][j + r]. The
/// first k-block stores (`first`), later ones add. Each group of 8 tokens is turned around with
/// one 8 × 8 transpose (8 rows of w = 8 columns of out, no padding), so a token's 8 sums land
/// with one 8-wide load-add-store; at the right edge of the output, one float at a time.
fn put_8x32(acc: &Acc16, out: &mut [&mut [f32]], i: usize, j: usize, first: bool) {
    for q in 0..4 {
        // tokens 8q .. 8q + 8: the low or high half of register q / 2 of every row
        let rows: [__m256; 8] = std::array::from_fn(|r| half(acc[r][q / 2], q % 2 == 1));
        let tokens = transpose8(rows); // tokens[l] = out[i + 8q + l][j .. j + 8]
        for (row, t) in out.iter_mut().skip(i + 8 * q).zip(tokens) {
            let row = &mut row[j..];
            if let Some(dst) = row.first_chunk_mut::<8>() {
                // SAFETY: AVX (implied by AVX-512F) is enabled; registers only
                let v = if first {
                    t
                } else {
                    unsafe { _mm256_add_ps(load8(dst), t) }
                };
                store8(dst, v);
            } else {
                let mut a = [0.0f32; 8];
                store8(&mut a, t);
                for (o, v) in row.iter_mut().zip(a) {
                    *o = if first { v } else { *o + v };
                }
            }
        }
    }
}

/// The low (`upper = false`) or high 8 lanes of a 16-lane register.
#[inline(always)]
fn half(v: __m512, upper: bool) -> __m256 {
    // SAFETY: AVX-512F is enabled for this file; registers only
    unsafe {
        if upper {
            _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)))
        } else {
            _mm512_castps512_ps256(v)
        }
    }
}

/// 8 × 8 transpose: out[c] lane r = rows[r] lane c. Three rounds of shuffles: interleave pairs
/// of rows, then pairs of pairs (within each 128-bit half), then swap the 128-bit halves.
#[inline(always)]
fn transpose8(r: [__m256; 8]) -> [__m256; 8] {
    // SAFETY: AVX is enabled (implied by AVX-512F); registers only
    unsafe {
        let t0 = _mm256_unpacklo_ps(r[0], r[1]); // a0 b0 a1 b1 | a4 b4 a5 b5
        let t1 = _mm256_unpackhi_ps(r[0], r[1]); // a2 b2 a3 b3 | a6 b6 a7 b7
        let t2 = _mm256_unpacklo_ps(r[2], r[3]);
        let t3 = _mm256_unpackhi_ps(r[2], r[3]);
        let t4 = _mm256_unpacklo_ps(r[4], r[5]);
        let t5 = _mm256_unpackhi_ps(r[4], r[5]);
        let t6 = _mm256_unpacklo_ps(r[6], r[7]);
        let t7 = _mm256_unpackhi_ps(r[6], r[7]);
        const LO: i32 = 0b01_00_01_00; // (x0, x1, y0, y1) of each 128-bit half
        const HI: i32 = 0b11_10_11_10; // (x2, x3, y2, y3)
        let s0 = _mm256_shuffle_ps::<LO>(t0, t2); // a0 b0 c0 d0 | a4 b4 c4 d4
        let s1 = _mm256_shuffle_ps::<HI>(t0, t2); // a1 b1 c1 d1 | a5 b5 c5 d5
        let s2 = _mm256_shuffle_ps::<LO>(t1, t3); // a2 .. | a6 ..
        let s3 = _mm256_shuffle_ps::<HI>(t1, t3); // a3 .. | a7 ..
        let s4 = _mm256_shuffle_ps::<LO>(t4, t6); // e0 f0 g0 h0 | e4 f4 g4 h4
        let s5 = _mm256_shuffle_ps::<HI>(t4, t6);
        let s6 = _mm256_shuffle_ps::<LO>(t5, t7);
        let s7 = _mm256_shuffle_ps::<HI>(t5, t7);
        // 0x20: the low halves of both (column c), 0x31: the high halves (column c + 4)
        [
            _mm256_permute2f128_ps::<0x20>(s0, s4),
            _mm256_permute2f128_ps::<0x20>(s1, s5),
            _mm256_permute2f128_ps::<0x20>(s2, s6),
            _mm256_permute2f128_ps::<0x20>(s3, s7),
            _mm256_permute2f128_ps::<0x31>(s0, s4),
            _mm256_permute2f128_ps::<0x31>(s1, s5),
            _mm256_permute2f128_ps::<0x31>(s2, s6),
            _mm256_permute2f128_ps::<0x31>(s3, s7),
        ]
    }
}

#[inline(always)]
fn load8(a: &[f32; 8]) -> __m256 {
    // SAFETY: 8 readable floats; loadu needs no alignment; AVX is implied by AVX-512F.
    unsafe { _mm256_loadu_ps(a.as_ptr()) }
}

#[inline(always)]
fn store8(a: &mut [f32; 8], v: __m256) {
    // SAFETY: 8 writable floats, borrowed mutably; storeu needs no alignment.
    unsafe { _mm256_storeu_ps(a.as_mut_ptr(), v) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The transpose by hand: rows[r] = [8r, 8r + 1, ..., 8r + 7] → out[c] lane r = 8r + c.
    #[test]
    fn transpose8_by_hand() {
        let rows: [__m256; 8] = std::array::from_fn(|r| {
            let a: [f32; 8] = std::array::from_fn(|c| (8 * r + c) as f32);
            load8(&a)
        });
        for (c, col) in transpose8(rows).into_iter().enumerate() {
            let mut a = [0.0f32; 8];
            store8(&mut a, col);
            let want: [f32; 8] = std::array::from_fn(|r| (8 * r + c) as f32);
            assert_eq!(a, want, "column {c}");
        }
    }
}
