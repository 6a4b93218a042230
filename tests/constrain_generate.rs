//! 200 constrained generations from the real SmolLM2-135M-Instruct at temperature 1.0 (no
//! top-k, top-p or min-p: the whole masked distribution), random seeds, across a dozen
//! schemas: every output must parse and validate, checked by an independent validator (the
//! `jsonschema` crate, formats included).
//!
//! Each generation is given `max_bytes + 1` tokens (the longest instance the grammar allows,
//! whitespace included: every token is at least one byte), so it always ends with
//! end-of-sequence and never because of a budget. The prompt's prefill is computed once per
//! schema and reused (the runner's prefix reuse keeps it in the KV-cache), so the test's cost
//! is the decode steps. `CONSTRAIN_SEED=n` repeats a run.

mod constrain_common;

use constrain_common::{check, validator};
use glassbox::chat::{stop_token_ids, ChatTemplate, Message};
use glassbox::constrain::{compile, Grammar, JsonConstraint, Vocab};
use glassbox::generate::{
    generate_constrained, GenerateConfig, LlamaRunner, StopReason, TokenConstraint,
};
use glassbox::model::Llama;
use glassbox::sampler::SamplerConfig;
use glassbox::Result;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const GENERATIONS: usize = 200;

fn schemas() -> Vec<(&'static str, Value)> {
    let s = |n: u32| json!({"type": "string", "maxLength": n});
    vec![
        (
            "a person",
            json!({"type": "object", "properties": {"name": s(12), "age": {"type": "integer"}}, "required": ["name", "age"]}),
        ),
        (
            "the sentiment of 'I loved it'",
            json!({"type": "object", "properties": {"label": {"enum": ["positive", "negative", "neutral"]}, "confidence": {"type": "number"}}, "required": ["label", "confidence"], "additionalProperties": false}),
        ),
        (
            "whether the sky is blue",
            json!({"type": "object", "properties": {"answer": {"type": "boolean"}}, "required": ["answer"]}),
        ),
        (
            "a city and its country",
            json!({"type": "object", "properties": {"city": s(16), "country": {"enum": ["France", "Italy", "Japan", "Peru", "Kenya"]}}, "required": ["city", "country"]}),
        ),
        (
            "an event and its date",
            json!({"type": "object", "properties": {"event": s(20), "date": {"type": "string", "format": "date"}}, "required": ["event", "date"]}),
        ),
        (
            "three tags for a blog post about cats",
            json!({"type": "object", "properties": {"tags": {"type": "array", "items": s(8), "minItems": 1, "maxItems": 3}}, "required": ["tags"]}),
        ),
        (
            "a user, nickname optional",
            json!({"type": "object", "properties": {"nickname": {"type": ["string", "null"], "maxLength": 10}, "age": {"anyOf": [{"type": "integer"}, {"type": "null"}]}}, "required": ["nickname", "age"]}),
        ),
        (
            "an invoice: ACME sold goods for 120.50 euros on 3 March 2024",
            json!({
            "$defs": {"Currency": {"enum": ["USD", "EUR", "GBP"], "title": "Currency", "type": "string"}},
            "properties": {
                "company": {"title": "Company", "type": "string", "maxLength": 16},
                "amount": {"title": "Amount", "type": "number"},
                "currency": {"$ref": "#/$defs/Currency"},
                "date": {"format": "date", "title": "Date", "type": "string"}
            },
            "required": ["company", "amount", "currency", "date"], "title": "Invoice", "type": "object"}),
        ),
        (
            "a point on a grid",
            json!({"type": "object", "properties": {"point": {"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}}, "required": ["x", "y"]}}, "required": ["point"]}),
        ),
        (
            "some optional settings",
            json!({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "boolean"}, "c": s(6)}, "additionalProperties": false}),
        ),
        (
            "a versioned log level",
            json!({"type": "object", "properties": {"version": {"const": 2}, "level": {"enum": [1, 2, 3]}, "at": {"type": "string", "format": "date-time"}}, "required": ["version", "level", "at"]}),
        ),
        (
            "a shopping list",
            json!({"type": "array", "items": {"type": "object", "properties": {"item": s(8), "qty": {"type": "integer"}}, "required": ["item", "qty"]}, "maxItems": 2}),
        ),
    ]
}

/// Times the mask, to print its share of a decode step.
struct Timed<'c> {
    c: &'c mut JsonConstraint,
    spent: Duration,
    calls: usize,
}

impl TokenConstraint for Timed<'_> {
    fn allowed(&mut self) -> Result<&[u64]> {
        let t = Instant::now();
        let words = TokenConstraint::allowed(&mut *self.c)?;
        self.spent += t.elapsed();
        self.calls += 1;
        Ok(words)
    }
    fn advance(&mut self, id: u32) -> Result<()> {
        self.c.advance(id)
    }
}

