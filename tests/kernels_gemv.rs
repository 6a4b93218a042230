//! The decode GEMV kernels (`quant::gemv`): many rows per call must give, row by row, exactly
//! what `dot_row` gives (the same operations in the same order: bit for bit), and stay within
//! the stated tolerance of the scalar reference `dot_row_naive`, for every stored type, on
//! odd row counts, one row, rows that are not a multiple of any unroll, and extreme scales.

use glassbox::quant::gemv::{dot_rows, dot_rows_f32x8};
use glassbox::quant::{dot_row, dot_row_naive, quantize_row, DType};
use half::f16;
use proptest::prelude::*;

const ALL: [DType; 6] = [
    DType::F32,
    DType::F16,
    DType::BF16,
    DType::Q8_0,
    DType::Q4_0,
    DType::Q4_1,
];

/// |fast − naive| allowed, relative to Σ|x_i·w_i| (tests/kernels_quant.rs states the same
/// bound for `dot_row`): both decode the same numbers (the fast kernels fuse d·q + m where the
/// reference rounds twice) and add them in a different order.
const DOT_REL_TOL: f32 = 2e-5;

fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    }
}

fn rand_vec(seed: u64, len: usize, scale: f32) -> Vec<f32> {
    let mut next = xorshift(seed);
    (0..len)
        .map(|_| ((next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0) * scale)
        .collect()
}

/// `rows` rows of `cols` elements quantized from random values of magnitude `scale`.
fn quantized_rows(dtype: DType, rows: usize, cols: usize, seed: u64, scale: f32) -> Vec<u8> {
    (0..rows)
        .flat_map(|r| quantize_row(dtype, &rand_vec(seed ^ (r as u64 + 1) << 20, cols, scale)))
        .collect()
}

/// Raw blocks: random bytes everywhere (every nibble and int8 value), with the f16 scales
/// (and Q4_1's minimum) set to random *finite* f16 values of any magnitude, subnormals included.
fn raw_rows(dtype: DType, rows: usize, cols: usize, seed: u64) -> Vec<u8> {
    let mut next = xorshift(seed);
    let n = rows * dtype.row_bytes(cols).unwrap();
    let mut b: Vec<u8> = (0..n).map(|_| next() as u8).collect();
    let finite_f16 = |v: u64| {
        let h = f16::from_bits(v as u16);
        if h.is_finite() {
            h
        } else {
            f16::from_bits(v as u16 & 0xBBFF)
        }
        .to_le_bytes()
    };
    let scales = match dtype {
        DType::Q8_0 | DType::Q4_0 => 1,
        DType::Q4_1 => 2,
        _ => 0,
    };
    for blk in b.chunks_exact_mut(dtype.bytes_per_block()) {
        for s in 0..scales {
            blk[2 * s..2 * s + 2].copy_from_slice(&finite_f16(next()));
        }
        if dtype == DType::F16 {
            blk.copy_from_slice(&finite_f16(next()));
        }
    }
    if matches!(dtype, DType::F32 | DType::BF16) {
        return quantized_rows(dtype, rows, cols, seed, 1e3);
    }
    b
}

fn cols_for(dtype: DType, c: usize) -> usize {
    match dtype.is_quantized() {
        true => c.div_ceil(32).max(1) * 32,
        false => c.max(1),
    }
}

fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Every row of both kernels equals the release's decode kernel bit for bit (`dot_row`; for
/// F32 the f32 GEMV `matmul::matvec_simd`, which is what decode has always used for f32
/// weights); returns the fast results.
fn check_rows_against_dot_row(dtype: DType, w: &[u8], x: &[f32], rows: usize) -> Vec<f32> {
    let rb = dtype.row_bytes(x.len()).unwrap();
    let (mut fast, mut f32x8) = (vec![f32::NAN; rows], vec![f32::NAN; rows]);
    dot_rows(dtype, w, x, &mut fast);
    dot_rows_f32x8(dtype, w, x, &mut f32x8);
    let mut release = vec![0.0; rows];
    if dtype == DType::F32 {
        let wf: Vec<f32> = w
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        glassbox::matmul::matvec_simd(&wf, x, &mut release, rows, x.len());
    }
    for r in 0..rows {
        let want = match dtype {
            DType::F32 => release[r],
            _ => dot_row(dtype, &w[r * rb..(r + 1) * rb], x),
        };
        assert!(
            same(fast[r], want),
            "{dtype} row {r} of {rows}, {} cols: dot_rows {} vs dot_row {want}",
            x.len(),
            fast[r]
        );
        assert!(
            same(f32x8[r], want),
            "{dtype} row {r} of {rows}, {} cols: dot_rows_f32x8 {} vs dot_row {want}",
            x.len(),
            f32x8[r]
        );
    }
    fast
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn quantized_rows_equal_dot_row_and_the_reference(
        t in 0usize..6, rows in 1usize..24, c in 1usize..300,
        seed in any::<u64>(), scale_exp in -12i32..12,
    ) {
        let dtype = ALL[t];
        let cols = cols_for(dtype, c);
        let scale = 2f32.powi(scale_exp);
        let w = quantized_rows(dtype, rows, cols, seed, scale);
        let x = rand_vec(seed ^ 0xABCD, cols, 1.0 / scale.sqrt());
        let fast = check_rows_against_dot_row(dtype, &w, &x, rows);
        let rb = dtype.row_bytes(cols).unwrap();
        for (r, &f) in fast.iter().enumerate() {
            let row = &w[r * rb..(r + 1) * rb];
            let mut wf = vec![0.0; cols];
            glassbox::quant::dequantize_row(dtype, row, &mut wf);
            let mag: f32 = wf.iter().zip(&x).map(|(a, b)| (a * b).abs()).sum();
            let naive = dot_row_naive(dtype, row, &x);
            prop_assert!((f - naive).abs() <= DOT_REL_TOL * mag + 1e-30,
                "{} row {}: fast {} naive {} (Σ|w·x| = {})", dtype, r, f, naive, mag);
        }
    }

    #[test]
    fn raw_blocks_with_extreme_scales_equal_dot_row(
        t in 0usize..6, rows in 1usize..12, c in 1usize..200, seed in any::<u64>(),
    ) {
        let dtype = ALL[t];
        let cols = cols_for(dtype, c);
        let w = raw_rows(dtype, rows, cols, seed);
        let x = rand_vec(seed ^ 0x5555, cols, 4.0);
        check_rows_against_dot_row(dtype, &w, &x, rows);
    }
}

/// SmolLM2's own shapes, with a row count that leaves a remainder for every unroll.
#[test]
fn model_shapes_equal_dot_row() {
    for dtype in ALL {
        for (rows, cols) in [(193, 576), (37, 1536), (1, 576)] {
            let w = quantized_rows(dtype, rows, cols, rows as u64, 0.1);
            let x = rand_vec(cols as u64, cols, 3.0);
            check_rows_against_dot_row(dtype, &w, &x, rows);
        }
    }
}

/// Issue 14's types (Q5_0, Q5_1, the K-quants) go through `dot_rows` with their own row
/// kernel: row for row what `dot_row` gives (SmolLM2's 576 and 1536 columns: whole K-quant
/// super-blocks of 256 only for 1536, so 576 checks the Q5 types alone).
#[test]
fn other_types_equal_dot_row() {
    use DType::*;
    for dtype in [Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K] {
        for (rows, cols) in [(37, 1536), (1, 576)] {
            if dtype.row_bytes(cols).is_none() {
                continue;
            }
            let w = quantized_rows(dtype, rows, cols, rows as u64, 0.1);
            let x = rand_vec(cols as u64, cols, 3.0);
            check_rows_against_dot_row(dtype, &w, &x, rows);
        }
    }
}

/// The F32 GEMV (`float::f32_rows`: 16 lanes on AVX-512, `matvec_simd` otherwise) on every
/// branch of its loops: 1–9 rows (0–3 left after the four quarters), columns below, at and
/// past 8 and 16 (the masked last 8, the scalar last 0–7), and SmolLM2's 576 and 1536 (36
/// and 96 whole blocks of 16). Bit for bit against `matvec_simd` (`check_rows_against_dot_row`),
/// within DOT_REL_TOL of the plain scalar sum.
#[test]
fn f32_every_tail_equals_matvec_simd_and_the_reference() {
    for rows in 1..=9 {
        for cols in [
            1, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33, 40, 47, 576, 1536,
        ] {
            let seed = (rows * 1000 + cols) as u64;
            let w = quantized_rows(DType::F32, rows, cols, seed, 10.0);
            let x = rand_vec(seed ^ 0x1234, cols, 2.0);
            let fast = check_rows_against_dot_row(DType::F32, &w, &x, rows);
            for (r, row) in w.chunks_exact(4 * cols).enumerate() {
                let wf: Vec<f32> = row
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                    .collect();
                let naive: f32 = wf.iter().zip(&x).map(|(a, b)| a * b).sum();
                let mag: f32 = wf.iter().zip(&x).map(|(a, b)| (a * b).abs()).sum();
                assert!(
                    (fast[r] - naive).abs() <= DOT_REL_TOL * mag + 1e-30,
                    "F32 {rows}×{cols} row {r}: fast {} naive {naive} (Σ|w·x| = {mag})",
                    fast[r]
                );
            }
        }
    }
}

#[test]
fn zero_rows_and_zero_columns() {
    let mut out: Vec<f32> = vec![];
    dot_rows(DType::Q4_1, &[], &[0.0; 32], &mut out);
    let mut out = vec![f32::NAN; 3];
    dot_rows(DType::F16, &[], &[], &mut out);
    assert_eq!(out, [0.0; 3]);
}

#[test]
#[should_panic(expected = "are not 2 Q8_0 rows of 32 elements")]
fn wrong_sizes_are_a_clear_panic() {
    dot_rows(DType::Q8_0, &[0; 34], &[0.0; 32], &mut [0.0; 2]);
}

/// The K/Q5 types with a 16-lane kernel (Q5_0, Q5_1, Q4_K, Q6_K): gemma-3-270m's layer
/// matrices. Random bytes everywhere except the f16 scale fields (set to random finite values,
/// subnormals included), so every nibble, every fifth bit and every 6-bit scale/min occurs.
fn table_type_raw_rows(dtype: DType, rows: usize, cols: usize, seed: u64) -> Vec<u8> {
    let mut next = xorshift(seed);
    let n = rows * dtype.row_bytes(cols).unwrap();
    let mut b: Vec<u8> = (0..n).map(|_| next() as u8).collect();
    let f16_fields = match dtype {
        DType::Q5_0 => 1,
        _ => 2, // Q5_1: d, m; Q4_K: d, dmin
    };
    for blk in b.chunks_exact_mut(dtype.bytes_per_block()) {
        for s in 0..f16_fields {
            let h = f16::from_bits(next() as u16);
            let h = if h.is_finite() {
                h
            } else {
                f16::from_bits(h.to_bits() & 0xBBFF)
            };
            blk[2 * s..2 * s + 2].copy_from_slice(&h.to_le_bytes());
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Both widths equal `dot_row` bit for bit on raw blocks, any row count (1 and odd ones
    /// included), and on quantized rows stay within DOT_REL_TOL·Σ|x|·max|w| of the scalar
    /// reference (`dot_row_naive`: dequantize, then a plain sum; the bound of
    /// tests/kernels_quant.rs, scaled by the largest weight because Q4_K's `(d·sc)·q − dmin·m`
    /// may cancel, making Σ|w·x| smaller than the rounding of its terms).
    #[test]
    fn table_kernels_equal_dot_row_and_the_reference(
        t in 0usize..4, rows in 1usize..16, c in 1usize..1100, seed in any::<u64>(),
        scale_exp in -10i32..10,
    ) {
        let dtype = [DType::Q5_0, DType::Q5_1, DType::Q4_K, DType::Q6_K][t];
        let cols = match dtype {
            DType::Q4_K | DType::Q6_K => c.div_ceil(256) * 256,
            _ => c.div_ceil(32) * 32,
        };
        let x = rand_vec(seed ^ 0x7777, cols, 4.0);
        check_rows_against_dot_row(dtype, &table_type_raw_rows(dtype, rows, cols, seed), &x, rows);
        let w = quantized_rows(dtype, rows, cols, seed, 2f32.powi(scale_exp));
        let fast = check_rows_against_dot_row(dtype, &w, &x, rows);
        let rb = dtype.row_bytes(cols).unwrap();
        for (r, &f) in fast.iter().enumerate() {
            let row = &w[r * rb..(r + 1) * rb];
            let mut wf = vec![0.0; cols];
            glassbox::quant::dequantize_row(dtype, row, &mut wf);
            let wmax = wf.iter().fold(0.0f32, |a, v| a.max(v.abs()));
            let xsum: f32 = x.iter().map(|v| v.abs()).sum();
            let naive = dot_row_naive(dtype, row, &x);
            prop_assert!((f - naive).abs() <= DOT_REL_TOL * xsum * wmax + 1e-30,
                "{} row {}: fast {} naive {}", dtype, r, f, naive);
        }
    }
}
