//! Stage 2 property tests: softmax, RMSNorm, SwiGLU and RoPE over random shapes
//! (sizes 1, sizes that are not multiples of 8, long rows): fast == naive, and the invariants
//! each piece promises. Attention has its own file (stage2_attention.rs).

use glassbox::compare::{assert_close, assert_close_scaled};
use glassbox::rmsnorm::{rms, rmsnorm, rmsnorm_naive, rmsnorm_rows, rmsnorm_rows_naive};
use glassbox::rope::{
    gguf_row_of_hf_row, hf_row_of_gguf_row, hf_to_interleaved_rows, interleaved_to_hf_rows,
    rope_naive, Llama3RopeScaling, RopeLayout, RopeTable,
};
use glassbox::softmax::{softmax_inplace, softmax_naive};
use glassbox::swiglu::{silu, swiglu, swiglu_inplace};
use proptest::prelude::*;

/// Probabilities are <= 1 and the fast path differs from the f64 reference only by f32
/// rounding of exp and of one division: a few ulp of 1.
const SOFTMAX_TOL: f32 = 1e-6;
/// Σ p = 1 up to the f32 running sum inside softmax_inplace: its error grows like √n·ε
/// (≈ 1e-5 at n = 5000), with room to spare.
const SOFTMAX_SUM_TOL: f64 = 1e-4;
/// x + c is rounded in f32 before the softmax (|x + c| <= 110, ulp ≈ 7.6e-6), which moves
/// each probability by up to that relative amount.
const SHIFT_TOL: f32 = 2e-5;
/// RMSNorm in f32 vs f64 accumulation: relative error of a sum of squares over <= 5000
/// terms, times |y|; checked relative to (1 + max|y|).
const RMSNORM_REL_TOL: f32 = 1e-5;
/// Table lookup (cos/sin rounded to f32) vs angles in f64: a few ulp of |x| <= 4.
const ROPE_TOL: f32 = 1e-5;
/// A rotation is exact in real numbers; in f32 each coordinate picks up ~1 ulp.
const NORM_REL_TOL: f32 = 1e-5;
/// ⟨rope(q,m), rope(k,n)⟩ vs the same at (m+s, n+s): the angle m·θ is an f32 product whose
/// rounding grows with m (≈ 3e-5 rad at m = 512), relative to |q|·|k|.
const RELATIVE_POS_TOL: f32 = 1e-4;
/// Same arithmetic in the same order: bit-identical.
const EXACT: f32 = 0.0;
/// The 16-lane SiLU (`wide`'s vector exp) against the f64 formula, relative to |silu(z)|: the
/// vector exp is within ~2 ulp of e^(−z), then one rounding each for the `1 +`, the division
/// and the product with `up`: ≤ 5 ulp ≈ 6e-7 (measured ≈ 1.4e-7). Relative, so it also holds
/// where silu(z) ≈ z·e^z is tiny; below ~1e-30 (z < −66) the comparison floor of
/// `assert_close_scaled` takes over (e^(−z) overflows f32 past z = −88.7: both forms give −0).
const SILU_REL_TOL: f32 = 1e-6;

/// A length: mostly short (incl. 1 and non-multiples of 8), sometimes a long row.
fn len() -> impl Strategy<Value = usize> {
    prop_oneof![4 => 1usize..40, 1 => 1000usize..5000]
}

