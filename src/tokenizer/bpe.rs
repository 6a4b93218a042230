//! Stage 1: the BPE merge loop — turn one pre-token's bytes into token ids.
//!
//! A piece starts as one id per byte. Then, repeatedly, among all adjacent pairs `(a, b)` that
//! have a merge rule, the pair with the **lowest rank** (the earliest learned merge) is replaced
//! by its merged token; ties go to the **leftmost** pair. It stops when no adjacent pair has a
//! rule. Worked example with merges `(a,a)→Z` rank 0, `(a,b)→Y` rank 1:
//! `a a a b` → `Z a b` (rank 0, leftmost) → `Z Y` (rank 1) → no rule for `(Z,Y)`: done.
//!
//! Three versions with the same result:
//! * [`merge_naive`]: the definition above, recomputing every pair each step — O(n²) lookups.
//! * [`merge_small`]: tiktoken's loop; caches each pair's rank in a vector beside the ids and
//!   after a merge recomputes only the two neighbours — O(n·m) memory moves but no hashing
//!   beyond 2 per merge, and cache-friendly: the fastest for the short pieces prose is made of.
//! * [`merge_heap`]: a min-heap of `(rank, position)` over a doubly linked list — O(n log n),
//!   used for long pieces (a 10 kB run of CJK letters or base64 is one pre-token).
//!
//! Merge rules are keyed by the *pair of ids* (as Hugging Face's BPE does). tiktoken keys by
//! the *bytes* of the concatenation; a `.tiktoken` file is converted to pair rules by listing
//! every split `p + q = t` of every token `t` into two tokens (see `Tokenizer::from_ranks`),
//! which makes the two definitions agree exactly.
//!
//! Performance notes (measured with `cargo bench --features oracles --bench tokenize`, 1 MB of the Brown corpus
//! and 1 MB of Rust sources, one thread; numbers in benches/README.md):
//! * Pre-tokenization by regex (fancy-regex, as tiktoken-rs does) runs at ~2–10 MB/s; the
//!   hand-written scanner in `pretokenize/scan.rs` at ~80–250 MB/s. With it, BPE is the cost.
//! * Most pre-tokens of prose are whole tokens: one hash lookup replaces the merge loop
//!   (`WholePieces` in vocab.rs packs keys of ≤ 7 bytes into a `u64`, no pointer chasing;
//!   built the first time a long text is encoded, so loading a model does not wait for it).
//! * Merge rules are looked up by `u64` pair key with FxHash. Dropped: FxHash without a final
//!   rotation — the table indexes by the low bits, which then depend only on the right id;
//!   the collisions made o200k encoding ~7× slower (4.5 vs 32 MB/s on prose, one run).
//! * Not done (yet): a per-thread cache of recent pieces (HF does this), SIMD classification.
//!
//! Reference: Sennrich et al. 2016 (BPE for NMT); openai/tiktoken `src/lib.rs` (`_byte_pair_merge`).

use super::fxhash::FxHashMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// `(left, right)` ids → `(rank, merged id)`.
pub type MergeMap = FxHashMap<u64, (u32, u32)>;

/// The hash key of an adjacent pair: `left << 32 | right`. Comparing keys compares
/// `(left, right)` lexicographically (the trainers' tie-break order).
#[inline(always)]
pub fn pair_key(a: u32, b: u32) -> u64 {
    ((a as u64) << 32) | b as u64
}

/// The pair a [`pair_key`] stands for.
#[inline(always)]
pub fn pair_of(key: u64) -> (u32, u32) {
    ((key >> 32) as u32, key as u32)
}

/// Pieces at least this many bytes long use the heap version (tiktoken uses 100 too).
pub const HEAP_THRESHOLD: usize = 100;

/// `(rank << 32) | merged_id` of the pair, or `u64::MAX` when the pair has no rule. Packing
/// both in one `u64` makes "lowest rank" a plain integer minimum.
#[inline(always)]
fn packed(merges: &MergeMap, a: u32, b: u32) -> u64 {
    match merges.get(&pair_key(a, b)) {
        Some(&(rank, id)) => ((rank as u64) << 32) | id as u64,
        None => u64::MAX,
    }
}

/// The definition, kept as the reference: find the lowest-rank adjacent pair (leftmost on a
/// tie), merge it, repeat. `ids` holds the byte ids on entry and the tokens on exit.
pub fn merge_naive(merges: &MergeMap, ids: &mut Vec<u32>) {
    loop {
        let mut best: Option<(u32, usize, u32)> = None; // (rank, position, merged id)
        for i in 0..ids.len().saturating_sub(1) {
            if let Some(&(rank, id)) = merges.get(&pair_key(ids[i], ids[i + 1])) {
                if best.is_none_or(|(r, _, _)| rank < r) {
                    best = Some((rank, i, id));
                }
            }
        }
        let Some((_, i, id)) = best else { return };
        ids[i] = id;
        ids.remove(i + 1);
    }
}

