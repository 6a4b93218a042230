//! Chapter 12 exercises: read a stream the way a client does, and predict what the prefix cache
//! keeps. Each `ANSWER_*` constant holds the correct value; cover it, work the answer out, run
//! `cargo test --test ch12_exercises`. `--features solutions` prints the worked answers.

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
const ANSWER_1_TEXT: &str = "Paris.\n";

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
const ANSWER_2_CACHED: usize = 6;
const ANSWER_2_RUN: usize = 7;

#[test]
fn exercise_1_read_a_stream() {
    assert_eq!(sse_text(RAW), ANSWER_1_TEXT);
}

#[test]
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
    #[cfg(feature = "solutions")]
    println!(
        "common prefix of [1 10 11 2 1 20 21] and [1 10 11 2 1 20 22 …] = 6 ids (they differ at \
         position 6: 21 vs 22); the prefill runs the other {run} of the 13"
    );
    assert_eq!(out.stats.cached_tokens, ANSWER_2_CACHED);
    assert_eq!(run, ANSWER_2_RUN);
}
