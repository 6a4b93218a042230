//! # Stage 3 · 8-bit activations (opt-in): integer dot products, as llama.cpp computes them
//!
//! The default decode multiplies the stored weights by the activation vector `x` in f32. With
//! `--activations q8`, `x` is first quantized to blocks of 32 like a Q8 weight row, and every
//! block dot product becomes a sum of int8 × int8 (or u8 × i8) products, exactly what ggml's
//! `vec_dot_q4_1_q8_1` / `vec_dot_q8_0_q8_0` do:
//!
//! ```text
//! x block  → d_x = max|x| / 127,  q_x = round(x / d_x) ∈ −127..127,  s_x = d_x · Σ q_x
//! Q4_1 · x = Σ_b  d_w d_x · Σ_i q_w[i] q_x[i]   +   m_w · s_x         (w = d_w q_w + m_w)
//! Q4_0 · x = Σ_b  d_w d_x · Σ_i (q_w[i] − 8) q_x[i]
//! Q8_0 · x = Σ_b  d_w d_x · Σ_i q_w[i] q_x[i]
//! ```
//!
//! The integer sums are exact; the price is the rounding of `x` to 8 bits (a relative error up
//! to 1/254 of the block's largest |x|), which moves the logits. The speed comes from doing 32
//! multiply-adds with two instructions (AVX2 `vpmaddubsw` u8×i8 → i16 pairs, `vpmaddwd` → i32)
//! instead of converting every weight to f32. It is never the default: book chapter on decode,
//! `benches/README.md`, for the measured speed and logit difference.
//!
//! F32/F16/BF16 weights have no integer kernel: they keep the f32 path.
//! Reference: ggml `ggml-quants.c` (`quantize_row_q8_1_ref`) and the x86 `ggml_vec_dot_*`.

mod kernels;

use super::DType;

/// How a decode step multiplies weights by the activation vector.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Activations {
    /// f32 activations (the default): the logits of the f32 reference.
    #[default]
    F32,
    /// x quantized to 8-bit blocks, integer dot products for Q4_0/Q4_1/Q8_0 weights (faster,
    /// moves the logits: see the decode chapter).
    Q8,
}

/// Elements per block (the same as the weights' blocks).
pub(super) const QK: usize = 32;

/// An activation vector quantized to blocks of 32: `x[i] ≈ d[b] · q[i]` for i in block b.
#[derive(Clone, Debug, Default)]
pub struct Q8Act {
    /// Per block: the scale `d_x`.
    pub d: Vec<f32>,
    /// Per block: `s_x = d_x · Σ q_x` (for Q4_1's `m_w · Σ x` term).
    pub s: Vec<f32>,
    /// The quantized values, `[blocks × 32]`.
    pub q: Vec<i8>,
}

impl Q8Act {
    /// Elements held.
    pub fn len(&self) -> usize {
        self.q.len()
    }

    pub fn is_empty(&self) -> bool {
        self.q.is_empty()
    }

    /// Quantize `x` (a whole number of blocks of 32) into `self`, reusing its buffers.
    /// Panics if `x.len()` is not a multiple of 32 (the caller checks that the model's widths are).
    pub fn quantize(&mut self, x: &[f32]) {
        assert!(
            x.len().is_multiple_of(QK),
            "8-bit activations need a multiple of 32 elements, got {}",
            x.len()
        );
        let nb = x.len() / QK;
        self.d.resize(nb, 0.0);
        self.s.resize(nb, 0.0);
        self.q.resize(x.len(), 0);
        for (b, (xb, qb)) in x
            .chunks_exact(QK)
            .zip(self.q.chunks_exact_mut(QK))
            .enumerate()
        {
            let amax = xb.iter().fold(0.0f32, |a, v| a.max(v.abs()));
            let d = amax / 127.0;
            let id = if d > 0.0 { 1.0 / d } else { 0.0 };
            let mut sum = 0i32;
            for (q, &v) in qb.iter_mut().zip(xb) {
                *q = (v * id).round() as i8; // |v·id| ≤ 127: no clipping
                sum += *q as i32;
            }
            self.d[b] = d;
            self.s[b] = d * sum as f32;
        }
    }
}

/// True for the stored types that have an integer kernel.
pub fn has_int_kernel(dtype: DType) -> bool {
    matches!(dtype, DType::Q4_0 | DType::Q4_1 | DType::Q8_0)
}