fn vec_of(n: usize, lo: f32, hi: f32) -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(lo..hi, n)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn softmax_fast_equals_naive(x in len().prop_flat_map(|n| vec_of(n, -30.0, 30.0))) {
        let mut fast = x.clone();
        softmax_inplace(&mut fast);
        assert_close("softmax", &fast, &softmax_naive(&x), SOFTMAX_TOL);
    }

    #[test]
    fn softmax_sums_to_one_and_is_shift_invariant(
        x in len().prop_flat_map(|n| vec_of(n, -10.0, 10.0)), c in -100.0f32..100.0,
    ) {
        let mut p = x.clone();
        softmax_inplace(&mut p);
        let sum: f64 = p.iter().map(|&v| v as f64).sum();
        prop_assert!((sum - 1.0).abs() < SOFTMAX_SUM_TOL, "sum = {sum}");
        prop_assert!(p.iter().all(|&v| (0.0..=1.0).contains(&v)));
        let mut shifted: Vec<f32> = x.iter().map(|v| v + c).collect();
        softmax_inplace(&mut shifted);
        assert_close("softmax(x + c)", &shifted, &p, SHIFT_TOL);
    }

    #[test]
    fn softmax_masked_entries_are_zero_and_the_rest_renormalise(
        (x, mask) in (1usize..60).prop_flat_map(|n| (vec_of(n, -50.0, 50.0), prop::collection::vec(any::<bool>(), n))),
    ) {
        let mut masked: Vec<f32> = x.iter().zip(&mask).map(|(&v, &m)| if m { f32::NEG_INFINITY } else { v }).collect();
        softmax_inplace(&mut masked);
        prop_assert!(masked.iter().all(|v| !v.is_nan()), "NaN from a masked row");
        let kept: Vec<f32> = x.iter().zip(&mask).filter(|(_, &m)| !m).map(|(&v, _)| v).collect();
        let want_kept = softmax_naive(&kept);
        let got_kept: Vec<f32> = masked.iter().zip(&mask).filter(|(_, &m)| !m).map(|(&v, _)| v).collect();
        assert_close("softmax of the unmasked entries", &got_kept, &want_kept, SOFTMAX_TOL);
        prop_assert!(masked.iter().zip(&mask).filter(|(_, &m)| m).all(|(&v, _)| v == 0.0));
    }

    #[test]
    fn rmsnorm_fast_equals_naive(
        (x, w) in len().prop_flat_map(|n| (vec_of(n, -20.0, 20.0), vec_of(n, -2.0, 2.0))),
        eps in prop_oneof![Just(0.0f32), Just(1e-6f32), Just(1e-5f32)],
    ) {
        let (mut fast, mut naive) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        rmsnorm(&x, &w, eps, &mut fast);
        rmsnorm_naive(&x, &w, eps, &mut naive);
        let scale = 1.0 + naive.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert_close("rmsnorm", &fast, &naive, RMSNORM_REL_TOL * scale);
    }

    #[test]
    fn rmsnorm_rows_equal_row_by_row_and_unit_rms(
        (seq, d) in (1usize..6, 1usize..70),
        seed in any::<u64>(),
        c in 0.01f32..100.0,
    ) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let x: Vec<f32> = (0..seq * d).map(|_| rng.random_range(-3.0..3.0)).collect();
        let w = vec![1.0f32; d];
        let (mut fast, mut naive) = (vec![0.0; seq * d], vec![0.0; seq * d]);
        rmsnorm_rows(&x, &w, 0.0, &mut fast);
        rmsnorm_rows_naive(&x, &w, 0.0, &mut naive);
        assert_close("rmsnorm_rows", &fast, &naive, RMSNORM_REL_TOL * 10.0);
        // unit weight, eps 0: every row has RMS 1, and scaling the row changes nothing
        let xc: Vec<f32> = x.iter().map(|v| v * c).collect();
        let mut yc = vec![0.0; seq * d];
        rmsnorm_rows(&xc, &w, 0.0, &mut yc);
        for (row, rowc) in fast.chunks(d).zip(yc.chunks(d)) {
            if row.iter().any(|&v| v != 0.0) {
                prop_assert!((rms(row) - 1.0).abs() < 1e-5, "rms = {}", rms(row));
                assert_close("rmsnorm(c·x)", rowc, row, 1e-4);
            }
        }
    }

    #[test]
    fn swiglu_matches_the_formula((g, u) in len().prop_flat_map(|n| (vec_of(n, -30.0, 30.0), vec_of(n, -5.0, 5.0)))) {
        let mut out = vec![0.0; g.len()];
        swiglu(&g, &u, &mut out);
        let want: Vec<f32> = g.iter().zip(&u).map(|(&g, &u)| {
            let (g, u) = (g as f64, u as f64);
            (g / (1.0 + (-g).exp()) * u) as f32
        }).collect();
        let scale = 1.0 + want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert_close("swiglu", &out, &want, 1e-6 * scale);
        let mut inplace = g.clone();
        swiglu_inplace(&mut inplace, &u);
        assert_close("swiglu_inplace", &inplace, &out, EXACT);
    }

    #[test]
    fn silu_lanes_match_the_f64_formula_element_by_element(
        (g, u) in len().prop_flat_map(|n| (vec_of(n, -120.0, 120.0), vec_of(n, -5.0, 5.0))),
    ) {
        // the whole range of a gate: deep in the negative tail (e^(−z) near and past f32's
        // overflow), around 0, and the identity side; lengths 1 ..< 40 and long rows, so every
        // tail length mod 16 occurs
        let mut h = g.clone();
        swiglu_inplace(&mut h, &u);
        let want: Vec<f32> = g.iter().zip(&u).map(|(&g, &u)| {
            let (g, u) = (g as f64, u as f64);
            (g / (1.0 + (-g).exp()) * u) as f32
        }).collect();
        let scale: Vec<f32> = want.iter().map(|w| w.abs()).collect();
        assert_close_scaled("silu(g)·u, 16 lanes", &h, &want, &scale, SILU_REL_TOL);
        // the scalar reference, held to the same bound
        let scalar: Vec<f32> = g.iter().zip(&u).map(|(&g, &u)| silu(g) * u).collect();
        assert_close_scaled("silu(g)·u, scalar", &scalar, &want, &scale, SILU_REL_TOL);
    }

    #[test]
    fn silu_odd_part_is_identity(z in -50.0f32..50.0) {
        // silu(z) − silu(−z) = z·(σ(z) + σ(−z)) = z
        prop_assert!((silu(z) - silu(-z) - z).abs() <= 1e-5 * (1.0 + z.abs()));
    }

    #[test]
    fn rope_table_equals_naive(
        half in 1usize..80, pos in 0usize..4096, llama3 in any::<bool>(), seed in any::<u64>(),
        interleaved in any::<bool>(),
    ) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let d = 2 * half;
        let x: Vec<f32> = (0..d).map(|_| rng.random_range(-4.0..4.0)).collect();
        let scaling = Llama3RopeScaling { factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192 };
        let sc = if llama3 { Some(&scaling) } else { None };
        let theta = if llama3 { 500000.0 } else { 10000.0 };
        let layout = if interleaved { RopeLayout::Interleaved } else { RopeLayout::HalfSplit };
        let table = RopeTable::new(d, pos + 1, theta, sc);
        let (mut fast, mut naive) = (x.clone(), x.clone());
        table.apply(&mut fast, pos, layout);
        rope_naive(&mut naive, pos, theta, sc, layout);
        assert_close("rope table vs naive", &fast, &naive, ROPE_TOL);
    }

    #[test]
    fn rope_preserves_norms_and_sees_only_relative_positions(
        half in 1usize..64, m in 0usize..512, n in 0usize..512, s in 0usize..512, seed in any::<u64>(),
    ) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let d = 2 * half;
        let q: Vec<f32> = (0..d).map(|_| rng.random_range(-1.0..1.0)).collect();
        let k: Vec<f32> = (0..d).map(|_| rng.random_range(-1.0..1.0)).collect();
        let table = RopeTable::new(d, 1024, 10000.0, None);
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        let rot = |v: &[f32], p: usize| { let mut r = v.to_vec(); table.apply(&mut r, p, RopeLayout::HalfSplit); r };
        let (qm, kn) = (rot(&q, m), rot(&k, n));
        prop_assert!((norm(&qm) - norm(&q)).abs() <= NORM_REL_TOL * norm(&q));
        // ⟨rope(q, m), rope(k, n)⟩ = ⟨rope(q, m+s), rope(k, n+s)⟩
        let (a, b) = (dot(&qm, &kn), dot(&rot(&q, m + s), &rot(&k, n + s)));
        prop_assert!((a - b).abs() <= RELATIVE_POS_TOL * norm(&q) * norm(&k), "{a} vs {b}");
    }

    #[test]
    fn the_two_pairings_agree_once_the_weights_are_permuted(
        n_heads in 1usize..5, half in 1usize..20, cols in 1usize..20, m in 0usize..300, n in 0usize..300,
        seed in any::<u64>(),
    ) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let hd = 2 * half;
        let rows = n_heads * hd;
        // HF weights and two inputs; llama.cpp's converter gives the GGUF weights
        let w_hf: Vec<f32> = (0..rows * cols).map(|_| rng.random_range(-1.0..1.0)).collect();
        let xq: Vec<f32> = (0..cols).map(|_| rng.random_range(-1.0..1.0)).collect();
        let xk: Vec<f32> = (0..cols).map(|_| rng.random_range(-1.0..1.0)).collect();
        let w_gguf = hf_to_interleaved_rows(&w_hf, n_heads, hd);
        prop_assert_eq!(&interleaved_to_hf_rows(&w_gguf, n_heads, hd), &w_hf);
        let proj = |w: &[f32], x: &[f32]| -> Vec<f32> {
            w.chunks(cols).map(|r| r.iter().zip(x).map(|(a, b)| a * b).sum()).collect()
        };
        let table = RopeTable::new(hd, 300, 10000.0, None);
        let rotated = |w: &[f32], x: &[f32], pos: usize, layout| {
            let mut v = proj(w, x);
            table.apply_heads(&mut v, n_heads, pos, layout);
            v
        };
        let q_hf = rotated(&w_hf, &xq, m, RopeLayout::HalfSplit);
        let k_hf = rotated(&w_hf, &xk, n, RopeLayout::HalfSplit);
        let q_gg = rotated(&w_gguf, &xq, m, RopeLayout::Interleaved);
        let k_gg = rotated(&w_gguf, &xk, n, RopeLayout::Interleaved);
        // the rotated vectors are the same numbers, only in permuted order ...
        assert_close("rope interleaved, permuted back", &interleaved_to_hf_rows(&q_gg, n_heads, hd), &q_hf, EXACT);
        // ... so every attention score (per head) is the same
        for h in 0..n_heads {
            let r = h * hd..(h + 1) * hd;
            let s_hf: f32 = q_hf[r.clone()].iter().zip(&k_hf[r.clone()]).map(|(a, b)| a * b).sum();
            let s_gg: f32 = q_gg[r.clone()].iter().zip(&k_gg[r.clone()]).map(|(a, b)| a * b).sum();
            prop_assert!((s_hf - s_gg).abs() <= 1e-4 * (1.0 + s_hf.abs()), "head {h}: {s_hf} vs {s_gg}");
        }
    }

    #[test]
    fn row_permutation_is_a_bijection(half in 1usize..64, n_heads in 1usize..10) {
        let hd = 2 * half;
        let mut seen = vec![false; n_heads * hd];
        for g in 0..n_heads * hd {
            let h = hf_row_of_gguf_row(g, hd);
            prop_assert!(h / hd == g / hd, "a row left its head");
            prop_assert!(!seen[h]);
            seen[h] = true;
            prop_assert_eq!(gguf_row_of_hf_row(h, hd), g);
        }
    }
}

