//! Chapter 13 exercises: the mask of a tiny schema, token by token (SmolLM2's vocabulary; the
//! default model is fetched on first use, or set GLASSBOX_DATA).
//!
//! The exercises ship open: each function in `answer` below is a `todo!()` for you to replace.
//! A plain `cargo test` skips them (they are `#[ignore]`d, so the suite stays green); run yours
//! with
//!
//! ```text
//! cargo test --test ch13_exercises -- --ignored
//! ```
//!
//! A wrong answer fails with the mask's own answer beside yours. The reference solutions are in
//! `tests/solutions/ch13.rs` (and the book's appendix); `cargo test --test ch13_exercises
//! --features solutions -- --nocapture` checks them and prints every allowed token.
//!
//! Both use the schema {"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}.
//!
//! 1. **Predict the mask.** The text so far is `{"a":`. Which of these tokens may come next?
//!    `1`   ` -`   `-`   `"`   `}`   ` }`   ` `   `\n`   `<|im_end|>`
//!    (SmolLM2 writes digits one per token: `12` or ` 1` are not tokens of its vocabulary.)
//! 2. **Count the mask.** The text is `{"a":12`. Write `answer::allowed_after_12`: how many of
//!    the 49,152 ids may come next? Count them in the vocabulary with the rule you derive (which
//!    bytes may continue an integer, close the object, or pad before the `}`; glassbox allows at
//!    most `constrain::grammar::MAX_WS` whitespace bytes in one gap); the test compares your
//!    count with the mask's.

use glassbox::constrain::{compile, Masker, Recognizer, TokenSet, Vocab};
use glassbox::tokenizer::Tokenizer;
use glassbox::weights::model_files::ModelFiles;
use serde_json::json;

/// The nine candidates of exercise 1, in the order of `answer::may_follow`.
const CANDIDATES_1: [&str; 9] = ["1", " -", "-", "\"", "}", " }", " ", "\n", "<|im_end|>"];

/// Your answers: replace each `todo!()`.
#[cfg(not(feature = "solutions"))]
#[allow(unused_variables)]
mod answer {
    use glassbox::tokenizer::Tokenizer;

    /// Exercise 1: for each of `CANDIDATES_1`, may it follow `{"a":`?
    pub fn may_follow() -> [bool; 9] {
        todo!("exercise 1: after the colon, what may start an integer, and may whitespace come first?")
    }

    /// Exercise 2: how many ids may follow `{"a":12`? (`tok.vocab_size()` ids; `tok.token_bytes(id)`
    /// is each one's bytes, `None` for an id with none.)
    pub fn allowed_after_12(tok: &Tokenizer) -> usize {
        todo!("exercise 2: count the tokens whose bytes may continue `{{\"a\":12`")
    }
}

/// The reference solutions (`--features solutions`).
#[cfg(feature = "solutions")]
#[path = "solutions/ch13.rs"]
mod answer;

fn vocab() -> (Tokenizer, Vocab) {
    let files = ModelFiles::open(&glassbox::data::default_model().expect("the default model"))
        .expect("open SmolLM2");
    let tok = files.tokenizer;
    let v = Vocab::new(&tok, &glassbox::chat::stop_token_ids(&tok));
    (tok, v)
}

/// The ids the mask allows after `text`.
fn mask_after(v: &Vocab, text: &str) -> TokenSet {
    let g =
        compile(&json!({"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}))
            .unwrap();
    let mut r = Recognizer::new();
    assert!(r.try_bytes(&g, text.as_bytes()), "{text} is a valid prefix");
    let mut allowed = TokenSet::new(v.size());
    Masker::new().mask(&g, v, &r, &mut allowed);
    allowed
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::may_follow, then run with -- --ignored"
)]
fn exercise_1_which_tokens_may_follow() {
    let (tok, v) = vocab();
    let allowed = mask_after(&v, "{\"a\":");
    let got: Vec<bool> = CANDIDATES_1
        .iter()
        .map(|t| {
            let id = tok
                .token_id(t)
                .unwrap_or_else(|| panic!("{t:?} is one token"));
            allowed.contains(id)
        })
        .collect();
    let yours = answer::may_follow();
    assert_eq!(
        yours.as_slice(),
        got,
        "for {CANDIDATES_1:?}: your answer {yours:?}, the mask {got:?}"
    );
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: write answer::allowed_after_12, then run with -- --ignored"
)]
fn exercise_2_how_many_may_follow() {
    let (tok, v) = vocab();
    let allowed = mask_after(&v, "{\"a\":12");
    let yours = answer::allowed_after_12(&tok);
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
        "after {{\"a\":12 the mask allows {}: {}",
        allowed.count(),
        shown.join(" ")
    );
    assert_eq!(
        yours,
        allowed.count(),
        "your count {yours}, the mask's {}",
        allowed.count()
    );
}
