//! The pure half of the server: request parsing (every rule of `src/server/request.rs`) and the
//! wire format (`src/server/wire.rs`) checked byte for byte. No model, no socket.

use glassbox::chat::Message;
use glassbox::server::request::{
    check_depth, parse_chat, parse_completion, parse_detokenize, parse_tokenize, Params, Prompt,
    MAX_BODY_BYTES, MAX_JSON_DEPTH, MAX_MESSAGES,
};
use glassbox::server::wire::{self, Api, ApiError, Meta, Usage};
use proptest::prelude::*;
use serde_json::json;

fn chat(v: serde_json::Value) -> Result<glassbox::server::request::ChatRequest, ApiError> {
    parse_chat(v.to_string().as_bytes())
}

fn user(extra: serde_json::Value) -> serde_json::Value {
    let mut v = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    v.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    v
}

/// A 400 whose `param` names `field` and whose message names it too.
fn assert_names(r: Result<impl std::fmt::Debug, ApiError>, field: &str) {
    let e = r.expect_err(&format!("a 400 naming `{field}`"));
    assert_eq!(e.status, 400, "{e:?}");
    assert_eq!(e.param.as_deref(), Some(field), "{e:?}");
    let key = field.split('.').next_back().unwrap();
    let key = key.split('[').next().unwrap();
    assert!(
        e.message.contains(key),
        "message names `{key}`: {}",
        e.message
    );
}

#[test]
fn defaults_are_openais() {
    let r = chat(user(json!({}))).unwrap();
    assert_eq!(r.model.as_deref(), Some("m"));
    assert_eq!(r.messages, vec![Message::user("hi")]);
    assert_eq!(r.params, Params::default());
    assert_eq!((r.params.temperature, r.params.top_p), (1.0, 1.0));
}

#[test]
fn every_field_is_read() {
    let r = chat(user(json!({
        "max_tokens": 7, "temperature": 0.5, "top_p": 0.9, "top_k": 40, "min_p": 0.05,
        "repeat_penalty": 1.1, "frequency_penalty": 0.5, "presence_penalty": -0.5, "seed": -1,
        "stop": ["a", "b"], "logit_bias": {"42": -100, "7": 3.5}, "logprobs": true,
        "top_logprobs": 5, "stream": true, "stream_options": {"include_usage": true}, "n": 1,
        "unknown_field": {"ignored": [1, 2, 3]}, "user": "someone"
    })))
    .unwrap();
    let p = r.params;
    assert_eq!(p.max_tokens, Some(7));
    assert_eq!(
        (p.temperature, p.top_p, p.top_k, p.min_p),
        (0.5, 0.9, 40, 0.05)
    );
    assert_eq!(
        (p.repeat_penalty, p.frequency_penalty, p.presence_penalty),
        (1.1, 0.5, -0.5)
    );
    assert_eq!(p.seed, Some(u64::MAX), "-1 is read as its two's complement");
    assert_eq!(p.stop, vec!["a", "b"]);
    assert_eq!(p.logit_bias, vec![(42, -100.0), (7, 3.5)]);
    assert!(p.logprobs && p.stream && p.include_usage);
    assert_eq!(p.top_logprobs, 5);
    // max_completion_tokens wins over max_tokens; a single stop string is a list of one
    let r = chat(user(
        json!({"max_tokens": 7, "max_completion_tokens": 9, "stop": "x"}),
    ))
    .unwrap();
    assert_eq!(
        (r.params.max_tokens, r.params.stop),
        (Some(9), vec!["x".to_string()])
    );
    // null means "not given"
    let r = chat(user(
        json!({"temperature": null, "stop": null, "seed": null}),
    ))
    .unwrap();
    assert_eq!(r.params, Params::default());
}

