//! Every backward of stage 8 against finite differences, on random small shapes (proptest).
//!
//! For a module `y = f(x)` the test takes the scalar `L = Σ y ⊙ r` (r fixed random), so
//! `∂L/∂y = r`, runs the hand-written backward with `dy = r`, and compares each gradient entry
//! with the central difference `(L(x + h·e_i) − L(x − h·e_i)) / 2h` of an independent **f64**
//! reference forward written here (h = 1e-6: truncation error O(h²) ≈ 1e-12, rounding
//! ≈ 1e-16/h = 1e-10). What is left is the f32 rounding of the backward itself, ≈ 1e-6
//! relative: the tolerance is `FD_TOL · (1 + |g|)`.
//!
//! The whole model (f32 only) is checked by directional derivatives, tensor by tensor.

use glassbox::attention::AttentionShape;
use glassbox::compare::rand_vec;
use glassbox::rope::{RopeLayout, RopeTable};
use glassbox::swiglu::swiglu;
use glassbox::train::attention::{attention_backward, attention_forward};
use glassbox::train::linear::{linear, linear_backward, linear_backward_naive};
use glassbox::train::loss::cross_entropy;
use glassbox::train::norm::rmsnorm_backward;
use glassbox::train::rope::rope_backward_rows;
use glassbox::train::swiglu::swiglu_backward;
use proptest::prelude::*;

/// Analytic (f32) vs f64 central differences: see the module doc.
const FD_TOL: f64 = 2e-5;
const H: f64 = 1e-6;

fn f64s(x: &[f32]) -> Vec<f64> {
    x.iter().map(|&v| v as f64).collect()
}

/// Compare `analytic` with the central differences of `loss` at `x`, every coordinate.
fn fd_check(name: &str, x: &[f32], analytic: &[f32], loss: impl Fn(&[f64]) -> f64) {
    let mut x64 = f64s(x);
    let mut worst = 0.0f64;
    for i in 0..x.len() {
        let v = x64[i];
        x64[i] = v + H;
        let up = loss(&x64);
        x64[i] = v - H;
        let down = loss(&x64);
        x64[i] = v;
        let fd = (up - down) / (2.0 * H);
        let err = (fd - analytic[i] as f64).abs() / (1.0 + fd.abs());
        assert!(
            err < FD_TOL,
            "{name}[{i}]: backward {} vs finite difference {fd} (rel err {err:e})",
            analytic[i]
        );
        worst = worst.max(err);
    }
    println!("{name}: {} entries, max rel err {worst:.2e}", x.len());
}

fn dot64(y: &[f64], r: &[f32]) -> f64 {
    y.iter().zip(r).map(|(a, &b)| a * b as f64).sum()
}

// ---- f64 reference forwards (independent of the crate's kernels) ----

fn rmsnorm64(x: &[f64], w: &[f64], eps: f64) -> Vec<f64> {
    let d = w.len();
    x.chunks(d)
        .flat_map(|r| {
            let s = 1.0 / (r.iter().map(|v| v * v).sum::<f64>() / d as f64 + eps).sqrt();
            r.iter().zip(w).map(move |(v, wi)| v * s * wi)
        })
        .collect()
}

fn silu64(z: f64) -> f64 {
    z / (1.0 + (-z).exp())
}

/// Causal GQA attention in f64: q [b·t, nh·hd], k, v [b·t, nkv·hd].
fn attention64(
    q: &[f64],
    k: &[f64],
    v: &[f64],
    b: usize,
    t: usize,
    s: &AttentionShape,
) -> Vec<f64> {
    let (nh, hd, qd, kd) = (s.n_heads, s.head_dim, s.q_dim(), s.kv_dim());
    let mut out = vec![0.0; b * t * qd];
    for bi in 0..b {
        for h in 0..nh {
            let g = h / s.group();
            for i in 0..t {
                let row = |m: &[f64], w: usize, j: usize, off: usize| {
                    m[(bi * t + j) * w + off..][..hd].to_vec()
                };
                let qi = row(q, qd, i, h * hd);
                let sc: Vec<f64> = (0..=i)
                    .map(|j| {
                        qi.iter()
                            .zip(row(k, kd, j, g * hd))
                            .map(|(a, b)| a * b)
                            .sum::<f64>()
                            / (hd as f64).sqrt()
                    })
                    .collect();
                let m = sc.iter().cloned().fold(f64::MIN, f64::max);
                let z: f64 = sc.iter().map(|s| (s - m).exp()).sum();
                for (j, sj) in sc.iter().enumerate() {
                    let p = (sj - m).exp() / z;
                    for (d, vd) in row(v, kd, j, g * hd).iter().enumerate() {
                        out[(bi * t + i) * qd + h * hd + d] += p * vd;
                    }
                }
            }
        }
    }
    out
}

