//! Stage 2 attention: fast == naive over random shapes, and the invariants — causal mask,
//! GQA == MHA with K/V repeated, KV-cache one token at a time == whole sequence at once,
//! row 0 == v₀, the weights are probabilities.

use glassbox::attention::{attention, attention_naive, AttentionShape};
use glassbox::compare::assert_close;
use glassbox::compare::rand_vec;
use glassbox::kv_cache::KvCache;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};

/// Fast (8-lane FMA dot, f32 softmax) vs naive (sequential dot, f64 softmax): outputs are
/// convex combinations of values in [-1, 1], so errors are a few ulp of 1 per term.
const ATTN_TOL: f32 = 1e-5;
/// The same arithmetic on the same numbers in the same order: bit-identical.
const EXACT: f32 = 0.0;

/// Random attention problem: shape, start position, new tokens, their Q and the cache.
#[derive(Debug, Clone)]
struct Case {
    shape: AttentionShape,
    start_pos: usize,
    seq: usize,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (
        1usize..5,
        1usize..4,
        prop_oneof![1usize..9, Just(64), 9usize..70],
        0usize..20,
        1usize..16,
        any::<u64>(),
    )
        .prop_map(|(n_kv, group, head_dim, start_pos, seq, seed)| Case {
            shape: AttentionShape {
                n_heads: n_kv * group,
                n_kv_heads: n_kv,
                head_dim,
            },
            start_pos,
            seq,
            seed,
        })
}

/// A prompt long enough for the blocked prefill (16+ tokens), crossing block boundaries (32).
fn long_case() -> impl Strategy<Value = Case> {
    (case(), 16usize..90).prop_map(|(c, seq)| Case { seq, ..c })
}

/// q: [seq, q_dim], and a 2-layer cache holding random K/V for positions 0..start_pos+seq at layer 1.
fn setup(c: &Case) -> (Vec<f32>, KvCache) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(c.seed);
    let total = c.start_pos + c.seq;
    let kv_dim = c.shape.kv_dim();
    let q = rand_vec(rng.random(), c.seq * c.shape.q_dim());
    let mut cache = KvCache::new(2, total + 3, kv_dim);
    let (k, v) = (
        rand_vec(rng.random(), total * kv_dim),
        rand_vec(rng.random(), total * kv_dim),
    );
    cache.write_rows(1, 0, &k, &v);
    (q, cache)
}

