//! Retrieval: the SIMD scan with partial selection equals the f64 full-sort reference, ties
//! included; and the semantic cache answers exactly above its threshold.

use glassbox::rag::cache::lookup;
use glassbox::rag::search::{top_k, top_k_naive, Hit};
use glassbox::rag::store::CachedAnswer;
use proptest::prelude::*;

/// f32 SIMD dot products of 384 terms in [−1, 1] vs f64 sums: |Δ| ≲ 384 · 2⁻²⁴ ≈ 2e-5.
const SCORE_TOL: f32 = 5e-5;

fn unit(v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.into_iter().map(|x| x / n).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Same hits in the same order, as long as no two scores are closer than the rounding
    /// (with quantised vectors many are *exactly* equal: then both break ties by index).
    #[test]
    fn scan_equals_reference(
        n in 0usize..300, dim in prop::sample::select(vec![1usize, 7, 8, 33, 384]), k in 0usize..20,
        quantised in any::<bool>(), seed in any::<u64>(),
    ) {
        let mut s = seed;
        let mut next = || { s = s.wrapping_mul(6364136223846793005).wrapping_add(1); ((s >> 40) as f32 / 16777216.0) * 2.0 - 1.0 };
        let mut data = Vec::with_capacity(n * dim);
        for _ in 0..n {
            let v: Vec<f32> = (0..dim).map(|_| if quantised { (next() * 2.0).round() / 2.0 } else { next() }).collect();
            data.extend(if quantised { v } else { unit(v) });
        }
        let q: Vec<f32> = (0..dim).map(|_| if quantised { (next() * 2.0).round() / 2.0 } else { next() }).collect();
        let fast = top_k(&data, &q, k);
        let slow = top_k_naive(&data, &q, k);
        prop_assert_eq!(fast.len(), k.min(n));
        for (f, r) in fast.iter().zip(&slow) {
            prop_assert!((f.score - r.score).abs() <= SCORE_TOL, "{:?} vs {:?}", f, r);
            if quantised {
                prop_assert_eq!(f, r); // exact arithmetic on halves: identical, ties by index
            }
        }
    }
}

#[test]
fn by_hand() {
    // rows: [1,0], [0,1], [0.6,0.8], [1,0]; query [1,0] → scores 1, 0, 0.6, 1
    let data = [1.0, 0.0, 0.0, 1.0, 0.6, 0.8, 1.0, 0.0];
    let hits = top_k(&data, &[1.0, 0.0], 3);
    let want = [
        Hit {
            index: 0,
            score: 1.0,
        },
        Hit {
            index: 3,
            score: 1.0,
        },
        Hit {
            index: 2,
            score: 0.6,
        },
    ];
    assert_eq!(hits, want);
    assert!(top_k(&data, &[1.0, 0.0], 0).is_empty());
    assert_eq!(top_k(&data, &[1.0, 0.0], 99).len(), 4);
}

#[test]
fn cache_answers_only_above_the_threshold() {
    let answer = |q: &str, e: [f32; 2]| CachedAnswer {
        question: q.into(),
        embedding: e.to_vec(),
        answer: format!("answer to {q}"),
        sources: String::new(),
    };
    let cache = [answer("a", [1.0, 0.0]), answer("b", [0.0, 1.0])];
    let q = unit(vec![0.96, 0.28]); // cosine 0.96 with "a", 0.28 with "b"
    let hit = lookup(&cache, &q, 0.95).expect("0.96 ≥ 0.95");
    assert_eq!(hit.earlier.question, "a");
    assert!((hit.similarity - 0.96).abs() < 1e-6);
    assert!(lookup(&cache, &q, 0.97).is_none());
    assert!(lookup(&[], &q, 0.5).is_none());
}