fn matmul64(x: &[f64], w: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    (0..m * n)
        .map(|o| (0..k).map(|p| x[o / n * k + p] * w[o % n * k + p]).sum())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn linear_backward_matches_fd_and_naive(m in 1usize..7, k in 1usize..9, n in 1usize..8, seed in 0u64..1000) {
        let (x, w, r) = (rand_vec(seed, m * k), rand_vec(seed + 1, n * k), rand_vec(seed + 2, m * n));
        let (mut dx, mut dw) = (vec![0.0; m * k], vec![0.0; n * k]);
        linear_backward(&x, &w, &r, Some(&mut dx), &mut dw, m, k, n);
        let (mut dx2, mut dw2) = (vec![0.0; m * k], vec![0.0; n * k]);
        linear_backward_naive(&x, &w, &r, Some(&mut dx2), &mut dw2, m, k, n);
        glassbox::compare::assert_close("dx fast vs naive", &dx, &dx2, 1e-5);
        glassbox::compare::assert_close("dw fast vs naive", &dw, &dw2, 1e-5);
        fd_check("linear dx", &x, &dx, |x| dot64(&matmul64(x, &f64s(&w), m, k, n), &r));
        fd_check("linear dw", &w, &dw, |w| dot64(&matmul64(&f64s(&x), w, m, k, n), &r));
    }

    #[test]
    fn rmsnorm_backward_matches_fd(rows in 1usize..5, d in 1usize..12, seed in 0u64..1000) {
        let (x, r) = (rand_vec(seed, rows * d), rand_vec(seed + 1, rows * d));
        let w: Vec<f32> = rand_vec(seed + 2, d).iter().map(|v| 1.0 + 0.5 * v).collect();
        let eps = 1e-5;
        let (mut dx, mut dw) = (vec![0.0; rows * d], vec![0.0; d]);
        rmsnorm_backward(&x, &w, eps, &r, &mut dx, &mut dw);
        fd_check("rmsnorm dx", &x, &dx, |x| dot64(&rmsnorm64(x, &f64s(&w), eps as f64), &r));
        fd_check("rmsnorm dw", &w, &dw, |w| dot64(&rmsnorm64(&f64s(&x), w, eps as f64), &r));
    }

    #[test]
    fn rope_backward_matches_fd(seq in 1usize..6, heads in 1usize..3, half in 1usize..5, seed in 0u64..1000) {
        let hd = 2 * half;
        let table = RopeTable::new(hd, seq, 10000.0, None);
        let (x, r) = (rand_vec(seed, seq * heads * hd), rand_vec(seed + 1, seq * heads * hd));
        let mut dx = r.clone();
        rope_backward_rows(&table, &mut dx, heads, 0);
        // the reference: the rotation written out in f64 with the table's angles
        let rope64 = |x: &[f64]| -> Vec<f64> {
            let mut y = x.to_vec();
            for (t, row) in y.chunks_mut(heads * hd).enumerate() {
                let (c, s) = table.cos_sin(t);
                for h in row.chunks_mut(hd) {
                    for i in 0..half {
                        let (a, b) = (h[i], h[i + half]);
                        h[i] = a * c[i] as f64 - b * s[i] as f64;
                        h[i + half] = b * c[i] as f64 + a * s[i] as f64;
                    }
                }
            }
            y
        };
        // and the forward kernel agrees with it
        let mut y = x.clone();
        table.apply_rows(&mut y, heads, 0, RopeLayout::HalfSplit);
        let y64 = rope64(&f64s(&x));
        prop_assert!(y.iter().zip(&y64).all(|(a, b)| (*a as f64 - b).abs() < 1e-5));
        fd_check("rope dx", &x, &dx, |x| dot64(&rope64(x), &r));
    }

    #[test]
    fn swiglu_backward_matches_fd(n in 1usize..20, seed in 0u64..1000) {
        let g: Vec<f32> = rand_vec(seed, n).iter().map(|v| 4.0 * v).collect();
        let (u, r) = (rand_vec(seed + 1, n), rand_vec(seed + 2, n));
        let (mut dg, mut du) = (vec![0.0; n], vec![0.0; n]);
        swiglu_backward(&g, &u, &r, &mut dg, &mut du);
        let mut h = vec![0.0; n];
        swiglu(&g, &u, &mut h); // the forward kernel, for the record
        let f = |g: &[f64], u: &[f64]| g.iter().zip(u).map(|(a, b)| silu64(*a) * b).collect::<Vec<_>>();
        fd_check("swiglu dgate", &g, &dg, |g| dot64(&f(g, &f64s(&u)), &r));
        fd_check("swiglu dup", &u, &du, |u| dot64(&f(&f64s(&g), u), &r));
    }

    #[test]
    fn cross_entropy_gradient_matches_fd(n in 1usize..5, vocab in 2usize..12, seed in 0u64..1000) {
        let z: Vec<f32> = rand_vec(seed, n * vocab).iter().map(|v| 3.0 * v).collect();
        let targets: Vec<u32> = (0..n).map(|i| ((seed as usize + 7 * i) % vocab) as u32).collect();
        let scale = 1.0 / n as f32;
        let mut g = z.clone();
        let loss = cross_entropy(&mut g, &targets, vocab, scale);
        let ce64 = |z: &[f64]| -> f64 {
            z.chunks(vocab).zip(&targets).map(|(row, &y)| {
                let m = row.iter().cloned().fold(f64::MIN, f64::max);
                m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln() - row[y as usize]
            }).sum::<f64>()
        };
        prop_assert!((loss - ce64(&f64s(&z))).abs() < 1e-5 * (1.0 + loss));
        fd_check("cross-entropy dlogits", &z, &g, |z| ce64(z) * scale as f64);
    }

    #[test]
    fn attention_backward_matches_fd(b in 1usize..3, t in 1usize..6, nkv in 1usize..3, group in 1usize..3, half in 1usize..3, seed in 0u64..1000) {
        let s = AttentionShape { n_heads: nkv * group, n_kv_heads: nkv, head_dim: 2 * half };
        let n = b * t;
        let q = rand_vec(seed, n * s.q_dim());
        let (k, v) = (rand_vec(seed + 1, n * s.kv_dim()), rand_vec(seed + 2, n * s.kv_dim()));
        let r = rand_vec(seed + 3, n * s.q_dim());
        let (att, probs) = attention_forward(&q, &k, &v, b, t, &s);
        let want = attention64(&f64s(&q), &f64s(&k), &f64s(&v), b, t, &s);
        prop_assert!(att.iter().zip(&want).all(|(a, w)| (*a as f64 - w).abs() < 1e-5), "forward");
        let (mut dq, mut dk, mut dv) = (vec![0.0; q.len()], vec![0.0; k.len()], vec![0.0; v.len()]);
        attention_backward(&q, &k, &v, &probs, &r, t, &s, &mut dq, &mut dk, &mut dv);
        let (q64, k64, v64) = (f64s(&q), f64s(&k), f64s(&v));
        fd_check("attention dq", &q, &dq, |q| dot64(&attention64(q, &k64, &v64, b, t, &s), &r));
        fd_check("attention dk", &k, &dk, |k| dot64(&attention64(&q64, k, &v64, b, t, &s), &r));
        fd_check("attention dv", &v, &dv, |v| dot64(&attention64(&q64, &k64, v, b, t, &s), &r));
    }
}

/// The forward of `linear` is the crate's matmul: check it against the f64 reference once.
#[test]
fn linear_forward_is_x_times_w_transposed() {
    let (x, w) = (rand_vec(1, 3 * 5), rand_vec(2, 4 * 5));
    let y = linear(&x, &w, 3, 5, 4);
    let want = matmul64(&f64s(&x), &f64s(&w), 3, 5, 4);
    assert!(y
        .iter()
        .zip(&want)
        .all(|(a, b)| (*a as f64 - b).abs() < 1e-6));
}
