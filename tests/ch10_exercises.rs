//! Chapter 10 exercises: predict what the loop does with a scripted model, then check with
//! `cargo test --test ch10_exercises`. Each `ANSWER_*` constant holds the correct value; cover
//! it, work the answer out, run the test. `--features solutions` prints the worked answers.

use glassbox::generate::{generate, GenerateConfig, Output, ScriptedModel, StopReason};
use glassbox::tokenizer::{Pretokenizer, Tokenizer};

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

// Exercise 1. Prompt "Q:" (2 ids), the model says "Paris.\nLyon", stop string "\n", eos 256,
// at most 20 new tokens, greedy. Which text is printed, how many ids are generated, and how many
// times is the model called (the prefill counts as one call)?
const ANSWER_1_TEXT: &str = "Paris.";
const ANSWER_1_IDS: usize = 7;
const ANSWER_1_CALLS: usize = 7;

// Exercise 2. Same model without the stop string, context 8 and no max_new_tokens: why does
// it stop, and after how many ids?
const ANSWER_2_REASON: &str = "context_full";
const ANSWER_2_IDS: usize = 6;

/// Generate after the prompt "Q:" (two byte ids), printing nothing.
fn run(m: &mut ScriptedModel, cfg: &GenerateConfig) -> Output {
    let prompt: Vec<u32> = b"Q:".map(u32::from).to_vec();
    generate(m, &tokenizer(), &prompt, cfg, &mut |_| {}).unwrap()
}

#[test]
fn exercise_1_stop_string() {
    let mut m = says("Paris.\nLyon", 64);
    let cfg = GenerateConfig {
        max_new_tokens: Some(20),
        stop_ids: vec![256],
        stop_strings: vec!["\n".into()],
        ..Default::default()
    };
    let out = run(&mut m, &cfg);
    assert_eq!(out.text, ANSWER_1_TEXT);
    assert_eq!(out.ids.len(), ANSWER_1_IDS, "ids {:?}", out.ids);
    assert_eq!(m.calls.len(), ANSWER_1_CALLS, "calls {:?}", m.calls);
    assert_eq!(out.stop_reason, StopReason::StopString("\n".into()));
}

#[test]
fn exercise_2_context() {
    let mut m = says("Paris.\nLyon", 8);
    let cfg = GenerateConfig {
        max_new_tokens: None,
        stop_ids: vec![256],
        ..Default::default()
    };
    let out = run(&mut m, &cfg);
    assert_eq!(out.stop_reason.name(), ANSWER_2_REASON);
    assert_eq!(out.ids.len(), ANSWER_2_IDS, "text {:?}", out.text);
}

#[cfg(feature = "solutions")]
#[test]
fn solutions() {
    // 1. The model says "Paris.\nLyon" one byte (one id) per step. The 7th id, '\n', completes
    //    the stop string, which is cut from the text; every id but the last is fed back.
    let said = "Paris.\nLyon";
    let stop_at = said.find('\n').expect("the stop string is in the text");
    println!(
        "1. P,a,r,i,s,. are printed; the 7th id '\\n' completes the stop string, which is cut."
    );
    println!("   calls: 1 prefill + one per id fed back (6: the 7th is never fed) = 7.");
    assert_eq!(ANSWER_1_TEXT, &said[..stop_at]);
    assert_eq!(ANSWER_1_IDS, stop_at + 1);
    assert_eq!(ANSWER_1_CALLS, 1 + (ANSWER_1_IDS - 1));
    // 2. A context of 8 holds the 2 prompt ids and 6 more; "Paris." is 6 bytes, so the context
    //    is full before the model reaches '\n' or its end token.
    let (context, prompt) = (8, 2);
    println!("2. 2 prompt + 6 generated = 8 = the context: ContextFull after 'Paris.'.");
    assert_eq!(ANSWER_2_IDS, context - prompt);
    assert!(ANSWER_2_IDS <= stop_at);
    assert_eq!(ANSWER_2_REASON, "context_full");
}
