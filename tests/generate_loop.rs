//! The generation loop (src/generate/) driven by a scripted-logits model over a byte-level
//! tokenizer (ids 0..256 are the bytes, 256 is `<|im_end|>`): exact ids, exact text, the stop
//! reason for each stop condition, what the model was fed, and the budget check.

use glassbox::generate::{generate, GenerateConfig, NextTokenModel, ScriptedModel, StopReason};
use glassbox::sampler::SamplerConfig;
use glassbox::tokenizer::{Pretokenizer, Tokenizer};

const VOCAB: usize = 257;
const IM_END: u32 = 256;

fn tokenizer() -> Tokenizer {
    Tokenizer::from_merges(&[], Pretokenizer::Gpt2, &["<|im_end|>".to_string()])
}

/// A model that "says" these ids, one per call, then repeats the last one forever.
fn says(ids: &[u32], context: usize) -> ScriptedModel {
    ScriptedModel::new(
        ids.iter()
            .map(|&i| ScriptedModel::one_hot(VOCAB, i))
            .collect(),
        context,
    )
}

fn bytes(s: &str) -> Vec<u32> {
    s.bytes().map(u32::from).collect()
}

fn run(
    model: &mut ScriptedModel,
    cfg: &GenerateConfig,
) -> (glassbox::generate::Output, Vec<String>) {
    let tok = tokenizer();
    let mut pieces = Vec::new();
    let out = generate(model, &tok, &bytes("Hi"), cfg, &mut |s: &str| {
        pieces.push(s.to_string())
    })
    .unwrap();
    (out, pieces)
}

#[test]
fn stops_on_eos_and_keeps_the_id_but_not_its_text() {
    let mut script = bytes("Paris.");
    script.push(IM_END);
    let mut m = says(&script, 64);
    let cfg = GenerateConfig {
        max_new_tokens: Some(20),
        stop_ids: vec![IM_END],
        ..Default::default()
    };
    let (out, pieces) = run(&mut m, &cfg);
    assert_eq!(out.ids, script);
    assert_eq!(out.text, "Paris.");
    assert_eq!(pieces.concat(), "Paris.");
    assert_eq!(out.stop_reason, StopReason::Eos(IM_END));
    // prefill with the prompt, then one id per call; the eos id is never fed back
    assert_eq!(m.calls[0], bytes("Hi"));
    assert_eq!(m.calls.len(), 7);
    assert!(m.calls[1..]
        .iter()
        .zip(&script)
        .all(|(c, &id)| c == &vec![id]));
    assert_eq!(out.logprobs.len(), out.ids.len());
    assert_eq!(out.stats.prompt_tokens, 2);
    assert_eq!(out.stats.generated_tokens, 7);
}

#[test]
fn stops_at_max_new_tokens() {
    let mut m = says(&bytes("abcdefgh"), 64);
    let cfg = GenerateConfig {
        max_new_tokens: Some(3),
        ..Default::default()
    };
    let (out, _) = run(&mut m, &cfg);
    assert_eq!(out.ids, bytes("abc"));
    assert_eq!(out.stop_reason, StopReason::MaxTokens);
}

#[test]
fn stop_string_is_not_emitted_and_lookalikes_are_released() {
    // "a<b<c>" with stop "<c>": the first "<" is held back (could start "<c>"), then released
    let mut m = says(&bytes("a<b<c>zz"), 64);
    let cfg = GenerateConfig {
        max_new_tokens: Some(20),
        stop_strings: vec!["<c>".into()],
        ..Default::default()
    };
    let (out, pieces) = run(&mut m, &cfg);
    assert_eq!(out.text, "a<b");
    assert_eq!(pieces.concat(), "a<b");
    assert_eq!(out.stop_reason, StopReason::StopString("<c>".into()));
    assert_eq!(out.ids, bytes("a<b<c>"));
    // no piece ever contained a byte of the stop string that was later cut
    assert!(pieces.iter().all(|p| !p.contains('c')));
}

#[test]
fn held_back_text_is_flushed_at_the_end() {
    let mut m = says(&bytes("ok<c"), 64);
    let cfg = GenerateConfig {
        max_new_tokens: Some(4),
        stop_strings: vec!["<c>".into()],
        ..Default::default()
    };
    let (out, pieces) = run(&mut m, &cfg);
    assert_eq!(out.text, "ok<c");
    assert_eq!(pieces.concat(), "ok<c");
}

#[test]
fn context_full_is_a_stop_reason_not_a_crash() {
    let mut m = says(&bytes("xyz"), 6);
    let cfg = GenerateConfig {
        max_new_tokens: None,
        ..Default::default()
    };
    let (out, _) = run(&mut m, &cfg);
    assert_eq!(out.stop_reason, StopReason::ContextFull);
    assert_eq!(out.ids.len(), 4); // 2 prompt + 4 generated = 6 = the context
    assert!(m.cached() <= 6);
}

#[test]
fn the_budget_is_checked_before_any_work() {
    let tok = tokenizer();
    let mut m = says(&bytes("x"), 8);
    let cfg = GenerateConfig {
        max_new_tokens: Some(7),
        ..Default::default()
    };
    let err = generate(&mut m, &tok, &bytes("Hi"), &cfg, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("prompt 2 tokens + 7 new tokens > context 8"),
        "{err}"
    );
    assert!(m.calls.is_empty(), "the model ran before the budget check");
    let err = generate(
        &mut m,
        &tok,
        &bytes("12345678"),
        &GenerateConfig::default(),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("context holds 8"));
    assert!(generate(&mut m, &tok, &[], &GenerateConfig::default(), &mut |_| {}).is_err());
}

#[test]
fn multibyte_characters_are_never_split() {
    // "é😉" is 2 + 4 bytes, sent one byte (one id) at a time
    let text = "é😉ok";
    let mut m = says(&bytes(text), 64);
    let cfg = GenerateConfig {
        max_new_tokens: Some(text.len()),
        ..Default::default()
    };
    let (out, pieces) = run(&mut m, &cfg);
    assert_eq!(out.text, text);
    assert!(pieces.iter().all(|p| !p.contains('\u{FFFD}')));
    assert_eq!(pieces, vec!["é", "😉", "o", "k"]);
}

#[test]
fn seeded_sampling_is_reproducible_through_the_loop() {
    // a flat-ish distribution over the 26 letters at every step
    let logits: Vec<f32> = (0..VOCAB)
        .map(|i| {
            if (97..123).contains(&i) {
                (i % 5) as f32 * 0.3
            } else {
                -30.0
            }
        })
        .collect();
    let cfg = GenerateConfig {
        max_new_tokens: Some(24),
        sampler: SamplerConfig {
            temperature: 0.8,
            top_p: 0.9,
            seed: 42,
            ..Default::default()
        },
        ..Default::default()
    };
    let a = run(&mut ScriptedModel::new(vec![logits.clone()], 64), &cfg).0;
    let b = run(&mut ScriptedModel::new(vec![logits.clone()], 64), &cfg).0;
    assert_eq!(a.ids, b.ids);
    let other = GenerateConfig {
        sampler: SamplerConfig {
            seed: 43,
            ..cfg.sampler.clone()
        },
        ..cfg.clone()
    };
    let c = run(&mut ScriptedModel::new(vec![logits], 64), &other).0;
    assert_ne!(a.ids, c.ids);
    assert!(a.ids.iter().all(|&i| (97..123).contains(&i)));
}
