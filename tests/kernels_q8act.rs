//! The opt-in 8-bit-activation kernels (`quant::q8act`): the quantized x stays within half a
//! step of x, the SIMD integer kernels equal the scalar integer reference (up to the order of
//! the f32 scaling), and the result is within the bound that rounding x to 8 bits allows of
//! the f32 dot product, for Q4_0, Q4_1 and Q8_0 rows of any count and scale.

use glassbox::quant::q8act::{dot_row_q8_naive, dot_rows_q8, Q8Act};

/// A kernel: `out[i] = row_i · x`.
type Kernel = fn(DType, &[u8], &Q8Act, &mut [f32]);

/// Both SIMD widths this machine can run: the widest (`dot_rows_q8`) and AVX2.
fn kernels() -> Vec<(&'static str, Kernel)> {
    let mut k: Vec<(&'static str, Kernel)> = vec![("dot_rows_q8", dot_rows_q8)];
    #[cfg(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma"
    ))]
    k.push(("dot_rows_q8_avx2", glassbox::quant::q8act::dot_rows_q8_avx2));
    k
}
use glassbox::quant::{dequantize_row, quantize_row, DType};
use proptest::prelude::*;

const INT_TYPES: [DType; 3] = [DType::Q4_0, DType::Q4_1, DType::Q8_0];

/// |SIMD − scalar| relative to Σ|w_i · x̂_i| (x̂ = the dequantized 8-bit x): the integer sums
/// are exact in both; only the f32 scaling by d_w·d_x is summed in a different order (per lane
/// of 4 products instead of per block), a few ε per block.
const SIMD_REL_TOL: f32 = 1e-5;

fn rand_vec(seed: u64, len: usize, scale: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 23) as f32 - 1.0) * scale
        })
        .collect()
}

fn dequant(xq: &Q8Act) -> Vec<f32> {
    (0..xq.len())
        .map(|i| xq.d[i / 32] * xq.q[i] as f32)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn quantized_x_is_within_half_a_step(blocks in 1usize..20, seed in any::<u64>(), e in -20i32..20) {
        let x = rand_vec(seed, blocks * 32, 2f32.powi(e));
        let mut xq = Q8Act::default();
        xq.quantize(&x);
        for (i, (&v, &q)) in x.iter().zip(&xq.q).enumerate() {
            let d = xq.d[i / 32];
            prop_assert!((v - d * q as f32).abs() <= d * 0.5 * (1.0 + 1e-6), "x[{}] = {} vs {}·{}", i, v, d, q);
        }
        for b in 0..blocks {
            let sum: i32 = xq.q[b * 32..(b + 1) * 32].iter().map(|&q| q as i32).sum();
            prop_assert_eq!(xq.s[b], xq.d[b] * sum as f32);
        }
    }

    #[test]
    fn int_kernels_match_the_reference_and_the_f32_product(
        t in 0usize..3, rows in 1usize..20, blocks in 1usize..24,
        seed in any::<u64>(), we in -8i32..8, xe in -8i32..8,
    ) {
        let dtype = INT_TYPES[t];
        let cols = blocks * 32;
        let w: Vec<u8> = (0..rows)
            .flat_map(|r| quantize_row(dtype, &rand_vec(seed ^ (r as u64) << 16, cols, 2f32.powi(we))))
            .collect();
        let x = rand_vec(seed ^ 0x77, cols, 2f32.powi(xe));
        let mut xq = Q8Act::default();
        xq.quantize(&x);
        let xhat = dequant(&xq);
        let rb = dtype.row_bytes(cols).unwrap();
        for (name, kernel) in kernels() {
        let mut fast = vec![f32::NAN; rows];
        kernel(dtype, &w, &xq, &mut fast);
        for (r, &f) in fast.iter().enumerate() {
            let row = &w[r * rb..(r + 1) * rb];
            let naive = dot_row_q8_naive(dtype, row, &xq);
            let mut wf = vec![0.0; cols];
            dequantize_row(dtype, row, &mut wf);
            let mag: f32 = wf.iter().zip(&xhat).map(|(a, b)| (a * b).abs()).sum();
            prop_assert!((f - naive).abs() <= SIMD_REL_TOL * mag + 1e-30,
                "{} {} row {}: SIMD {} vs scalar {} (Σ|w·x̂| {})", name, dtype, r, f, naive, mag);
            // against the f32 product: x moved by at most d_x/2 per element
            let exact: f64 = wf.iter().zip(&x).map(|(&a, &b)| a as f64 * b as f64).sum();
            let bound: f32 = wf.iter().enumerate().map(|(i, a)| a.abs() * xq.d[i / 32] * 0.5).sum();
            prop_assert!((f as f64 - exact).abs() <= (bound + SIMD_REL_TOL * mag) as f64 * 1.001 + 1e-30,
                "{} row {}: q8 {} vs f32 {} (bound {})", dtype, r, f, exact, bound);
        }
        }
    }
}

#[test]
fn every_nibble_and_int8_value() {
    // w rows that use every stored value, x with every 8-bit value: integer sums are exact
    let cols = 256;
    let x: Vec<f32> = (0..cols).map(|i| (i as f32 - 127.5) / 10.0).collect();
    let mut xq = Q8Act::default();
    xq.quantize(&x);
    for dtype in INT_TYPES {
        let bpb = dtype.bytes_per_block();
        let mut row = vec![0u8; cols / 32 * bpb];
        for (b, blk) in row.chunks_exact_mut(bpb).enumerate() {
            blk[..2].copy_from_slice(&half::f16::from_f32(0.25).to_le_bytes());
            if dtype == DType::Q4_1 {
                blk[2..4].copy_from_slice(&half::f16::from_f32(-1.5).to_le_bytes());
            }
            let qoff = if dtype == DType::Q4_1 { 4 } else { 2 };
            for (j, q) in blk[qoff..].iter_mut().enumerate() {
                *q = (b * 37 + j * 17) as u8; // every nibble / byte value across the row
            }
        }
        let mut out = [0.0f32];
        dot_rows_q8(dtype, &row, &xq, &mut out);
        let want = dot_row_q8_naive(dtype, &row, &xq);
        assert!(
            (out[0] - want).abs() <= 1e-5 * want.abs().max(1.0),
            "{dtype}: {} vs {want}",
            out[0]
        );
    }
}
