//! Chapter 15 exercises: `cargo test --test ch15_exercises`.
//!
//! The answers below are filled in so that the book's CI stays green. Cover them up, write your
//! own, and run the test. The reference answers are behind the `solutions` feature:
//! `cargo test --test ch15_exercises --features solutions`.
//!
//! 1. **Predict the chunks.** One paragraph, "One two three four. Five six seven. Eight nine ten
//!    eleven twelve.", counted one token per word, cut with `max_tokens` 8 and `overlap_tokens`
//!    3. Which chunks come out?
//! 2. **Make it pass.** Write `answer::retrieve`: the indices of the `k` rows of a `[n, dim]`
//!    store most similar to the query (rows and query have length 1), best first, ties by the
//!    lower index. The test compares it with `rag::search::top_k_naive` on random stores.

use glassbox::rag::chunk::{chunk_text, ChunkConfig};
use glassbox::rag::search::top_k_naive;

#[cfg(not(feature = "solutions"))]
mod answer {
    pub const CHUNKS: [&str; 2] = [
        "One two three four. Five six seven.",
        "Five six seven. Eight nine ten eleven twelve.",
    ];

    pub fn retrieve(store: &[f32], dim: usize, query: &[f32], k: usize) -> Vec<usize> {
        let mut scored: Vec<(f32, usize)> = store
            .chunks_exact(dim)
            .enumerate()
            .map(|(i, row)| (row.iter().zip(query).map(|(a, b)| a * b).sum(), i))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.into_iter().take(k).map(|s| s.1).collect()
    }
}

#[cfg(feature = "solutions")]
mod answer {
    /// 12 words > 8, so the paragraph is cut into sentences of 4, 3 and 5 words. 4 + 3 = 7 fit;
    /// adding 5 would make 12, so chunk 1 ends. The next chunk may repeat up to min(3, 8 − 5) = 3
    /// tokens: "Five six seven." (3) fits, "One two three four." would not. 3 + 5 = 8 ≤ 8.
    pub const CHUNKS: [&str; 2] = [
        "One two three four. Five six seven.",
        "Five six seven. Eight nine ten eleven twelve.",
    ];

    /// Score every row (a dot product: the vectors have length 1) and keep the k best in a
    /// min-heap of size k: O(n log k), no list of n scores to sort.
    pub fn retrieve(store: &[f32], dim: usize, query: &[f32], k: usize) -> Vec<usize> {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        // ordered by (score, then the lower index as the better one)
        struct Key(f32, Reverse<usize>);
        impl Ord for Key {
            fn cmp(&self, o: &Self) -> std::cmp::Ordering {
                self.0.total_cmp(&o.0).then(self.1.cmp(&o.1))
            }
        }
        impl PartialOrd for Key {
            fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(o))
            }
        }
        impl PartialEq for Key {
            fn eq(&self, o: &Self) -> bool {
                self.cmp(o).is_eq()
            }
        }
        impl Eq for Key {}
        let mut heap: BinaryHeap<Reverse<Key>> = BinaryHeap::with_capacity(k + 1);
        for (i, row) in store.chunks_exact(dim).enumerate() {
            let s: f32 = row.iter().zip(query).map(|(a, b)| a * b).sum();
            heap.push(Reverse(Key(s, Reverse(i))));
            if heap.len() > k {
                heap.pop(); // drop the worst
            }
        }
        heap.into_sorted_vec()
            .into_iter()
            .map(|Reverse(Key(_, Reverse(i)))| i)
            .collect()
    }
}

#[test]
fn exercise_1_predict_the_chunks() {
    let text = "One two three four. Five six seven. Eight nine ten eleven twelve.";
    let cfg = ChunkConfig {
        max_tokens: 8,
        overlap_tokens: 3,
    };
    let got: Vec<String> = chunk_text(text, cfg, |t| t.split_whitespace().count())
        .into_iter()
        .map(|c| c.text)
        .collect();
    assert_eq!(got, answer::CHUNKS, "computed {got:?}");
}

#[test]
fn exercise_2_retrieve_equals_the_reference() {
    for (seed, n, dim, k) in [
        (1u64, 50, 8, 3),
        (2, 500, 384, 5),
        (3, 7, 33, 7),
        (4, 20, 4, 0),
    ] {
        let mut store = glassbox::compare::rand_vec(seed, n * dim);
        for row in store.chunks_exact_mut(dim) {
            glassbox::model::bert::l2_normalize(row);
        }
        let mut q = glassbox::compare::rand_vec(seed + 100, dim);
        glassbox::model::bert::l2_normalize(&mut q);
        let want: Vec<usize> = top_k_naive(&store, &q, k)
            .into_iter()
            .map(|h| h.index)
            .collect();
        assert_eq!(
            answer::retrieve(&store, dim, &q, k),
            want,
            "n {n}, dim {dim}, k {k}"
        );
    }
}
