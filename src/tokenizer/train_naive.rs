//! Stage 1, training: byte-level BPE the naive way (the trainer the lesson teaches).
//!
//! Byte-pair encoding (Sennrich et al. 2016, "Neural Machine Translation of Rare Words with
//! Subword Units"; byte-level as in GPT-2) starts from the 256 single bytes and repeats one step:
//!
//! ```text
//! count every adjacent pair (x, y) in the corpus      stats[(x, y)] = Σ occurrences
//! pick the most frequent pair                         (x*, y*) = argmax stats   (tie-break below)
//! give it the next free id                            new = 256 + merges.len()
//! replace every (x*, y*) by `new`, left to right      [x*, y*, x*, y*] -> [new, new]
//! ```
//!
//! until the vocabulary has the requested size. The corpus is first cut into pre-tokens
//! ("chunks") by the pre-tokenizer's regex, and pairs never cross a chunk boundary, so a merge
//! can never glue the end of one word to the start of the next.
//!
//! This file is deliberately slow and plain, like karpathy/minbpe's `BasicTokenizer.train`: every
//! step recounts every pair of every chunk. It stands alone; `train.rs` builds the fast trainer
//! on it (the same [`TrainConfig`], ids and tie-break; streamed, parallel counting, incremental
//! pair updates), and a property test (`tests/train_equivalence.rs`) proves both produce the
//! same merges.
//!
//! **Tie-break (both trainers):** the highest count wins; among equal counts, the smallest pair
//! `(left id, right id)` in lexicographic order wins. On "aaabdaaabac" this picks (a, a), then
//! (a, b) over (256, a) — both occur twice — and (256, 257): the text becomes
//! `[258, 100, 258, 97, 99]`.

use std::collections::HashMap;

use super::{Pretokenizer, Tokenizer};
use crate::{Error, Result};

/// The id of the first merged token: ids 0..=255 are the single bytes.
pub const FIRST_MERGE_ID: u32 = 256;

/// What to train (both trainers take it).
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// Final vocabulary size: 256 bytes + merges + special tokens.
    pub vocab_size: usize,
    /// How text is cut into pre-tokens before BPE.
    pub pattern: Pretokenizer,
    /// Reserved tokens, appended after the merges in this order (never produced by BPE).
    pub special_tokens: Vec<String>,
    /// Show progress bars on stderr (the fast trainer: reading, then merges/s with an ETA;
    /// the naive one prints nothing).
    pub show_progress: bool,
}

/// The largest vocabulary a trainer makes: 2²⁰ = 1,048,576 tokens (o200k has 200k, Gemma 3
/// 262k). Ids are u32 and each merge costs memory while training, so a vocabulary size of
/// 10¹² is refused up front instead of asking for terabytes.
pub const MAX_VOCAB_SIZE: usize = 1 << 20;

impl TrainConfig {
    /// The number of merges to learn: `vocab_size - 256 - specials`. Both trainers call this
    /// first, so it is where the settings are checked: the vocabulary size within
    /// `256 + specials ..= MAX_VOCAB_SIZE`, special tokens non-empty and distinct.
    pub fn num_merges(&self) -> Result<usize> {
        if self.vocab_size > MAX_VOCAB_SIZE {
            return Err(Error::invalid(format!(
                "vocab size {} is larger than the limit of {MAX_VOCAB_SIZE} tokens",
                self.vocab_size
            )));
        }
        for (i, s) in self.special_tokens.iter().enumerate() {
            if s.is_empty() {
                return Err(Error::invalid(format!(
                    "special token #{} is empty: a special token needs text to match",
                    i + 1
                )));
            }
            if self.special_tokens[..i].contains(s) {
                return Err(Error::invalid(format!(
                    "special token {s:?} is given twice"
                )));
            }
        }
        let floor = FIRST_MERGE_ID as usize + self.special_tokens.len();
        if self.vocab_size < floor {
            return Err(Error::invalid(format!(
                "vocab size {} is too small: a byte-level BPE needs at least 256 byte tokens + {} \
                 special token(s) = {floor}",
                self.vocab_size,
                self.special_tokens.len()
            )));
        }
        Ok(self.vocab_size - floor)
    }
}

// ANCHOR: tie_break
/// Does candidate `a` beat candidate `b`? Each is `(count, (left id, right id))`.
/// Highest count first; on a tie the smaller pair wins, so the result never depends on the
/// iteration order of a hash map.
pub fn beats(a: (u64, (u32, u32)), b: (u64, (u32, u32))) -> bool {
    a.0 > b.0 || (a.0 == b.0 && a.1 < b.1)
}
// ANCHOR_END: tie_break

// ANCHOR: pair_counts
/// Count every adjacent pair in every chunk.
/// `[[1, 2, 3, 1, 2]] -> {(1, 2): 2, (2, 3): 1, (3, 1): 1}`
pub fn pair_counts(chunks: &[Vec<u32>]) -> HashMap<(u32, u32), u64> {
    let mut stats = HashMap::new();
    for ids in chunks {
        for w in ids.windows(2) {
            *stats.entry((w[0], w[1])).or_insert(0) += 1;
        }
    }
    stats
}
// ANCHOR_END: pair_counts

