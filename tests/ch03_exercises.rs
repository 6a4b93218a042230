//! Chapter 3 exercises: `cargo test --test ch03_exercises`.
//!
//! The answers below are filled in so that the book's CI stays green. Cover them up, write your
//! own, and run the test. Reference answers: `cargo test --test ch03_exercises --features solutions`.
//!
//! 1. **Predict the output.** With causal attention, what is the output of query 0 for any
//!    q, k and v₀ = [0.5, −1, 2]?
//! 2. **Predict the bytes.** SmolLM2-135M (30 layers, 3 KV heads of 64) keeps K and V in f32.
//!    How many bytes of KV-cache per token of context? And if every one of its 9 query heads had
//!    its own KV head (plain multi-head attention)?
//! 3. **Make it pass.** Write `answer::repeat_kv`, which copies each KV head of one position to
//!    every query head that reads it; the test checks that GQA over the original cache equals
//!    plain multi-head attention over your repeated one.

use glassbox::attention::{attention, AttentionShape};
use glassbox::compare::assert_close;
use glassbox::compare::rand_vec;
use glassbox::kv_cache::KvCache;
use rand::{Rng, SeedableRng};

#[cfg(not(feature = "solutions"))]
mod answer {
    pub const ROW0: [f32; 3] = [0.5, -1.0, 2.0];
    pub const KV_BYTES_PER_TOKEN_GQA: usize = 46_080;
    pub const KV_BYTES_PER_TOKEN_MHA: usize = 138_240;

    /// row: [n_kv·hd] → [n_heads·hd], query head h gets KV head h / (n_heads / n_kv).
    pub fn repeat_kv(row: &[f32], n_heads: usize, n_kv: usize, hd: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(n_heads * hd);
        for h in 0..n_heads {
            let g = h / (n_heads / n_kv);
            out.extend_from_slice(&row[g * hd..(g + 1) * hd]);
        }
        out
    }
}

#[cfg(feature = "solutions")]
mod answer {
    /// Query 0 sees only key 0: softmax of one score is 1, so the output is exactly v₀.
    pub const ROW0: [f32; 3] = [0.5, -1.0, 2.0];
    /// 2 (K and V) × layers × kv_heads × head_dim × 4 bytes.
    pub const KV_BYTES_PER_TOKEN_GQA: usize = 2 * 30 * 3 * 64 * 4;
    pub const KV_BYTES_PER_TOKEN_MHA: usize = 2 * 30 * 9 * 64 * 4;

    pub fn repeat_kv(row: &[f32], n_heads: usize, n_kv: usize, hd: usize) -> Vec<f32> {
        let group = n_heads / n_kv;
        row.chunks(hd)
            .flat_map(|head| std::iter::repeat_n(head, group).flatten().copied())
            .collect()
    }
}

#[test]
fn exercise_1_row_zero() {
    let shape = AttentionShape {
        n_heads: 1,
        n_kv_heads: 1,
        head_dim: 3,
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut cache = KvCache::new(1, 4, 3);
    let mut v = vec![0.5, -1.0, 2.0];
    v.extend(rand_vec(rng.random(), 9));
    cache.write_rows(0, 0, &rand_vec(rng.random(), 12), &v);
    let q = rand_vec(rng.random(), 12);
    let mut out = vec![0.0; 12];
    attention(&q, &cache, 0, 0, &shape, &mut out, None);
    assert_close("output of query 0", &out[..3], &answer::ROW0, 0.0);
}

#[test]
fn exercise_2_kv_bytes() {
    let per_token = |n_kv: usize| KvCache::new(30, 1, n_kv * 64).bytes();
    assert_eq!(answer::KV_BYTES_PER_TOKEN_GQA, per_token(3));
    assert_eq!(answer::KV_BYTES_PER_TOKEN_MHA, per_token(9));
}

#[test]
fn exercise_3_repeat_kv() {
    let (nh, nkv, hd, seq) = (9, 3, 8, 6);
    let gqa = AttentionShape {
        n_heads: nh,
        n_kv_heads: nkv,
        head_dim: hd,
    };
    let mha = AttentionShape {
        n_heads: nh,
        n_kv_heads: nh,
        head_dim: hd,
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let mut cache = KvCache::new(1, seq, nkv * hd);
    cache.write_rows(
        0,
        0,
        &rand_vec(rng.random(), seq * nkv * hd),
        &rand_vec(rng.random(), seq * nkv * hd),
    );
    let mut repeated = KvCache::new(1, seq, nh * hd);
    for pos in 0..seq {
        let k = answer::repeat_kv(cache.k_row(0, pos), nh, nkv, hd);
        let v = answer::repeat_kv(cache.v_row(0, pos), nh, nkv, hd);
        repeated.write(0, pos, &k, &v);
    }
    let q = rand_vec(rng.random(), seq * nh * hd);
    let (mut a, mut b) = (vec![0.0; q.len()], vec![0.0; q.len()]);
    attention(&q, &cache, 0, 0, &gqa, &mut a, None);
    attention(&q, &repeated, 0, 0, &mha, &mut b, None);
    assert_close("MHA over your repeated K/V vs GQA", &b, &a, 0.0);
}