#[test]
fn two_hundred_generations_parse_and_validate() {
    let path = glassbox::data::default_model().expect("the default model");
    let model = Llama::load(&path).expect("load SmolLM2");
    let tok = &model.tokenizer;
    let template = ChatTemplate::for_model(model.chat_template.as_deref(), tok).unwrap();
    let stops = stop_token_ids(tok);
    let vocab = Arc::new(Vocab::new(tok, &stops));
    let seed = std::env::var("CONSTRAIN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        });
    eprintln!("CONSTRAIN_SEED={seed}");
    let cases: Vec<(String, Value, Arc<Grammar>, u64)> = schemas()
        .into_iter()
        .map(|(what, schema)| {
            let g = compile(&schema).unwrap_or_else(|e| panic!("{what}: {e}"));
            let max = g.max_bytes().expect("bounded schemas");
            (what.to_string(), schema, Arc::new(g), max)
        })
        .collect();
    let (mut ok, mut tokens, mut mask_time, mut total_time) =
        (0, 0, Duration::ZERO, Duration::ZERO);
    for (k, (what, schema, g, max)) in cases.iter().enumerate() {
        let val = validator(schema);
        let prompt = format!("Reply with JSON only: {what}. The JSON schema is {schema}");
        let ids = template
            .encode(tok, &[Message::user(&prompt)], true)
            .unwrap();
        let ctx = ids.len() + *max as usize + 1;
        // the runner keeps the prompt's KV-cache from one generation to the next (prefix reuse)
        let mut model_once =
            LlamaRunner::new(&model, ctx.min(model.config.max_position_embeddings)).unwrap();
        for i in (k..GENERATIONS).step_by(cases.len()) {
            let cfg = GenerateConfig {
                max_new_tokens: Some(*max as usize + 1),
                stop_ids: stops.clone(),
                stop_strings: Vec::new(),
                sampler: SamplerConfig {
                    temperature: 1.0,
                    top_k: 0,
                    top_p: 1.0,
                    min_p: 0.0,
                    seed: seed.wrapping_mul(1000).wrapping_add(i as u64),
                    ..SamplerConfig::default()
                },
                ..GenerateConfig::default()
            };
            let mut c = JsonConstraint::new(g.clone(), vocab.clone());
            let mut timed = Timed {
                c: &mut c,
                spent: Duration::ZERO,
                calls: 0,
            };
            let t = Instant::now();
            let out = generate_constrained(
                &mut model_once,
                tok,
                &ids,
                &cfg,
                Some(&mut timed),
                &mut |_| {},
            )
            .unwrap_or_else(|e| panic!("generation {i} ({what}): {e}"));
            total_time += t.elapsed();
            mask_time += timed.spent;
            tokens += out.ids.len();
            assert!(
                matches!(out.stop_reason, StopReason::Eos(_)),
                "generation {i} ({what}) ended by {:?}: {:?}",
                out.stop_reason,
                out.text
            );
            check(&val, &out.text).unwrap_or_else(|e| {
                panic!(
                    "generation {i} ({what}, seed {}): {:?} {e}",
                    cfg.sampler.seed, out.text
                )
            });
            ok += 1;
            if i < cases.len() {
                eprintln!("{what}: {}", out.text);
            }
        }
    }
    assert_eq!(ok, GENERATIONS);
    eprintln!(
        "{ok}/{GENERATIONS} parse and validate | {tokens} tokens | mask {:.0} µs/token = {:.1}% of the time per token ({:.1} ms)",
        mask_time.as_secs_f64() * 1e6 / tokens as f64,
        100.0 * mask_time.as_secs_f64() / total_time.as_secs_f64(),
        total_time.as_secs_f64() * 1e3 / tokens as f64
    );
}

#[test]
fn json_object_mode_writes_an_object() {
    let path = glassbox::data::default_model().expect("the default model");
    let model = Llama::load(&path).expect("load SmolLM2");
    let tok = &model.tokenizer;
    let template = ChatTemplate::for_model(model.chat_template.as_deref(), tok).unwrap();
    let stops = stop_token_ids(tok);
    let vocab = Arc::new(Vocab::new(tok, &stops));
    let ids = template
        .encode(
            tok,
            &[Message::user(
                "What is the capital of France? Answer with a JSON object whose only key is \"capital\".",
            )],
            true,
        )
        .unwrap();
    let cfg = GenerateConfig {
        max_new_tokens: Some(64),
        stop_ids: stops,
        stop_strings: Vec::new(),
        sampler: SamplerConfig::default(),
        ..GenerateConfig::default()
    };
    let mut runner = LlamaRunner::new(&model, 1024).unwrap();
    let mut c = JsonConstraint::new(Arc::new(Grammar::json_object()), vocab);
    let out =
        generate_constrained(&mut runner, tok, &ids, &cfg, Some(&mut c), &mut |_| {}).unwrap();
    eprintln!("{}", out.text);
    assert!(
        matches!(out.stop_reason, StopReason::Eos(_)),
        "{:?}",
        out.stop_reason
    );
    let v: Value = serde_json::from_str(&out.text).expect("parses");
    assert!(v.is_object());
}
