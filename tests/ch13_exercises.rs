//! Chapter 13 exercises (SmolLM2's vocabulary; the default model is fetched on first use, or set
//! GLASSBOX_DATA). Each `ANSWER_*` constant holds the correct value; cover it, predict, run
//! `cargo test --test ch13_exercises`. `--features solutions` prints the steps.

use glassbox::constrain::{compile, Masker, Recognizer, TokenSet, Vocab};
use glassbox::weights::model_files::ModelFiles;
use serde_json::json;

fn vocab() -> (glassbox::tokenizer::Tokenizer, Vocab) {
    let files = ModelFiles::open(&glassbox::data::default_model().expect("the default model"))
        .expect("open SmolLM2");
    let tok = files.tokenizer;
    let v = Vocab::new(&tok, &glassbox::chat::stop_token_ids(&tok));
    (tok, v)
}

// Exercise 1. Schema {"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}.
// The text so far is `{"a":`. Which of these tokens may come next?
//     `1`   ` -`   `-`   `"`   `}`   ` }`   ` `   `\n`   `<|im_end|>`
// (SmolLM2 writes digits one per token: `12` or ` 1` are not tokens of its vocabulary.)
const CANDIDATES_1: [&str; 9] = ["1", " -", "-", "\"", "}", " }", " ", "\n", "<|im_end|>"];
const ANSWER_1_ALLOWED: [bool; 9] = [true, true, true, false, false, false, true, true, false];

// Exercise 2. Same schema, text `{"a":12`. How many of the 49,152 ids are allowed now?
// (Digits continue the number; `}` ends it and the object; whitespace tokens pad before the `}`:
// count SmolLM2's tokens made only of spaces, tabs and newlines.)
const ANSWER_2_COUNT: usize = 122;

fn state(g: &glassbox::constrain::Grammar, text: &str) -> Recognizer {
    let mut r = Recognizer::new();
    assert!(r.try_bytes(g, text.as_bytes()), "{text} is a valid prefix");
    r
}

#[test]
fn exercise_1_which_tokens_may_follow() {
    let (tok, v) = vocab();
    let g =
        compile(&json!({"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}))
            .unwrap();
    let mut allowed = TokenSet::new(v.size());
    Masker::new().mask(&g, &v, &state(&g, "{\"a\":"), &mut allowed);
    let got: Vec<bool> = CANDIDATES_1
        .iter()
        .map(|t| {
            let id = tok
                .token_id(t)
                .unwrap_or_else(|| panic!("{t:?} is one token"));
            allowed.contains(id)
        })
        .collect();
    assert_eq!(got, ANSWER_1_ALLOWED, "for {CANDIDATES_1:?}");
}

#[test]
fn exercise_2_how_many_may_follow() {
    let (_, v) = vocab();
    let g =
        compile(&json!({"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}))
            .unwrap();
    let mut allowed = TokenSet::new(v.size());
    Masker::new().mask(&g, &v, &state(&g, "{\"a\":12"), &mut allowed);
    assert_eq!(allowed.count(), ANSWER_2_COUNT);
}

#[cfg(feature = "solutions")]
#[test]
fn solutions() {
    let (tok, v) = vocab();
    let g =
        compile(&json!({"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}))
            .unwrap();
    for prefix in ["{\"a\":", "{\"a\":12"] {
        let mut allowed = TokenSet::new(v.size());
        Masker::new().mask(&g, &v, &state(&g, prefix), &mut allowed);
        let shown: Vec<String> = allowed
            .iter()
            .map(|id| {
                format!(
                    "{:?}",
                    String::from_utf8_lossy(tok.token_bytes(id).unwrap_or(b""))
                )
            })
            .collect();
        println!(
            "after {prefix}: {} allowed: {}",
            allowed.count(),
            shown.join(" ")
        );
    }
}
