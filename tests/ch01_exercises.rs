//! Chapter 1 exercises: byte-pair encoding by hand.
//!
//! The exercises ship open: each function in `answer` below is a `todo!()` for you to replace.
//! A plain `cargo test` skips them (they are `#[ignore]`d, so the suite stays green); run yours
//! with
//!
//! ```text
//! cargo test --test ch01_exercises -- --ignored
//! ```
//!
//! A wrong answer fails with the computed value beside yours. The reference solutions are in
//! `tests/solutions/ch01.rs` (and the book's appendix); `cargo test --test ch01_exercises
//! --features solutions -- --nocapture` checks them and prints the pair counts of every step.
//!
//! 1. **Predict the ids.** Train 3 merges on "aaabdaaabac" as one chunk, with our tie-break
//!    (highest count, then the smallest pair). Which ids does "aaabdaaabac" become?
//!    (a = 97, b = 98, c = 99, d = 100; new ids start at 256.)
//! 2. **Predict the merges.** The corpus "hug pug pun bun hugs", GPT-2 pre-tokenizer: chunks
//!    "hug", " pug", " pun", " bun", " hugs". Which three pairs are merged first, as text?
//!    Two of them are decided by the tie-break.
//! 3. **Numbers.** How many pre-tokens does "1234567" become with the cl100k pattern (digits in
//!    groups of at most three) and with SmolLM2's (every digit alone)?
//! 4. **Make it pass.** Write `merge`: replace every occurrence of `pair` in `ids` by `new_id`,
//!    left to right (`[97, 97, 97]` with (97, 97) → `[256, 97]`). The test compares it with
//!    the library's on random sequences.

use glassbox::tokenizer::train::train_text;
use glassbox::tokenizer::train_naive::{merge, naive_merges, TrainConfig};
use glassbox::tokenizer::Pretokenizer;
use rand::{Rng, SeedableRng};

/// Your answers: replace each `todo!()`.
#[cfg(not(feature = "solutions"))]
#[allow(unused_variables)]
mod answer {
    /// Exercise 1: the ids of "aaabdaaabac" after 3 merges.
    pub fn aaabdaaabac_ids() -> Vec<u32> {
        todo!("exercise 1: run the three merges of chapter 1's table by hand")
    }

    /// Exercise 2: the first three merges of "hug pug pun bun hugs", as (left, right) text.
    pub fn first_merges() -> [(&'static str, &'static str); 3] {
        todo!("exercise 2: count the pairs inside each chunk; ties go to the smallest pair of ids")
    }

    /// Exercise 3: pre-tokens of "1234567" with (cl100k, SmolLM2).
    pub fn digit_pieces() -> (usize, usize) {
        todo!("exercise 3: cl100k groups digits by three, SmolLM2 splits every digit")
    }

    /// Exercise 4: `ids` with every `pair` replaced by `new_id`, left to right.
    pub fn merge(ids: &[u32], pair: (u32, u32), new_id: u32) -> Vec<u32> {
        todo!("exercise 4: walk ids once; at a match push new_id and skip two, else push one")
    }
}

/// The reference solutions (`--features solutions`).
#[cfg(feature = "solutions")]
#[path = "solutions/ch01.rs"]
mod answer;

fn bytes(s: &str) -> Vec<u32> {
    s.bytes().map(u32::from).collect()
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::aaabdaaabac_ids, then run with -- --ignored"
)]
fn exercise_1_aaabdaaabac() {
    let mut ids = bytes("aaabdaaabac");
    for (i, pair) in naive_merges(vec![ids.clone()], 3).into_iter().enumerate() {
        ids = merge(&ids, pair, 256 + i as u32);
    }
    let yours = answer::aaabdaaabac_ids();
    assert_eq!(yours, ids, "your answer {yours:?}, computed {ids:?}");
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::first_merges, then run with -- --ignored"
)]
fn exercise_2_first_merges() {
    let cfg = TrainConfig {
        vocab_size: 256 + 3,
        pattern: Pretokenizer::Gpt2,
        special_tokens: vec![],
        show_progress: false,
    };
    let tok = train_text("hug pug pun bun hugs", &cfg).expect("trains");
    let text = |id: u32| String::from_utf8_lossy(tok.token_bytes(id).unwrap_or(&[])).into_owned();
    let got: Vec<(String, String)> = tok
        .merges()
        .iter()
        .map(|&(a, b)| (text(a), text(b)))
        .collect();
    let yours: Vec<(String, String)> = answer::first_merges()
        .iter()
        .map(|&(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(yours, got, "your answer {yours:?}, computed {got:?}");
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::digit_pieces, then run with -- --ignored"
)]
fn exercise_3_numbers() {
    let cl = Pretokenizer::Cl100k.split_vec("1234567");
    let smol = Pretokenizer::SmolLm.split_vec("1234567");
    let (yours_cl, yours_smol) = answer::digit_pieces();
    assert_eq!(yours_cl, cl.len(), "cl100k pieces: {cl:?}");
    assert_eq!(yours_smol, smol.len(), "SmolLM2 pieces: {smol:?}");
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: write answer::merge, then run with -- --ignored"
)]
fn exercise_4_merge() {
    // the overlapping case first: "aaa" merges left to right
    assert_eq!(answer::merge(&[97, 97, 97], (97, 97), 256), [256, 97]);
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    for _ in 0..500 {
        // ids over a tiny alphabet, so the pair occurs often and overlaps
        let n = rng.random_range(0..40);
        let ids: Vec<u32> = (0..n).map(|_| rng.random_range(0..3)).collect();
        let pair = (rng.random_range(0..3), rng.random_range(0..3));
        let want = merge(&ids, pair, 256);
        let yours = answer::merge(&ids, pair, 256);
        assert_eq!(yours, want, "merge {pair:?} in {ids:?}");
    }
}