// ANCHOR: merge
/// Replace every occurrence of `pair` in `ids` by `new_id`, scanning left to right.
/// `ids = [1, 2, 3, 1, 2], pair = (1, 2), new_id = 4 -> [4, 3, 4]`;
/// overlapping runs merge from the left: `[7, 7, 7], (7, 7), 9 -> [9, 7]`.
pub fn merge(ids: &[u32], pair: (u32, u32), new_id: u32) -> Vec<u32> {
    let mut out = Vec::with_capacity(ids.len());
    let mut i = 0;
    while i < ids.len() {
        if i + 1 < ids.len() && (ids[i], ids[i + 1]) == pair {
            out.push(new_id);
            i += 2;
        } else {
            out.push(ids[i]);
            i += 1;
        }
    }
    out
}
// ANCHOR_END: merge

// ANCHOR: train_loop
/// Learn `num_merges` merges from `chunks` (each a pre-token as byte ids 0..=255).
/// Stops early when no chunk has two symbols left.
pub fn naive_merges(mut chunks: Vec<Vec<u32>>, num_merges: usize) -> Vec<(u32, u32)> {
    let mut merges = Vec::with_capacity(num_merges);
    while merges.len() < num_merges {
        // 1. count all pairs (the whole corpus, every step: this is the slow part)
        let stats = pair_counts(&chunks);
        // 2. the most frequent pair, ties to the smallest pair
        let mut best: Option<(u64, (u32, u32))> = None;
        for (&pair, &count) in &stats {
            if best.is_none_or(|b| beats((count, pair), b)) {
                best = Some((count, pair));
            }
        }
        let Some((_, pair)) = best else { break };
        // 3. mint the next id and rewrite every chunk
        let new_id = FIRST_MERGE_ID + merges.len() as u32;
        for ids in chunks.iter_mut() {
            *ids = merge(ids, pair, new_id);
        }
        merges.push(pair);
    }
    merges
}
// ANCHOR_END: train_loop

// ANCHOR: encode_naive
/// Encode one chunk with learned merges, minbpe style: while some adjacent pair has a merge,
/// apply the one learned *earliest* (lowest id), everywhere in the chunk.
pub fn encode_naive(bytes: &[u8], merges: &[(u32, u32)]) -> Vec<u32> {
    let rank: HashMap<(u32, u32), u32> = merges
        .iter()
        .enumerate()
        .map(|(i, &p)| (p, FIRST_MERGE_ID + i as u32))
        .collect();
    let mut ids: Vec<u32> = bytes.iter().map(|&b| b as u32).collect();
    while ids.len() >= 2 {
        let best = ids
            .windows(2)
            .filter_map(|w| rank.get(&(w[0], w[1])).map(|&id| (id, (w[0], w[1]))))
            .min();
        let Some((new_id, pair)) = best else { break };
        ids = merge(&ids, pair, new_id);
    }
    ids
}
// ANCHOR_END: encode_naive

/// The chunks of `text` as byte ids, one `Vec` per pre-token occurrence (no de-duplication:
/// the naive trainer sees the corpus exactly as written).
pub fn chunk_ids(text: &str, cfg: &TrainConfig) -> Vec<Vec<u32>> {
    cfg.pattern
        .split_vec(text)
        .into_iter()
        .map(|piece| piece.bytes().map(u32::from).collect())
        .collect()
}

/// Train a tokenizer on `text` with the naive trainer: pre-tokenize with `cfg.pattern`, learn
/// `cfg.vocab_size - 256 - specials` merges, append the special tokens.
/// Errors: a vocab size below 256 + specials; a text with no pre-tokens.
pub fn train_naive(text: &str, cfg: &TrainConfig) -> Result<Tokenizer> {
    let num_merges = cfg.num_merges()?;
    let chunks = chunk_ids(text, cfg);
    if chunks.is_empty() {
        return Err(Error::invalid(
            "empty corpus: the training text has no pre-tokens",
        ));
    }
    let merges = naive_merges(chunks, num_merges);
    Ok(Tokenizer::from_merges(
        &merges,
        cfg.pattern,
        &cfg.special_tokens,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_doc_examples() {
        assert_eq!(merge(&[1, 2, 3, 1, 2], (1, 2), 4), vec![4, 3, 4]);
        assert_eq!(merge(&[7, 7, 7], (7, 7), 9), vec![9, 7]);
    }

    #[test]
    fn wikipedia_example() {
        let chunks = vec![b"aaabdaaabac".iter().map(|&b| b as u32).collect()];
        let merges = naive_merges(chunks, 3);
        assert_eq!(merges, vec![(97, 97), (97, 98), (256, 257)]);
        assert_eq!(
            encode_naive(b"aaabdaaabac", &merges),
            vec![258, 100, 258, 97, 99]
        );
    }
}
