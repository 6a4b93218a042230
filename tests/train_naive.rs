//! The naive trainer on the classic worked example (Wikipedia's "Byte pair encoding" page,
//! also minbpe's test): "aaabdaaabac", 3 merges.

use glassbox::tokenizer::train_naive::TrainConfig;
use glassbox::tokenizer::train_naive::{
    encode_naive, merge, naive_merges, pair_counts, train_naive,
};
use glassbox::tokenizer::Pretokenizer;

fn cfg(vocab_size: usize) -> TrainConfig {
    TrainConfig {
        vocab_size,
        pattern: Pretokenizer::Gpt2,
        special_tokens: vec![],
        show_progress: false,
    }
}

fn bytes(s: &str) -> Vec<u32> {
    s.bytes().map(u32::from).collect()
}

#[test]
fn aaabdaaabac_three_merges() {
    // (a,a) occurs 4 times; then (a,b) and (256,a) tie at 2 and the smaller pair (97,98) wins;
    // then (256,257) occurs twice.
    let merges = naive_merges(vec![bytes("aaabdaaabac")], 3);
    assert_eq!(merges, vec![(97, 97), (97, 98), (256, 257)]);
    assert_eq!(
        encode_naive(b"aaabdaaabac", &merges),
        vec![258, 100, 258, 97, 99]
    );
}

#[test]
fn aaabdaaabac_through_the_tokenizer() {
    // The GPT-2 pattern keeps "aaabdaaabac" as one pre-token (all letters), so training the
    // whole pipeline on it is the worked example; the real encoder must agree.
    let tok = train_naive("aaabdaaabac", &cfg(256 + 3)).expect("trains");
    assert_eq!(tok.encode("aaabdaaabac"), vec![258, 100, 258, 97, 99]);
    assert_eq!(tok.vocab_size(), 259);
    assert_eq!(tok.token_bytes(258), Some(&b"aaab"[..]));
    assert_eq!(
        tok.decode(&[258, 100, 258, 97, 99]).expect("decodes"),
        "aaabdaaabac"
    );
}

#[test]
fn pair_counts_and_merge_doc_examples() {
    let stats = pair_counts(&[vec![1, 2, 3, 1, 2]]);
    assert_eq!(stats.get(&(1, 2)), Some(&2));
    assert_eq!(stats.get(&(2, 3)), Some(&1));
    assert_eq!(stats.get(&(3, 1)), Some(&1));
    assert_eq!(stats.len(), 3);
    assert_eq!(merge(&[1, 2, 3, 1, 2], (1, 2), 4), vec![4, 3, 4]);
    assert_eq!(merge(&[7, 7, 7], (7, 7), 9), vec![9, 7]);
}

#[test]
fn pairs_never_cross_pretokens() {
    // "ab ab" is two pre-tokens, "ab" and " ab": (b, ' ') must never be merged.
    let merges = naive_merges(
        glassbox::tokenizer::train_naive::chunk_ids("ab ab ab", &cfg(300)),
        10,
    );
    assert!(!merges.contains(&(98, 32)), "{merges:?}");
    assert_eq!(merges[0], (97, 98));
}

#[test]
fn stops_when_nothing_is_left_to_merge() {
    let merges = naive_merges(vec![bytes("abc")], 50);
    assert_eq!(merges, vec![(97, 98), (256, 99)]);
}
