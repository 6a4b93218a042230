//! Chapter 3 exercises: attention.
//!
//! The exercises ship open: each function in `answer` below is a `todo!()` for you to replace.
//! A plain `cargo test` skips them (they are `#[ignore]`d, so the suite stays green); run yours
//! with
//!
//! ```text
//! cargo test --test ch03_exercises -- --ignored
//! ```
//!
//! The reference solutions are in `tests/solutions/ch03.rs` (and the book's appendix);
//! `cargo test --test ch03_exercises --features solutions` checks them.
//!
//! 1. **Predict the output.** With causal attention, what is the output of query 0 for any
//!    q, k and v₀ = [0.5, −1, 2]?
//! 2. **Predict the bytes.** SmolLM2-135M (30 layers, 3 KV heads of 64) keeps K and V in f32.
//!    How many bytes of KV-cache per token of context? And if every one of its 9 query heads had
//!    its own KV head (plain multi-head attention)?
//! 3. **Make it pass.** Write `repeat_kv`, which copies each KV head of one position to every
//!    query head that reads it; the test checks that GQA over the original cache equals plain
//!    multi-head attention over your repeated one.

use glassbox::attention::{attention, AttentionShape};
use glassbox::compare::assert_close;
use glassbox::compare::rand_vec;
use glassbox::kv_cache::KvCache;
use rand::{Rng, SeedableRng};

/// Your answers: replace each `todo!()`.
#[cfg(not(feature = "solutions"))]
#[allow(unused_variables)]
mod answer {
    /// Exercise 1: the output of query 0 when v₀ = [0.5, −1, 2].
    pub fn row0() -> [f32; 3] {
        todo!("exercise 1: which keys can query 0 see, and what is a softmax over one score?")
    }

    /// Exercise 2: KV-cache bytes per token of context, (with 3 KV heads, with 9).
    pub fn kv_bytes_per_token() -> (usize, usize) {
        todo!("exercise 2: K and V × layers × KV heads × head_dim × bytes per f32")
    }

    /// Exercise 3: `row: [n_kv·hd]` → `[n_heads·hd]`; query head h gets KV head h / (n_heads / n_kv).
    pub fn repeat_kv(row: &[f32], n_heads: usize, n_kv: usize, hd: usize) -> Vec<f32> {
        todo!("exercise 3: for each query head, copy the hd values of the KV head it reads")
    }
}

/// The reference solutions (`--features solutions`).
#[cfg(feature = "solutions")]
#[path = "solutions/ch03.rs"]
mod answer;

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::row0, then run with -- --ignored"
)]
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
    assert_close("output of query 0", &answer::row0(), &out[..3], 0.0);
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::kv_bytes_per_token, then run with -- --ignored"
)]
fn exercise_2_kv_bytes() {
    let per_token = |n_kv: usize| KvCache::new(30, 1, n_kv * 64).bytes();
    let (gqa, mha) = answer::kv_bytes_per_token();
    assert_eq!(gqa, per_token(3), "3 KV heads: your answer {gqa}");
    assert_eq!(mha, per_token(9), "9 KV heads: your answer {mha}");
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: write answer::repeat_kv, then run with -- --ignored"
)]
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
        assert_eq!(
            k.len(),
            nh * hd,
            "repeat_kv must return n_heads × hd values"
        );
        repeated.write(0, pos, &k, &v);
    }
    let q = rand_vec(rng.random(), seq * nh * hd);
    let (mut a, mut b) = (vec![0.0; q.len()], vec![0.0; q.len()]);
    attention(&q, &cache, 0, 0, &gqa, &mut a, None);
    attention(&q, &repeated, 0, 0, &mha, &mut b, None);
    assert_close("MHA over your repeated K/V vs GQA", &b, &a, 0.0);
}
