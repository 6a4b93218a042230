//! Every stored type's row kernels on hostile bytes and floats (`src/quant/`: F32 … Q6_K, the
//! K-quants and Q5 types included). A row of 1–4 blocks is taken from the input as stored
//! bytes (any scale: f16 NaN/∞, any packed sub-block scale) and as floats (biased to NaN, ±∞,
//! subnormals, f32::MAX):
//!
//! ```text
//! bytes ──dequantize_row──▶ w        (never panics, any bytes)
//!       ──dot_row (SIMD)──▶ ≈ Σ w·x  the naive dot, when both are finite:
//!                                    |fast − naive| ≤ 1e-4 · Σ|w·x| + 1e-30
//! floats ──quantize_row (search and max-abs)──▶ bytes of the right length; for finite input
//!          of magnitude ≤ 1e4, the decoded row is finite and within 2·max|x| + 1e-3 of zero
//! ```
//!
//! The tolerance: both sums are f32 over ≤ 1024 products in different orders; reordering
//! changes a sum by at most n·ε·Σ|wᵢxᵢ| ≈ 1024 · 6e-8 ≈ 6e-5 of it.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use glassbox::quant::{
    dequantize_row, dot_row, dot_row_naive, quantize_row_with, DType, ScaleRule,
};
use glassbox_fuzz::fields::Float;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    dtype: u8,
    blocks: u8,
    floats: Vec<Float>,
    max_abs: bool,
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(input) = Input::arbitrary(&mut u) else {
        return;
    };
    let dtype = DType::ALL[input.dtype as usize % DType::ALL.len()];
    let cols = dtype.block_size() * (1 + input.blocks as usize % 4);
    let n_bytes = dtype.row_bytes(cols).expect("whole blocks");
    // the stored row: the rest of the input, repeated to fill it
    let rest = u.take_rest();
    let row: Vec<u8> = if rest.is_empty() {
        vec![0; n_bytes]
    } else {
        rest.iter().copied().cycle().take(n_bytes).collect()
    };
    let x: Vec<f32> = (0..cols)
        .map(|i| {
            input
                .floats
                .get(i % input.floats.len().max(1))
                .map_or(1.0, |f| f.get())
        })
        .collect();

    let mut w = vec![0.0f32; cols];
    dequantize_row(dtype, &row, &mut w);
    let fast = dot_row(dtype, &row, &x);
    let naive = dot_row_naive(dtype, &row, &x);
    let scale: f32 = w.iter().zip(&x).map(|(a, b)| (a * b).abs()).sum();
    if fast.is_finite() && naive.is_finite() && scale.is_finite() {
        assert!(
            (fast - naive).abs() <= 1e-4 * scale + 1e-30,
            "{dtype:?}: dot_row {fast} ≠ naive {naive} (Σ|w·x| = {scale})"
        );
    }

    let rule = if input.max_abs {
        ScaleRule::MaxAbs
    } else {
        ScaleRule::Search
    };
    let q = quantize_row_with(dtype, &x, rule);
    assert_eq!(q.len(), n_bytes, "{dtype:?}: quantized row length");
    let mut back = vec![0.0f32; cols];
    dequantize_row(dtype, &q, &mut back);
    let max = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if x.iter().all(|v| v.is_finite()) && max <= 1e4 {
        for (i, b) in back.iter().enumerate() {
            assert!(
                b.is_finite() && b.abs() <= 2.0 * max + 1e-3,
                "{dtype:?} {rule:?}: element {i} of {x:?} decodes to {b}"
            );
        }
    }
});
