//! The server's request bodies (`src/server/request.rs`): `/v1/chat/completions`,
//! `/v1/completions`, `/tokenize`, `/detokenize`. The first byte picks the endpoint and whether
//! the rest is the body as is (truncated bodies, invalid UTF-8, deep nesting: the seeds are
//! real requests) or a field-aware JSON document built from the API's own field names and
//! values (`messages` of 4000 copies, `max_tokens` of 2⁶⁴−1, `temperature` of 1e999, a lone
//! surrogate in `content`). Every answer is a parsed request that obeys the documented limits,
//! or a 4xx whose body serialises.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use glassbox::server::request::{
    parse_chat, parse_completion, parse_detokenize, parse_tokenize, Params, Prompt, MAX_BODY_BYTES,
    MAX_LOGIT_BIAS, MAX_MESSAGES, MAX_STOP, MAX_TOP_LOGPROBS,
};
use glassbox::server::wire::ApiError;
use glassbox_fuzz::fields::Json;
use libfuzzer_sys::fuzz_target;

/// The field names and string values of the OpenAI-compatible API (request.rs).
const WORDS: &[&str] = &[
    "model",
    "messages",
    "role",
    "content",
    "system",
    "user",
    "assistant",
    "tool",
    "developer",
    "tool_call_id",
    "type",
    "text",
    "prompt",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "repeat_penalty",
    "frequency_penalty",
    "presence_penalty",
    "seed",
    "stop",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "stream",
    "stream_options",
    "include_usage",
    "n",
    "echo",
    "suffix",
    "best_of",
    "tools",
    "tool_choice",
    "functions",
    "response_format",
    "none",
    "tokens",
    "add_special",
    "with_pieces",
    "0",
    "1",
    "4294967296",
    "-1",
];

fn check_params(p: &Params) {
    assert!(
        (0.0..=2.0).contains(&p.temperature),
        "temperature {}",
        p.temperature
    );
    assert!((0.0..=1.0).contains(&p.top_p), "top_p {}", p.top_p);
    assert!(p.min_p.is_finite() && p.repeat_penalty.is_finite());
    assert!(p.frequency_penalty.is_finite() && p.presence_penalty.is_finite());
    assert!(p.stop.len() <= MAX_STOP, "{} stop strings", p.stop.len());
    assert!(p.logit_bias.len() <= MAX_LOGIT_BIAS);
    assert!(p
        .logit_bias
        .iter()
        .all(|(_, b)| (-100.0..=100.0).contains(b)));
    assert!(p.top_logprobs <= MAX_TOP_LOGPROBS);
}

fn check_error(e: &ApiError, body: &[u8]) {
    assert!(
        (400..500).contains(&e.status),
        "a bad body must be a 4xx, got {} ({}) for {:?}",
        e.status,
        e.message,
        String::from_utf8_lossy(&body[..body.len().min(200)])
    );
    assert!(!e.message.is_empty());
    let _ = serde_json::to_vec(&e.body()).expect("the error body serialises");
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let built;
    let body: &[u8] = if flags & 4 == 0 {
        rest
    } else {
        let mut u = Unstructured::new(rest);
        let Ok(doc) = Json::arbitrary(&mut u) else {
            return;
        };
        let mut out = Vec::new();
        doc.write(WORDS, &mut out);
        if out.len() > MAX_BODY_BYTES + 1024 {
            return; // the router refuses it with 413 before the parser sees it
        }
        built = out;
        &built
    };
    match flags & 3 {
        0 => match parse_chat(body) {
            Ok(r) => {
                assert!(!r.messages.is_empty() && r.messages.len() <= MAX_MESSAGES);
                check_params(&r.params);
            }
            Err(e) => check_error(&e, body),
        },
        1 => match parse_completion(body) {
            Ok(r) => {
                if let Prompt::Ids(ids) = &r.prompt {
                    assert!(!ids.is_empty());
                }
                check_params(&r.params);
            }
            Err(e) => check_error(&e, body),
        },
        2 => {
            if let Err(e) = parse_tokenize(body) {
                check_error(&e, body);
            }
        }
        _ => {
            if let Err(e) = parse_detokenize(body) {
                check_error(&e, body);
            }
        }
    }
});
