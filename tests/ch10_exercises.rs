//! Chapter 10 exercises: predict what the loop does with a scripted model.
//!
//! The exercises ship open: each function in `answer` below is a `todo!()` for you to replace.
//! A plain `cargo test` skips them (they are `#[ignore]`d, so the suite stays green); run yours
//! with
//!
//! ```text
//! cargo test --test ch10_exercises -- --ignored
//! ```
//!
//! The reference solutions are in `tests/solutions/ch10.rs` (and the book's appendix);
//! `cargo test --test ch10_exercises --features solutions` checks them.
//!
//! The model below "says" a text one byte (one id) per step, then `<|im_end|>` (id 256)
//! forever; the prompt is "Q:" (2 ids); sampling is greedy.
//!
//! 1. **A stop string.** It says "Paris.\nLyon"; stop string "\n", end id 256, at most 20 new
//!    tokens. Which text is printed, how many ids are generated, and how many times is the
//!    model called (the prefill counts as one call)?
//! 2. **The context.** Same model, no stop string, a context of 8 and no `max_new_tokens`: why
//!    does it stop (`eos`, `stop_string`, `max_tokens` or `context_full`), after how many ids?
//! 3. **The budget.** A context of 8 and `max_new_tokens` 10: does `generate` return an error,
//!    how many model calls happen, and what is the largest `max_new_tokens` it accepts?

use glassbox::generate::{check_budget, generate, GenerateConfig, Output, ScriptedModel};
use glassbox::tokenizer::{Pretokenizer, Tokenizer};

/// What `generate` did: the printed text, the number of ids, the number of model calls.
pub type Run = (&'static str, usize, usize);

/// Your answers: replace each `todo!()`.
#[cfg(not(feature = "solutions"))]
mod answer {
    use super::Run;

    /// Exercise 1: (printed text, ids generated, model calls).
    pub fn stop_string() -> Run {
        todo!("exercise 1: the '\\n' id completes the stop string; is the last id fed back?")
    }

    /// Exercise 2: (stop reason name, ids generated).
    pub fn context() -> (&'static str, usize) {
        todo!("exercise 2: the prompt and the generated ids share the context")
    }

    /// Exercise 3: (an error?, model calls, the largest max_new_tokens accepted).
    pub fn budget() -> (bool, usize, usize) {
        todo!("exercise 3: the budget is checked before any forward pass")
    }
}

/// The reference solutions (`--features solutions`).
#[cfg(feature = "solutions")]
#[path = "solutions/ch10.rs"]
mod answer;

/// ids 0..256 are the bytes; 256 is `<|im_end|>`.
fn tokenizer() -> Tokenizer {
    Tokenizer::from_merges(&[], Pretokenizer::Gpt2, &["<|im_end|>".to_string()])
}

/// A model that "says" `text` one byte per step, then `<|im_end|>` forever.
fn says(text: &str, context: usize) -> ScriptedModel {
    let mut script: Vec<Vec<f32>> = text
        .bytes()
        .map(|b| ScriptedModel::one_hot(257, b as u32))
        .collect();
    script.push(ScriptedModel::one_hot(257, 256));
    ScriptedModel::new(script, context)
}

const PROMPT: &[u8] = b"Q:";

/// Generate after the prompt "Q:" (two byte ids), printing nothing.
fn run(m: &mut ScriptedModel, cfg: &GenerateConfig) -> glassbox::Result<Output> {
    let prompt: Vec<u32> = PROMPT.iter().map(|&b| u32::from(b)).collect();
    generate(m, &tokenizer(), &prompt, cfg, &mut |_| {})
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::stop_string, then run with -- --ignored"
)]
fn exercise_1_stop_string() {
    let mut m = says("Paris.\nLyon", 64);
    let cfg = GenerateConfig {
        max_new_tokens: Some(20),
        stop_ids: vec![256],
        stop_strings: vec!["\n".into()],
        ..Default::default()
    };
    let out = run(&mut m, &cfg).expect("generates");
    assert_eq!(out.stop_reason.name(), "stop_string");
    let got = (out.text.as_str(), out.ids.len(), m.calls.len());
    let yours = answer::stop_string();
    assert_eq!(
        (yours.0, yours.1, yours.2),
        got,
        "your answer {yours:?}; ids {:?}, calls {:?}",
        out.ids,
        m.calls
    );
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::context, then run with -- --ignored"
)]
fn exercise_2_context() {
    let mut m = says("Paris.\nLyon", 8);
    let cfg = GenerateConfig {
        max_new_tokens: None,
        stop_ids: vec![256],
        ..Default::default()
    };
    let out = run(&mut m, &cfg).expect("generates");
    let got = (out.stop_reason.name(), out.ids.len());
    let yours = answer::context();
    assert_eq!(yours, got, "your answer {yours:?}; text {:?}", out.text);
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::budget, then run with -- --ignored"
)]
fn exercise_3_budget() {
    let mut m = says("Paris.\nLyon", 8);
    let cfg = GenerateConfig {
        max_new_tokens: Some(10),
        stop_ids: vec![256],
        ..Default::default()
    };
    let result = run(&mut m, &cfg);
    let largest = (1..=10)
        .filter(|&n| check_budget(PROMPT.len(), Some(n), 8).is_ok())
        .max()
        .unwrap_or(0);
    let got = (result.is_err(), m.calls.len(), largest);
    let yours = answer::budget();
    assert_eq!(
        yours, got,
        "your answer {yours:?}; generate said {result:?}"
    );
}
