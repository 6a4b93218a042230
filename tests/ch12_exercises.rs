//! Chapter 12 exercises: read a stream the way a client does, and predict what the prefix cache
//! keeps.
//!
//! The exercises ship open: each function in `answer` below is a `todo!()` for you to replace.
//! A plain `cargo test` skips them (they are `#[ignore]`d, so the suite stays green); run yours
//! with
//!
//! ```text
//! cargo test --test ch12_exercises -- --ignored
//! ```
//!
//! A wrong answer fails with the computed value beside yours. The reference solutions are in
//! `tests/solutions/ch12.rs` (and the book's appendix); `cargo test --test ch12_exercises
//! --features solutions -- --nocapture` checks them and prints the worked steps.
//!
//! 1. **Read a stream by hand.** What text does the user see for the bytes of `RAW` below?
//! 2. **Predict the prefix cache.** The cache holds 7 ids; turn 2's prompt shares a prefix with
//!    them. How many ids does the prefill reuse, and how many does it run?

use glassbox::generate::{generate, GenerateConfig, NextTokenModel, ScriptedModel};
use glassbox::tokenizer::{Pretokenizer, Tokenizer};

// Exercise 1. These are the raw bytes of a streamed answer (after HTTP's chunking is removed).
// What text does the user see? (Comments start with `:`; every event ends with a blank line;
// the stream ends at `data: [DONE]`.)
const RAW: &[u8] = b": keep-alive\n\n\
data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n\
data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Par\"},\"finish_reason\":null}]}\n\n\
data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"is.\\n\"},\"finish_reason\":null}]}\n\n\
data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n\
data: [DONE]\n\n";

/// Exercise 1, the reader: split on blank lines, keep `data: ` lines, stop at `[DONE]`, and
/// concatenate `choices[0].delta.content`.
fn sse_text(raw: &[u8]) -> String {
    let mut text = String::new();
    for event in String::from_utf8_lossy(raw).split("\n\n") {
        let Some(data) = event.strip_prefix("data: ") else {
            continue; // a comment, or the empty tail
        };
        if data == "[DONE]" {
            break;
        }
        let v: serde_json::Value = serde_json::from_str(data).expect("each data line is JSON");
        if let Some(piece) = v["choices"][0]["delta"]["content"].as_str() {
            text.push_str(piece);
        }
    }
    text
}

// Exercise 2. A model's cache holds the ids of turn 1 and its answer: [1, 10, 11, 2, 1, 20, 21]
// (7 ids). Turn 2's prompt re-renders that history and adds a question:
// [1, 10, 11, 2, 1, 20, 22, 2, 1, 30, 2, 1, 40] (the answer's last token re-tokenized as 22).
// How many ids does the prefill reuse, and how many does it run?

/// Your answers: replace each `todo!()`.
#[cfg(not(feature = "solutions"))]
mod answer {
    /// Exercise 1: the text the user sees.
    pub fn stream_text() -> &'static str {
        todo!("exercise 1: keep the `data: ` events up to [DONE], join their delta.content")
    }

    /// Exercise 2: (ids reused from the cache, ids the prefill runs).
    pub fn prefix_cache() -> (usize, usize) {
        todo!("exercise 2: the longest common prefix of the cached ids and the new prompt")
    }
}

/// The reference solutions (`--features solutions`).
#[cfg(feature = "solutions")]
#[path = "solutions/ch12.rs"]
mod answer;

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::stream_text, then run with -- --ignored"
)]
fn exercise_1_read_a_stream() {
    let yours = answer::stream_text();
    assert_eq!(yours, sse_text(RAW), "your answer {yours:?}");
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::prefix_cache, then run with -- --ignored"
)]
fn exercise_2_prefix_cache() {
    let tok = Tokenizer::from_merges(&[], Pretokenizer::Gpt2, &[]);
    let mut m = ScriptedModel::new(vec![ScriptedModel::one_hot(256, 0)], 64);
    // turn 1 left these ids in the cache
    m.forward(&[1, 10, 11, 2, 1, 20, 21]).unwrap();
    let turn2 = [1, 10, 11, 2, 1, 20, 22, 2, 1, 30, 2, 1, 40];
    let cfg = GenerateConfig {
        max_new_tokens: Some(1),
        ..Default::default()
    };
    let out = generate(&mut m, &tok, &turn2, &cfg, &mut |_| {}).unwrap();
    let run = m.calls.last().unwrap().len();
    let got = (out.stats.cached_tokens, run);
    let yours = answer::prefix_cache();
    assert_eq!(yours, got, "your answer {yours:?}; (reused, run) = {got:?}");
}