/// The limits and the special values come out of the 16-lane SwiGLU exactly as out of the
/// scalar `silu` (bit for bit, sign of zero included), wherever they sit in the row: in a full
/// vector or in the zero-padded tail.
#[test]
fn swiglu_limits_and_specials_equal_the_scalar_silu() {
    let specials = [
        f32::INFINITY,     // e^(−∞) = 0: ∞
        f32::NEG_INFINITY, // −∞ / ∞: NaN, as in the scalar form
        f32::NAN,          // NaN stays NaN
        -0.0,              // −0 / 2 = −0
        0.0,
        -200.0, // e^200 overflows: −200 / ∞ = −0, the limit
        -100.0, // e^100 is past f32's range: −0
        200.0,  // e^(−200) = 0: z
        1e30,
        -1e30,
        f32::MIN_POSITIVE,
        -1e-40, // subnormal
    ];
    let same = |a: f32, b: f32| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
    for len in [1, 15, 16, 17, 37] {
        for at in 0..len {
            for &z in &specials {
                let mut g: Vec<f32> = (0..len).map(|i| i as f32 * 0.25 - 3.0).collect();
                g[at] = z;
                let mut h = g.clone();
                swiglu_inplace(&mut h, &vec![1.0; len]);
                assert!(
                    same(h[at], silu(z)),
                    "len {len}, index {at}: silu({z:e}) = {:e} in lanes, {:e} scalar",
                    h[at],
                    silu(z)
                );
                let mut out = vec![0.0; len];
                swiglu(&g, &vec![1.0; len], &mut out);
                assert!(same(out[at], h[at]), "swiglu vs swiglu_inplace at {at}");
            }
        }
    }
    // NaN in `up` propagates too
    let mut g = vec![1.0f32; 20];
    let mut u = vec![1.0f32; 20];
    u[18] = f32::NAN;
    swiglu_inplace(&mut g, &u);
    assert!(g[18].is_nan());
    assert!(
        g.iter().enumerate().all(|(i, v)| i == 18 || !v.is_nan()),
        "{g:?}"
    );
}

