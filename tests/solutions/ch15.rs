//! Chapter 15, reference solutions (included in the book's appendix; checked by
//! `cargo test --test ch15_exercises --features solutions`).

// ANCHOR: ex1
/// 12 words > 8, so the paragraph is cut into sentences of 4, 3 and 5 words. 4 + 3 = 7 fit;
/// adding 5 would make 12, so chunk 1 ends. The next chunk may repeat up to min(3, 8 − 5) = 3
/// tokens: "Five six seven." (3) fits, "One two three four." would not. 3 + 5 = 8 ≤ 8.
pub fn chunks() -> Vec<&'static str> {
    vec![
        "One two three four. Five six seven.",
        "Five six seven. Eight nine ten eleven twelve.",
    ]
}
// ANCHOR_END: ex1

// ANCHOR: ex2
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
// ANCHOR_END: ex2