/// tiktoken's loop: `ranks[i]` caches the packed rule of pair `(ids[i], ids[i+1])`.
/// `ranks` is scratch space (reused between pieces to avoid allocating).
pub fn merge_small(merges: &MergeMap, ids: &mut Vec<u32>, ranks: &mut Vec<u64>) {
    ranks.clear();
    ranks.extend(ids.windows(2).map(|w| packed(merges, w[0], w[1])));
    loop {
        // the lowest packed value is the lowest rank; `<` keeps the leftmost on a tie
        let mut best = u64::MAX;
        let mut at = 0;
        for (i, &r) in ranks.iter().enumerate() {
            if r < best {
                best = r;
                at = i;
            }
        }
        if best == u64::MAX {
            return;
        }
        // ids:   [.. p, a, b, q ..]  →  [.. p, ab, q ..]
        // ranks: [.. (p,a), (a,b), (b,q) ..]  →  [.. (p,ab), (ab,q) ..]
        ids[at] = best as u32;
        ids.remove(at + 1);
        ranks.remove(at);
        if at > 0 {
            ranks[at - 1] = packed(merges, ids[at - 1], ids[at]);
        }
        if at + 1 < ids.len() {
            ranks[at] = packed(merges, ids[at], ids[at + 1]);
        }
    }
}

const NONE: u32 = u32::MAX;

/// The O(n log n) version: positions form a doubly linked list; the heap holds candidate
/// merges `(rank, left position)`. An entry is stale when its left token died or the pair at
/// that position now has another rank; stale entries are skipped when popped.
pub fn merge_heap(merges: &MergeMap, ids: &mut Vec<u32>) {
    let n = ids.len();
    if n < 2 {
        return;
    }
    let mut prev: Vec<u32> = (0..n as u32).map(|i| i.wrapping_sub(1)).collect(); // 0 → NONE
    let mut next: Vec<u32> = (1..=n as u32).collect();
    next[n - 1] = NONE;
    let mut alive = vec![true; n];
    let mut heap = BinaryHeap::with_capacity(n);
    for i in 0..n - 1 {
        if let Some(&(rank, _)) = merges.get(&pair_key(ids[i], ids[i + 1])) {
            heap.push(Reverse((rank, i as u32)));
        }
    }
    while let Some(Reverse((rank, i))) = heap.pop() {
        let i = i as usize;
        let j = next[i];
        if !alive[i] || j == NONE {
            continue;
        }
        let j = j as usize;
        let id = match merges.get(&pair_key(ids[i], ids[j])) {
            Some(&(r, id)) if r == rank => id,
            _ => continue, // stale
        };
        // merge: i absorbs j
        ids[i] = id;
        alive[j] = false;
        next[i] = next[j];
        if next[j] != NONE {
            prev[next[j] as usize] = i as u32;
        }
        if prev[i] != NONE {
            let p = prev[i] as usize;
            if let Some(&(r, _)) = merges.get(&pair_key(ids[p], ids[i])) {
                heap.push(Reverse((r, p as u32)));
            }
        }
        if next[i] != NONE {
            if let Some(&(r, _)) = merges.get(&pair_key(ids[i], ids[next[i] as usize])) {
                heap.push(Reverse((r, i as u32)));
            }
        }
    }
    let mut w = 0;
    let mut i = 0u32;
    while i != NONE {
        ids[w] = ids[i as usize];
        w += 1;
        i = next[i as usize];
    }
    ids.truncate(w);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(list: &[(u32, u32, u32)]) -> MergeMap {
        let mut m = MergeMap::default();
        for (rank, &(a, b, id)) in list.iter().enumerate() {
            m.insert(pair_key(a, b), (rank as u32, id));
        }
        m
    }

    #[test]
    fn worked_example_all_three_agree() {
        // a=97 b=98; (a,a)→256 rank 0, (a,b)→257 rank 1
        let m = rules(&[(97, 97, 256), (97, 98, 257)]);
        for f in [0, 1, 2] {
            let mut ids = vec![97, 97, 97, 98];
            match f {
                0 => merge_naive(&m, &mut ids),
                1 => merge_small(&m, &mut ids, &mut Vec::new()),
                _ => merge_heap(&m, &mut ids),
            }
            assert_eq!(ids, vec![256, 257], "version {f}");
        }
    }

    #[test]
    fn random_rules_all_three_agree() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..200 {
            // random merge list over a 4-letter alphabet
            let mut list = Vec::new();
            for next_id in 4u32..4 + rng.random_range(1..20) {
                let a = rng.random_range(0..next_id);
                let b = rng.random_range(0..next_id);
                list.push((a, b, next_id));
            }
            let m = rules(&list);
            let len = rng.random_range(0..300);
            let ids: Vec<u32> = (0..len).map(|_| rng.random_range(0..4)).collect();
            let (mut x, mut y, mut z) = (ids.clone(), ids.clone(), ids);
            merge_naive(&m, &mut x);
            merge_small(&m, &mut y, &mut Vec::new());
            merge_heap(&m, &mut z);
            assert_eq!(x, y);
            assert_eq!(x, z);
        }
    }
}