// ANCHOR: naive
/// One row times the quantized `x`, scalar: the reference for the SIMD kernels (the same
/// integer sums, the same per-block scaling order). Panics for types without an int kernel.
pub fn dot_row_q8_naive(dtype: DType, row: &[u8], x: &Q8Act) -> f32 {
    let bpb = dtype.bytes_per_block();
    assert_eq!(
        row.len(),
        x.len() / QK * bpb,
        "{dtype} row does not match x"
    );
    let f16 = |b: &[u8]| half::f16::from_le_bytes([b[0], b[1]]).to_f32();
    let mut sum = 0.0f32;
    let mut msum = 0.0f32;
    for (b, blk) in row.chunks_exact(bpb).enumerate() {
        let qx = &x.q[b * QK..(b + 1) * QK];
        let (dw, dot, m) = match dtype {
            DType::Q8_0 => {
                let dot = (0..QK)
                    .map(|i| blk[2 + i] as i8 as i32 * qx[i] as i32)
                    .sum();
                (f16(blk), dot, 0.0)
            }
            DType::Q4_0 | DType::Q4_1 => {
                let (qs, off, m) = match dtype {
                    DType::Q4_0 => (&blk[2..18], 8, 0.0),
                    _ => (&blk[4..20], 0, f16(&blk[2..])),
                };
                let dot: i32 = (0..16)
                    .map(|j| {
                        let (lo, hi) = ((qs[j] & 0x0F) as i32 - off, (qs[j] >> 4) as i32 - off);
                        lo * qx[j] as i32 + hi * qx[j + 16] as i32
                    })
                    .sum();
                (f16(blk), dot, m)
            }
            _ => panic!("{dtype} has no 8-bit-activation kernel"),
        };
        sum += dw * x.d[b] * dot as f32; // d_w d_x · Σ q_w q_x
        msum += m * x.s[b]; // m_w · s_x (Q4_1)
    }
    sum + msum
}
// ANCHOR_END: naive

/// `out[i] = row_i · x` over consecutive stored rows in `w` with the integer kernels. Panics if
/// `dtype` has no int kernel ([`has_int_kernel`]) or the sizes disagree.
pub fn dot_rows_q8(dtype: DType, w: &[u8], x: &Q8Act, out: &mut [f32]) {
    each_row(dtype, w, x, out, row_kernel);
}

/// `out[i] = kernel(row i)`, after checking the type and the sizes.
#[inline(always)]
fn each_row(
    dtype: DType,
    w: &[u8],
    x: &Q8Act,
    out: &mut [f32],
    kernel: impl Fn(DType, &[u8], &Q8Act) -> f32,
) {
    assert!(
        has_int_kernel(dtype),
        "{dtype} has no 8-bit-activation kernel"
    );
    let rb = x.len() / QK * dtype.bytes_per_block();
    assert_eq!(
        w.len(),
        out.len() * rb,
        "dot_rows_q8: {dtype} rows do not match x"
    );
    if rb == 0 {
        return out.fill(0.0);
    }
    for (o, row) in out.iter_mut().zip(w.chunks_exact(rb)) {
        *o = kernel(dtype, row, x);
    }
}

/// The widest kernel this build has: AVX-512 VNNI, else AVX2, else the scalar reference.
#[inline(always)]
fn row_kernel(dtype: DType, row: &[u8], x: &Q8Act) -> f32 {
    #[cfg(all(
        target_arch = "x86_64",
        target_feature = "avx512f",
        target_feature = "avx512bw",
        target_feature = "avx512vnni"
    ))]
    return kernels::vnni::row(dtype, row, x);
    #[cfg(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma",
        not(all(
            target_feature = "avx512f",
            target_feature = "avx512bw",
            target_feature = "avx512vnni"
        ))
    ))]
    return kernels::avx2::row(dtype, row, x);
    #[allow(unreachable_code)]
    dot_row_q8_naive(dtype, row, x)
}

/// [`dot_rows_q8`] with the AVX2 kernel (what machines without AVX-512 VNNI run), so that it
/// is tested on every machine that has AVX2.
#[cfg(all(
    target_arch = "x86_64",
    target_feature = "avx2",
    target_feature = "fma"
))]
pub fn dot_rows_q8_avx2(dtype: DType, w: &[u8], x: &Q8Act, out: &mut [f32]) {
    each_row(dtype, w, x, out, kernels::avx2::row);
}
