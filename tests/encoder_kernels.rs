//! The encoder's kernels on random shapes: bidirectional attention, LayerNorm and GELU fast ==
//! naive (proptest), and the property that makes an encoder an encoder: with no causal mask,
//! the first token's output depends on the last token.

use glassbox::attention::{attention_bidirectional, attention_bidirectional_naive, AttentionShape};
use glassbox::compare::assert_close;
use glassbox::gelu::{gelu_inplace, gelu_naive};
use glassbox::layernorm::{layernorm, layernorm_naive, layernorm_rows_inplace};
use proptest::prelude::*;

/// Attention outputs are convex combinations of V rows (|v| ≤ 1): the blocked GEMM sums and the
/// naive row-by-row sums differ by a few ulp of 1, over sequences up to 70 keys.
const ATTN_TOL: f32 = 1e-5;
/// LayerNorm in f32 (two passes) vs f64: a few ulp of |y| ≤ ~6 (unit-variance rows, weights ≤ 2).
const LAYERNORM_TOL: f32 = 1e-5;
/// GELU: A&S 7.1.26's |Δerf| ≤ 1.5e-7 times |x|/2 (|x| ≤ 12), plus f32 rounding.
const GELU_TOL: f32 = 2e-6;

fn shape() -> impl Strategy<Value = (AttentionShape, usize)> {
    (
        1usize..5,
        1usize..4,
        prop::sample::select(vec![1usize, 7, 8, 32, 33]),
        1usize..70,
    )
        .prop_map(|(kv, group, hd, seq)| {
            let s = AttentionShape {
                n_heads: kv * group,
                n_kv_heads: kv,
                head_dim: hd,
            };
            (s, seq)
        })
}

/// `n` values in [−1, 1) from `seed` (the shared test helper, arguments in this file's order).
fn rand_vec(n: usize, seed: u64) -> Vec<f32> {
    glassbox::compare::rand_vec(seed, n)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn attention_bidirectional_equals_naive((s, seq) in shape(), seed in any::<u64>()) {
        let q = rand_vec(seq * s.q_dim(), seed);
        let k = rand_vec(seq * s.kv_dim(), seed ^ 1);
        let v = rand_vec(seq * s.kv_dim(), seed ^ 2);
        let (mut fast, mut slow) = (vec![0.0; q.len()], vec![0.0; q.len()]);
        attention_bidirectional(&q, &k, &v, &s, &mut fast);
        attention_bidirectional_naive(&q, &k, &v, &s, &mut slow);
        assert_close("bidirectional attention", &fast, &slow, ATTN_TOL);
    }

    #[test]
    fn layernorm_equals_naive(d in 1usize..600, seed in any::<u64>(), offset in -50.0f32..50.0) {
        let x: Vec<f32> = rand_vec(d, seed).iter().map(|v| v * 3.0 + offset).collect();
        let w: Vec<f32> = rand_vec(d, seed ^ 3).iter().map(|v| v + 1.0).collect();
        let b = rand_vec(d, seed ^ 4);
        let (mut fast, mut slow) = (vec![0.0; d], vec![0.0; d]);
        layernorm(&x, &w, &b, 1e-12, &mut fast);
        layernorm_naive(&x, &w, &b, 1e-12, &mut slow);
        assert_close("layernorm", &fast, &slow, LAYERNORM_TOL);
        let mut rows = [x.clone(), x].concat();
        layernorm_rows_inplace(&mut rows, &w, &b, 1e-12);
        assert_close("layernorm rows", &rows[d..], &fast, 0.0);
    }

    #[test]
    fn gelu_equals_naive(x in prop::collection::vec(-12.0f32..12.0, 0..100)) {
        let mut fast = x.clone();
        gelu_inplace(&mut fast);
        let slow: Vec<f32> = x.iter().map(|&v| gelu_naive(v)).collect();
        assert_close("gelu", &fast, &slow, GELU_TOL);
    }
}

/// No mask: change only the last key and value, and the first query's output moves (a causal
/// kernel's row 0 would be exactly v₀ whatever comes after).
#[test]
fn first_row_sees_the_last_token() {
    let s = AttentionShape {
        n_heads: 2,
        n_kv_heads: 1,
        head_dim: 4,
    };
    let seq = 5;
    let q = rand_vec(seq * s.q_dim(), 1);
    let (k, mut v) = (rand_vec(seq * s.kv_dim(), 2), rand_vec(seq * s.kv_dim(), 3));
    let mut before = vec![0.0; q.len()];
    attention_bidirectional(&q, &k, &v, &s, &mut before);
    v[(seq - 1) * 4] += 1.0;
    let mut after = vec![0.0; q.len()];
    attention_bidirectional(&q, &k, &v, &s, &mut after);
    assert!(
        (before[0] - after[0]).abs() > 1e-3,
        "row 0 ignored the last token"
    );
}

/// Every output row is a convex combination of V rows: with all V rows equal, every output is
/// that row (any scores).
#[test]
fn equal_values_give_that_value() {
    let s = AttentionShape {
        n_heads: 3,
        n_kv_heads: 3,
        head_dim: 2,
    };
    let q = rand_vec(4 * 6, 9);
    let k = rand_vec(4 * 6, 10);
    let v: Vec<f32> = [0.5f32, -2.0].repeat(12);
    let mut out = vec![0.0; q.len()];
    attention_bidirectional(&q, &k, &v, &s, &mut out);
    assert_close("convex combination", &out, &v, 1e-6);
}