#[test]
fn messages_roles_and_content_parts() {
    let r = chat(json!({"messages": [
        {"role": "developer", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": null},
        {"role": "tool", "content": "42", "tool_call_id": "call_1"},
    ]}))
    .unwrap();
    assert_eq!(
        r.messages,
        vec![
            Message::system("be brief"),
            Message::user("a\nb"),
            Message::assistant(""),
            Message::tool("42", "call_1"),
        ]
    );
    assert_eq!(r.model, None);
}

#[test]
fn wrong_types_name_the_field() {
    assert_names(chat(user(json!({"temperature": "hot"}))), "temperature");
    assert_names(chat(user(json!({"temperature": 2.5}))), "temperature");
    assert_names(chat(user(json!({"top_p": 1.5}))), "top_p");
    assert_names(chat(user(json!({"max_tokens": "10"}))), "max_tokens");
    assert_names(chat(user(json!({"max_tokens": -1}))), "max_tokens");
    assert_names(chat(user(json!({"max_tokens": 0}))), "max_tokens");
    assert_names(
        chat(user(json!({"max_completion_tokens": 1.5}))),
        "max_completion_tokens",
    );
    assert_names(chat(user(json!({"stop": 3}))), "stop");
    assert_names(chat(user(json!({"stop": ["a", 1]}))), "stop");
    assert_names(
        chat(user(json!({"stop": ["a", "b", "c", "d", "e"]}))),
        "stop",
    );
    assert_names(chat(user(json!({"seed": "x"}))), "seed");
    assert_names(chat(user(json!({"stream": "yes"}))), "stream");
    assert_names(chat(user(json!({"logprobs": 1}))), "logprobs");
    assert_names(
        chat(user(json!({"top_logprobs": 21, "logprobs": true}))),
        "top_logprobs",
    );
    assert_names(chat(user(json!({"top_logprobs": 3}))), "top_logprobs");
    assert_names(chat(user(json!({"logit_bias": {"x": 1}}))), "logit_bias");
    assert_names(chat(user(json!({"logit_bias": {"1": 101}}))), "logit_bias");
    assert_names(chat(user(json!({"logit_bias": [1]}))), "logit_bias");
    assert_names(
        chat(user(json!({"frequency_penalty": 3}))),
        "frequency_penalty",
    );
    assert_names(
        chat(user(json!({"presence_penalty": -3}))),
        "presence_penalty",
    );
    assert_names(chat(user(json!({"repeat_penalty": 0}))), "repeat_penalty");
    assert_names(
        chat(user(json!({"stream_options": {"include_usage": 1}}))),
        "stream_options.include_usage",
    );
    assert_names(chat(user(json!({"model": 5}))), "model");
    assert_names(chat(user(json!({"n": 2}))), "n");
    assert_names(chat(json!({"messages": "hi"})), "messages");
    assert_names(chat(json!({"messages": []})), "messages");
    assert_names(chat(json!({})), "messages");
    assert_names(chat(json!({"messages": [1]})), "messages[0]");
    assert_names(
        chat(json!({"messages": [{"content": "x"}]})),
        "messages[0].role",
    );
    assert_names(
        chat(json!({"messages": [{"role": "wizard", "content": "x"}]})),
        "messages[0].role",
    );
    assert_names(
        chat(json!({"messages": [{"role": "user"}]})),
        "messages[0].content",
    );
    assert_names(
        chat(json!({"messages": [{"role": "user", "content": 5}]})),
        "messages[0].content",
    );
    let image = json!([{"type": "image_url", "image_url": {"url": "x"}}]);
    assert_names(
        chat(json!({"messages": [{"role": "user", "content": image}]})),
        "messages[0].content",
    );
}

#[test]
fn unsupported_fields_are_refused_by_name() {
    let tools = json!([{"type": "function", "function": {"name": "f"}}]);
    assert_names(chat(user(json!({"functions": tools}))), "functions");
    // tools belong to the chat API
    assert_names(
        parse_completion(
            json!({"prompt": "a", "tools": tools})
                .to_string()
                .as_bytes(),
        ),
        "tools",
    );
    assert_names(parse_completion(br#"{"prompt":"a","echo":true}"#), "echo");
    assert_names(
        parse_completion(br#"{"prompt":"a","suffix":"b"}"#),
        "suffix",
    );
    assert_names(
        parse_completion(br#"{"prompt":"a","best_of":2}"#),
        "best_of",
    );
    // values that ask for nothing are fine
    chat(user(
        json!({"tools": [], "tool_choice": "none", "response_format": {"type": "text"}}),
    ))
    .unwrap();
}

#[test]
fn bodies_that_are_not_requests() {
    for body in [
        &b""[..],
        b"{",
        b"[]",
        b"null",
        b"\"x\"",
        b"{\"messages\": [}",
        b"\xff\xfe",
    ] {
        let e = parse_chat(body).unwrap_err();
        assert_eq!(e.status, 400, "{body:?}: {e:?}");
    }
    let big = vec![b' '; MAX_BODY_BYTES + 1];
    assert!(parse_chat(&big).unwrap_err().message.contains("bytes"));
    let many: Vec<_> = (0..=MAX_MESSAGES)
        .map(|_| json!({"role": "user", "content": "x"}))
        .collect();
    assert_names(chat(json!({"messages": many})), "messages");
}

#[test]
fn depth_is_bounded_before_parsing() {
    let nested = |d: usize| format!("{}1{}", "[".repeat(d), "]".repeat(d));
    assert!(check_depth(nested(MAX_JSON_DEPTH).as_bytes(), MAX_JSON_DEPTH).is_ok());
    assert!(check_depth(nested(MAX_JSON_DEPTH + 1).as_bytes(), MAX_JSON_DEPTH).is_err());
    // brackets inside strings (and escaped quotes) do not count
    let s = format!(r#"{{"a": "{}\"{}"}}"#, "[".repeat(100), "{".repeat(100));
    assert!(check_depth(s.as_bytes(), 2).is_ok());
    // a deep body is refused with a message, never a stack overflow
    let deep = format!(r#"{{"messages": {}}}"#, nested(100_000));
    assert!(parse_chat(deep.as_bytes())
        .unwrap_err()
        .message
        .contains("nested"));
}

#[test]
fn completion_prompts_and_logprobs() {
    let r = parse_completion(br#"{"prompt": "The capital", "logprobs": 3}"#).unwrap();
    assert_eq!(r.prompt, Prompt::Text("The capital".into()));
    assert!(r.params.logprobs);
    assert_eq!(r.params.top_logprobs, 3);
    let r = parse_completion(br#"{"prompt": ["one"]}"#).unwrap();
    assert_eq!(r.prompt, Prompt::Text("one".into()));
    let r = parse_completion(br#"{"prompt": [1, 2, 3]}"#).unwrap();
    assert_eq!(r.prompt, Prompt::Ids(vec![1, 2, 3]));
    assert_names(parse_completion(br#"{"prompt": ["a", "b"]}"#), "prompt");
    assert_names(parse_completion(br#"{"prompt": [1, -2]}"#), "prompt");
    assert_names(parse_completion(br#"{"prompt": [4294967296]}"#), "prompt");
    assert_names(parse_completion(br#"{}"#), "prompt");
    assert_names(
        parse_completion(br#"{"prompt": "a", "logprobs": true}"#),
        "logprobs",
    );
}

#[test]
fn tokenize_and_detokenize_bodies() {
    let t = parse_tokenize(br#"{"content": "hi", "with_pieces": true}"#).unwrap();
    assert_eq!(
        (t.content.as_str(), t.add_special, t.with_pieces),
        ("hi", false, true)
    );
    assert_names(parse_tokenize(br#"{"content": 1}"#), "content");
    assert_names(parse_tokenize(br#"{}"#), "content");
    assert_eq!(
        parse_detokenize(br#"{"tokens": [5, 6]}"#).unwrap(),
        vec![5, 6]
    );
    assert_names(parse_detokenize(br#"{"tokens": ["a"]}"#), "tokens");
    assert_names(parse_detokenize(br#"{"tokens": 5}"#), "tokens");
}

proptest! {
    /// Any bytes: a request or a 400, never a panic and never another status.
    #[test]
    fn any_bytes_parse_or_400(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let errors = [parse_chat(&body).err(), parse_completion(&body).err(), parse_tokenize(&body).err()];
        for e in errors.into_iter().flatten() {
            prop_assert_eq!(e.status, 400);
        }
    }

    /// Any JSON value in a known field: accepted or a 400 naming exactly that field.
    #[test]
    fn any_value_in_a_field(field in prop::sample::select(vec![
        "temperature", "top_p", "top_k", "min_p", "max_tokens", "seed", "stop", "logit_bias",
        "frequency_penalty", "presence_penalty", "repeat_penalty", "stream", "n", "model"]),
        v in prop_oneof![
            any::<i64>().prop_map(|x| json!(x)), any::<f64>().prop_map(|x| json!(x)),
            any::<bool>().prop_map(|x| json!(x)), ".{0,8}".prop_map(|x| json!(x)),
            Just(json!([1, "a"])), Just(json!({"1": 2}))]) {
        let mut body = user(json!({}));
        body[field] = v;
        if let Err(e) = chat(body) {
            prop_assert_eq!(e.status, 400);
            prop_assert_eq!(e.param.as_deref(), Some(field));
        }
    }
}

// ---- the wire format, byte by byte ----

fn meta() -> Meta {
    Meta {
        id: "chatcmpl-1".into(),
        created: 1700000000,
        model: "m".into(),
    }
}

#[test]
fn frames_are_exact_bytes() {
    assert_eq!(wire::DONE_FRAME, b"data: [DONE]\n\n");
    assert_eq!(wire::KEEPALIVE_FRAME, b": keep-alive\n\n");
    // a newline inside the content is escaped: the frame stays one line
    let f = wire::data_frame(&json!({"a": "x\ny\r\n\n"}));
    assert_eq!(f, b"data: {\"a\":\"x\\ny\\r\\n\\n\"}\n\n".to_vec());
}

#[test]
fn error_body_is_openais_shape() {
    let e = ApiError::bad_param("temperature", "`temperature` must be a number");
    assert_eq!(
        e.body().to_string(),
        r#"{"error":{"message":"`temperature` must be a number","type":"invalid_request_error","param":"temperature","code":null}}"#
    );
    let e = ApiError::unavailable("queue_full", "busy");
    assert_eq!((e.status, e.retry_after), (503, Some(1)));
    assert_eq!(ApiError::unauthorized().status, 401);
    assert_eq!(ApiError::model_not_found("x", "m").status, 404);
    assert_eq!(
        ApiError::context_exceeded("long").body()["error"]["code"],
        "context_length_exceeded"
    );
}

#[test]
fn chunks_in_order() {
    let m = meta();
    let first = wire::chunk(
        Api::Chat,
        &m,
        Some(""),
        true,
        serde_json::Value::Null,
        None,
        false,
    );
    assert_eq!(
        first.to_string(),
        r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"m","system_fingerprint":"glassbox-0.1.0","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}"#
    );
    let last = wire::chunk(
        Api::Chat,
        &m,
        None,
        false,
        serde_json::Value::Null,
        Some("stop"),
        true,
    );
    assert_eq!(last["choices"][0]["delta"], json!({}));
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert_eq!(last["usage"], serde_json::Value::Null);
    let u = Usage {
        prompt_tokens: 5,
        completion_tokens: 3,
        cached_tokens: 2,
    };
    assert_eq!(
        wire::usage_chunk(Api::Chat, &m, &u)["usage"],
        json!({"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8,
               "prompt_tokens_details": {"cached_tokens": 2}})
    );
    assert_eq!(wire::usage_chunk(Api::Chat, &m, &u)["choices"], json!([]));
    let text = wire::chunk(
        Api::Text,
        &m,
        Some("Paris"),
        false,
        serde_json::Value::Null,
        None,
        false,
    );
    assert_eq!(text["object"], "text_completion");
    assert_eq!(text["choices"][0]["text"], "Paris");
    let full = wire::response(
        Api::Chat,
        &m,
        "Paris.",
        &[],
        serde_json::Value::Null,
        "length",
        &u,
    );
    assert_eq!(full["object"], "chat.completion");
    assert_eq!(
        full["choices"][0]["message"],
        json!({"role": "assistant", "content": "Paris.", "refusal": null})
    );
    assert_eq!(full["choices"][0]["finish_reason"], "length");
    assert_eq!(full["usage"]["total_tokens"], 8);
}

// ---- the sampler additions the API needs ----

proptest! {
    /// `top_logprobs` (partial selection) equals the full-sort reference: same ids in the same
    /// order, log-probabilities within 1e-6 (both are f64 log-sum-exp of the same f32 logits).
    #[test]
    fn top_logprobs_fast_equals_naive(
        logits in proptest::collection::vec(-20.0f32..20.0, 1..400),
        k in 0usize..25,
    ) {
        let fast = glassbox::sampler::top_logprobs(&logits, k);
        let naive = glassbox::sampler::top_logprobs_naive(&logits, k);
        prop_assert_eq!(fast.len(), naive.len());
        for ((i, a), (j, b)) in fast.iter().zip(&naive) {
            prop_assert_eq!(i, j);
            prop_assert!((a - b).abs() < 1e-6);
        }
    }
}

#[test]
fn logit_bias_is_added_before_everything() {
    use glassbox::sampler::{apply_logit_bias, Sampler, SamplerConfig};
    let mut l = vec![1.0, 2.0, 3.0];
    apply_logit_bias(&mut l, &[(0, 5.0), (2, -100.0), (9, 1.0)]); // id 9: outside, ignored
    assert_eq!(l, vec![6.0, 2.0, -97.0]);
    // greedy after bias: the banned argmax loses, the boosted token wins
    let cfg = SamplerConfig {
        logit_bias: vec![(2, -100.0)],
        ..SamplerConfig::default()
    };
    let mut s = Sampler::new(cfg).unwrap();
    let picked = s.sample_with_logprob(&mut [1.0, 2.0, 3.0], &[]);
    assert_eq!(picked.id, 1);
    // the reported log-probability is the model's own, before the bias
    let raw = glassbox::sampler::log_softmax_at(&[1.0, 2.0, 3.0], 1);
    assert!((picked.logprob - raw).abs() < 1e-6);
    let bad = SamplerConfig {
        logit_bias: vec![(0, f32::NAN)],
        ..SamplerConfig::default()
    };
    assert!(Sampler::new(bad).is_err());
}