/// The causal mask: the output at row i does not change when every query, key and value after
/// position start + i changes (bit for bit: masked scores become exact zeros).
fn later_tokens_change_nothing(c: &Case, i_frac: f64) {
    let (q, cache) = setup(c);
    let i = ((c.seq as f64 * i_frac) as usize).min(c.seq - 1); // query row i, position start+i
    let total = c.start_pos + c.seq;
    let (qd, kv_dim) = (c.shape.q_dim(), c.shape.kv_dim());
    // change every query, key and value after position start+i
    let mut rng = rand::rngs::StdRng::seed_from_u64(c.seed ^ 0x5eed);
    let mut q2 = q.clone();
    for v in &mut q2[(i + 1) * qd..] {
        *v = rng.random_range(-9.0..9.0);
    }
    let mut cache2 = cache.clone();
    for pos in c.start_pos + i + 1..total {
        let (k, v) = (
            rand_vec(rng.random(), kv_dim),
            rand_vec(rng.random(), kv_dim),
        );
        cache2.write(1, pos, &k, &v);
    }
    for f in [attention, attention_naive] {
        let (mut a, mut b) = (vec![0.0; q.len()], vec![0.0; q.len()]);
        f(&q, &cache, 1, c.start_pos, &c.shape, &mut a, None);
        f(&q2, &cache2, 1, c.start_pos, &c.shape, &mut b, None);
        assert_close(
            "rows up to i",
            &b[..(i + 1) * qd],
            &a[..(i + 1) * qd],
            EXACT,
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn fast_equals_naive_with_weights(c in case()) {
        let (q, cache) = setup(&c);
        let (mut fast, mut naive) = (vec![0.0; q.len()], vec![0.0; q.len()]);
        let (mut wf, mut wn) = (Vec::new(), Vec::new());
        attention(&q, &cache, 1, c.start_pos, &c.shape, &mut fast, Some(&mut wf));
        attention_naive(&q, &cache, 1, c.start_pos, &c.shape, &mut naive, Some(&mut wn));
        assert_close("attention fast vs naive", &fast, &naive, ATTN_TOL);
        assert_close("attention weights fast vs naive", &wf, &wn, ATTN_TOL);
        // without weights (the serial or the parallel path) the output is the same
        let mut plain = vec![0.0; q.len()];
        attention(&q, &cache, 1, c.start_pos, &c.shape, &mut plain, None);
        assert_close("attention without weights", &plain, &fast, EXACT);
        // weights: [n_heads, seq, total], rows sum to 1, zero after the query's position
        let total = c.start_pos + c.seq;
        for (r, row) in wf.chunks(total).enumerate() {
            let t = r % c.seq;
            let sum: f32 = row.iter().sum();
            prop_assert!((sum - 1.0).abs() < 1e-5, "row {r} sums to {sum}");
            prop_assert!(row[c.start_pos + t + 1..].iter().all(|&p| p == 0.0), "mask leaked in row {r}");
        }
    }

    #[test]
    fn causal_mask_later_tokens_change_nothing(c in case(), i_frac in 0.0f64..1.0) {
        later_tokens_change_nothing(&c, i_frac);
    }

    /// The blocked prefill (16+ tokens, no weights asked for) against the naive reference and
    /// against the row-by-row path that also returns the weights.
    #[test]
    fn blocked_prefill_equals_naive(c in long_case()) {
        let (q, cache) = setup(&c);
        let (mut blocked, mut naive, mut rows) = (vec![0.0; q.len()], vec![0.0; q.len()], vec![0.0; q.len()]);
        attention(&q, &cache, 1, c.start_pos, &c.shape, &mut blocked, None);
        attention_naive(&q, &cache, 1, c.start_pos, &c.shape, &mut naive, None);
        attention(&q, &cache, 1, c.start_pos, &c.shape, &mut rows, Some(&mut Vec::new()));
        assert_close("blocked prefill vs naive", &blocked, &naive, ATTN_TOL);
        assert_close("blocked prefill vs row by row", &blocked, &rows, ATTN_TOL);
    }

    #[test]
    fn blocked_prefill_later_tokens_change_nothing(c in long_case(), i_frac in 0.0f64..1.0) {
        later_tokens_change_nothing(&c, i_frac);
    }

    #[test]
    fn gqa_equals_mha_with_kv_repeated(c in case()) {
        let (q, cache) = setup(&c);
        let s = c.shape;
        let total = c.start_pos + c.seq;
        // the same K/V, head g copied to every query head of its group: plain multi-head attention
        let mha = AttentionShape { n_heads: s.n_heads, n_kv_heads: s.n_heads, head_dim: s.head_dim };
        let mut rep = KvCache::new(2, total, mha.kv_dim());
        for pos in 0..total {
            let (k, v) = (cache.k_row(1, pos), cache.v_row(1, pos));
            let repeat = |x: &[f32]| -> Vec<f32> {
                (0..s.n_heads).flat_map(|h| x[(h / s.group()) * s.head_dim..][..s.head_dim].to_vec()).collect()
            };
            rep.write(1, pos, &repeat(k), &repeat(v));
        }
        let (mut gqa, mut full) = (vec![0.0; q.len()], vec![0.0; q.len()]);
        attention(&q, &cache, 1, c.start_pos, &s, &mut gqa, None);
        attention(&q, &rep, 1, c.start_pos, &mha, &mut full, None);
        assert_close("GQA vs MHA with K/V repeated", &gqa, &full, EXACT);
    }

    #[test]
    fn cache_filled_token_by_token_equals_whole_sequence(c in case()) {
        let (q, cache) = setup(&c);
        let (qd, kv_dim) = (c.shape.q_dim(), c.shape.kv_dim());
        let total = c.start_pos + c.seq;
        // whole sequence: one call for all queries 0..total (prefill)
        let mut q_all = vec![0.0f32; total * qd];
        let mut rng = rand::rngs::StdRng::seed_from_u64(c.seed ^ 1);
        for v in q_all.iter_mut() { *v = rng.random_range(-1.0..1.0); }
        q_all[c.start_pos * qd..].copy_from_slice(&q);
        let mut whole = vec![0.0; total * qd];
        attention(&q_all, &cache, 1, 0, &c.shape, &mut whole, None);
        // token by token: write K/V of position t into an empty cache, then decode query t
        let mut inc = KvCache::new(2, total, kv_dim);
        let mut steps = vec![0.0; total * qd];
        for t in 0..total {
            inc.write(1, t, cache.k_row(1, t), cache.v_row(1, t));
            inc.set_len(t + 1);
            attention(&q_all[t * qd..(t + 1) * qd], &inc, 1, t, &c.shape, &mut steps[t * qd..(t + 1) * qd], None);
        }
        // bit-identical while every call takes the row-by-row path (< 16 queries); a prefill of
        // 16+ queries goes through the blocked GEMM path, which adds the same terms in another order
        let tol = |queries: usize| if queries < 16 { EXACT } else { ATTN_TOL };
        assert_close("decode steps vs prefill", &steps, &whole, tol(total));
        // and a chunk from start_pos (what `setup` asked for) equals the tail of the prefill
        let mut chunk = vec![0.0; q.len()];
        attention(&q, &cache, 1, c.start_pos, &c.shape, &mut chunk, None);
        assert_close("chunk vs prefill tail", &chunk, &whole[c.start_pos * qd..], tol(total));
    }

    #[test]
    fn causal_row_zero_is_v0(c in case()) {
        let (q, cache) = setup(&c);
        let s = c.shape;
        let mut out = vec![0.0; q.len()];
        attention(&q, &cache, 1, 0, &s, &mut out, None); // start at position 0
        let v0 = cache.v_row(1, 0);
        for h in 0..s.n_heads {
            let g = h / s.group();
            assert_close("row 0", &out[h * s.head_dim..][..s.head_dim], &v0[g * s.head_dim..][..s.head_dim], EXACT);
        }
    }
}

#[test]
fn long_context_decode_and_large_logits() {
    // one decode step at position 3000 with SmolLM2's head layout, then huge scores
    let shape = AttentionShape {
        n_heads: 9,
        n_kv_heads: 3,
        head_dim: 64,
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let total = 3001;
    let mut cache = KvCache::new(1, total, shape.kv_dim());
    cache.write_rows(
        0,
        0,
        &rand_vec(rng.random(), total * 192),
        &rand_vec(rng.random(), total * 192),
    );
    for scale in [1.0f32, 1000.0] {
        let q: Vec<f32> = rand_vec(rng.random(), shape.q_dim())
            .iter()
            .map(|v| v * scale)
            .collect();
        let (mut fast, mut naive) = (vec![0.0; q.len()], vec![0.0; q.len()]);
        attention(&q, &cache, 0, total - 1, &shape, &mut fast, None);
        attention_naive(&q, &cache, 0, total - 1, &shape, &mut naive, None);
        assert!(
            fast.iter().all(|v| v.is_finite()),
            "non-finite output at scale {scale}"
        );
        // scores of ±1000·8 make the softmax nearly one-hot; near-ties are where f32 and f64
        // can disagree most, so the large-scale check is looser
        let tol = if scale == 1.0 { ATTN_TOL } else { 1e-3 };
        assert_close("decode at 3000", &fast, &naive, tol);
    }
}

#[test]
fn kv_cache_accessors_and_reset() {
    let mut c = KvCache::new(2, 4, 3);
    c.write(1, 2, &[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]);
    c.set_len(3);
    assert_eq!(c.k_row(1, 2), &[1.0, 2.0, 3.0]);
    assert_eq!(c.v_row(1, 2), &[4.0, 5.0, 6.0]);
    assert_eq!(c.k_row(0, 2), &[0.0; 3], "layers are separate");
    assert_eq!(&c.k_layer(1)[6..9], &[1.0, 2.0, 3.0]);
    let (k, _) = c.rows_mut(0, 1, 2);
    assert_eq!(k.len(), 6);
    assert_eq!(c.len(), 3);
    c.reset();
    assert!(c.is_empty());
    assert_eq!(c.bytes(), 2 * 2 * 4 * 3 * 4);
}

#[test]
#[should_panic(expected = "exceed")]
fn writing_past_the_cache_panics_with_the_sizes() {
    let mut c = KvCache::new(1, 2, 1);
    c.write(0, 2, &[1.0], &[1.0]);
}