/// The 16-lane softmax's specials, at every position of rows whose length is and is not a
/// multiple of 16: one NaN makes the whole row NaN; `-inf` entries (a mask) get exactly 0;
/// scores far below the max (exponents past f32's underflow at −103) get 0, not garbage.
#[test]
fn softmax_specials_at_every_position() {
    for len in [1, 2, 15, 16, 17, 33, 100] {
        for at in 0..len {
            let row: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin() * 4.0).collect();
            let mut nan = row.clone();
            nan[at] = f32::NAN;
            softmax_inplace(&mut nan);
            assert!(
                nan.iter().all(|v| v.is_nan()),
                "len {len}: NaN at {at} not propagated"
            );
            if len > 1 {
                let mut masked = row.clone();
                masked[at] = f32::NEG_INFINITY;
                softmax_inplace(&mut masked);
                assert_eq!(masked[at], 0.0, "len {len}: masked entry {at}");
                let mut far = row.clone();
                far[at] = -150.0; // e^(−150 − max) underflows to 0
                softmax_inplace(&mut far);
                assert_eq!(far[at], 0.0, "len {len}: entry {at} far below the max");
                let mut want = row.clone();
                want[at] = f32::NEG_INFINITY;
                assert_close(
                    "softmax, far entry vs masked",
                    &far,
                    &softmax_naive(&want),
                    SOFTMAX_TOL,
                );
            }
        }
    }
}
