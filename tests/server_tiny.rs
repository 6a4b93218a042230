//! `glassbox serve` end to end with the tiny random Llama (tests/fixtures/tiny, vocab 320,
//! context 256): every endpoint and error case over a real socket on 127.0.0.1, SSE read byte
//! by byte, answers compared with the library's own `generate` on the same prompt.

mod server_common;

use glassbox::chat::{stop_token_ids, ChatTemplate, Message};
use glassbox::generate::{generate, GenerateConfig, LlamaRunner};
use glassbox::model::Llama;
use glassbox::sampler::{log_softmax_at, top_logprobs_naive, SamplerConfig};
use serde_json::{json, Value};
use server_common::*;

/// Log-probabilities cross two implementations (f64 log-sum-exp in both, same logits up to
/// the prefill/decode order of float sums): 1e-4 is far below any real difference.
const LOGPROB_TOL: f64 = 1e-4;

fn tiny() -> Llama {
    Llama::load(tiny_path()).unwrap()
}

/// The library's greedy answer to `ids` (a fresh KV-cache: no prefix reuse).
fn reference(m: &Llama, ids: &[u32], n: usize) -> glassbox::generate::Output {
    let cfg = GenerateConfig {
        max_new_tokens: Some(n),
        stop_ids: stop_token_ids(&m.tokenizer),
        sampler: SamplerConfig::default(),
        ..Default::default()
    };
    let mut r = LlamaRunner::new(m, 256).unwrap();
    generate(&mut r, &m.tokenizer, ids, &cfg, &mut |_| {}).unwrap()
}

fn chat_ids(m: &Llama, messages: &[Message]) -> Vec<u32> {
    let t = ChatTemplate::for_model(m.chat_template.as_deref(), &m.tokenizer).unwrap();
    t.encode(&m.tokenizer, messages, true).unwrap()
}

#[test]
fn routes_health_models_auth() {
    let s = start_tiny(|o| o.api_key = Some("s3cret".into()));
    let a = s.addr;
    let auth = [("Authorization", "Bearer s3cret")];
    let h = get(a, "/health");
    assert_eq!((h.status, h.json()), (200, json!({"status": "ok"})));
    // every API route needs the key
    for (method, path) in [
        ("GET", "/v1/models"),
        ("POST", "/v1/chat/completions"),
        ("POST", "/tokenize"),
    ] {
        let r = request(a, method, path, &[], b"{}");
        assert_eq!(r.status, 401, "{path}");
        assert_eq!(r.error()["type"], "authentication_error");
        let wrong = request(a, method, path, &[("Authorization", "Bearer s3cre")], b"{}");
        assert_eq!(wrong.status, 401, "{path} with a wrong key");
    }
    let m = request(a, "GET", "/v1/models", &auth, b"");
    assert_eq!(m.status, 200);
    let m = m.json();
    assert_eq!(m["object"], "list");
    assert_eq!(m["data"][0]["id"], "tiny");
    assert_eq!(m["data"][0]["object"], "model");
    assert_eq!(m["data"][0]["meta"]["n_ctx"], 256);
    // unknown routes and wrong methods: 404 with an error body
    let r = request(a, "GET", "/v2/nothing", &auth, b"");
    assert_eq!(
        (r.status, r.error()["code"].clone()),
        (404, json!("unknown_url"))
    );
    let r = request(a, "GET", "/v1/chat/completions", &auth, b"");
    assert_eq!(r.status, 404);
    assert!(r.error()["message"]
        .as_str()
        .unwrap()
        .contains("POST /v1/chat/completions"));
    // the page and its script are served without a key, from the binary
    let page = get(a, "/");
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    let html = String::from_utf8(page.body).unwrap();
    assert!(
        html.contains("<script src=\"/page.js\">") && !html.contains("http"),
        "no CDN"
    );
    let js = get(a, "/page.js");
    assert_eq!(js.status, 200);
    assert!(String::from_utf8(js.body)
        .unwrap()
        .contains("top_logprobs: 5"));
    s.stop().unwrap();
}

#[test]
fn bad_requests_get_clear_errors() {
    let s = start_tiny(|_| {});
    let a = s.addr;
    let r = post(
        a,
        "/v1/chat/completions",
        &chat_body("hi", json!({"temperature": "hot"})),
    );
    assert_eq!(
        (r.status, r.error()["param"].clone()),
        (400, json!("temperature"))
    );
    let r = post(
        a,
        "/v1/chat/completions",
        &chat_body("hi", json!({"model": "gpt-4o"})),
    );
    assert_eq!(
        (r.status, r.error()["code"].clone()),
        (404, json!("model_not_found"))
    );
    assert!(r.error()["message"].as_str().unwrap().contains("`tiny`"));
    let r = post(a, "/v1/chat/completions", &chat_body("hi", json!({"n": 3})));
    assert_eq!((r.status, r.error()["param"].clone()), (400, json!("n")));
    let r = post(
        a,
        "/v1/chat/completions",
        &chat_body("hi", json!({"tools": [{"type": "function"}]})),
    );
    assert_eq!(
        (r.status, r.error()["param"].clone()),
        (400, json!("tools[0].function"))
    );
    let r = post(
        a,
        "/v1/chat/completions",
        &chat_body("hi", json!({"logit_bias": {"5000": 1}})),
    );
    assert_eq!(
        (r.status, r.error()["param"].clone()),
        (400, json!("logit_bias"))
    );
    let r = request(a, "POST", "/v1/chat/completions", &[], b"{not json");
    assert_eq!(r.status, 400);
    let r = post(a, "/v1/completions", &json!({"prompt": [1, 2, 999]}));
    assert_eq!(
        (r.status, r.error()["param"].clone()),
        (400, json!("prompt"))
    );
    // a body over the limit: refused before it is parsed, still an error body
    let big = vec![b'x'; 3 << 20];
    let r = request(a, "POST", "/v1/chat/completions", &[], &big);
    assert_eq!(r.status, 413);
    assert!(r.error()["message"].as_str().unwrap().contains("bytes"));

    // the prompt does not fit: the message says how many tokens it has and how many fit
    let m = tiny();
    let long = "the cat sat on the mat ".repeat(60);
    let n = chat_ids(&m, &[Message::user(&long)]).len();
    assert!(n > 256);
    let r = post(a, "/v1/chat/completions", &chat_body(&long, json!({})));
    assert_eq!(r.status, 400);
    let e = r.error();
    assert_eq!(e["code"], "context_length_exceeded");
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!("has {n} tokens")) && msg.contains("holds 256"),
        "{msg}"
    );
    // fits, but not with the tokens asked for
    let short = chat_ids(&m, &[Message::user("hi")]).len();
    let r = post(
        a,
        "/v1/chat/completions",
        &chat_body("hi", json!({"max_tokens": 300})),
    );
    assert_eq!(r.status, 400);
    let msg = r.error()["message"].as_str().unwrap().to_string();
    assert!(msg.contains(&format!("at most {}", 256 - short)), "{msg}");
    // none of this broke the server
    let ok = post(
        a,
        "/v1/chat/completions",
        &chat_body("hi", json!({"max_tokens": 2})),
    );
    assert_eq!(ok.status, 200);
    s.stop().unwrap();
}

#[test]
fn greedy_chat_equals_generate_streamed_or_not() {
    let s = start_tiny(|_| {});
    let m = tiny();
    let msgs = [
        Message::system("Be brief."),
        Message::user("What is the capital of France?"),
    ];
    let ids = chat_ids(&m, &msgs);
    let want = reference(&m, &ids, 24);
    let body = json!({"model": "tiny", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is the capital of France?"}],
        "temperature": 0, "max_tokens": 24});
    let r = post(s.addr, "/v1/chat/completions", &body);
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["object"], "chat.completion");
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(v["model"], "tiny");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(v["choices"][0]["message"]["content"], want.text.as_str());
    let reason = if want.ids.len() < 24 {
        "stop"
    } else {
        "length"
    };
    assert_eq!(v["choices"][0]["finish_reason"], reason);
    assert_eq!(v["choices"][0]["logprobs"], Value::Null);
    assert_eq!(v["usage"]["prompt_tokens"], ids.len());
    assert_eq!(v["usage"]["completion_tokens"], want.ids.len());
    assert_eq!(v["usage"]["total_tokens"], ids.len() + want.ids.len());

    // streamed: the same text, framed exactly
    let mut sb = body.clone();
    sb["stream"] = json!(true);
    sb["stream_options"] = json!({"include_usage": true});
    let r = post(s.addr, "/v1/chat/completions", &sb);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let f = frames(&r.body);
    assert_eq!(f.last(), Some(&Frame::Done), "the stream ends with [DONE]");
    let d = data(&f);
    let id = d[0]["id"].clone();
    assert!(d
        .iter()
        .all(|c| c["id"] == id && c["object"] == "chat.completion.chunk"));
    assert_eq!(
        d[0]["choices"][0]["delta"]["role"], "assistant",
        "the first delta carries the role"
    );
    assert!(d[1..]
        .iter()
        .all(|c| c["choices"][0]["delta"].get("role").is_none()));
    let (usage, choices) = d.split_last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], want.ids.len());
    let finals: Vec<_> = choices
        .iter()
        .filter(|c| !c["choices"][0]["finish_reason"].is_null())
        .collect();
    assert_eq!(finals.len(), 1, "one finish reason");
    assert_eq!(finals[0]["choices"][0]["finish_reason"], reason);
    assert_eq!(
        choices.last().unwrap()["choices"][0]["finish_reason"],
        reason,
        "in the last choice chunk"
    );
    assert!(
        choices.iter().all(|c| c["usage"].is_null()),
        "usage: null until the usage chunk"
    );
    assert_eq!(streamed_text(&f), want.text);

    // without include_usage: no usage chunk, no usage key
    let mut sb = body.clone();
    sb["stream"] = json!(true);
    let f = frames(&post(s.addr, "/v1/chat/completions", &sb).body);
    assert!(data(&f)
        .iter()
        .all(|c| c.get("usage").is_none() && c["choices"].as_array().unwrap().len() == 1));
    assert_eq!(streamed_text(&f), want.text);
    s.stop().unwrap();
}

#[test]
fn same_seed_same_answer() {
    let s = start_tiny(|_| {});
    let ask = |seed: u64, stream: bool| {
        let b = chat_body(
            "Tell me a story",
            json!({"temperature": 1.0, "seed": seed, "max_tokens": 32, "stream": stream}),
        );
        let r = post(s.addr, "/v1/chat/completions", &b);
        if stream {
            streamed_text(&frames(&r.body))
        } else {
            r.json()["choices"][0]["message"]["content"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let a = ask(7, false);
    assert_eq!(ask(7, true), a, "streamed = non-streamed");
    assert_eq!(ask(7, false), a, "and again");
    assert_ne!(ask(8, false), a, "another seed, another answer");
    s.stop().unwrap();
}

#[test]
fn stop_strings_never_leak() {
    let s = start_tiny(|_| {});
    let full = post(
        s.addr,
        "/v1/completions",
        &json!({"prompt": "Once upon a time", "temperature": 0, "max_tokens": 48, "logprobs": 1}),
    );
    let v = full.json();
    let text = v["choices"][0]["text"].as_str().unwrap().to_string();
    let tokens: Vec<String> =
        serde_json::from_value(v["choices"][0]["logprobs"]["tokens"].clone()).unwrap();
    // a stop string that starts inside one token and ends inside a later one
    let offsets: Vec<usize> =
        serde_json::from_value(v["choices"][0]["logprobs"]["text_offset"].clone()).unwrap();
    let i = (tokens.len() / 2..tokens.len() - 2)
        .find(|&i| tokens[i].len() >= 2 && text.is_char_boundary(offsets[i] + 1))
        .expect("a token of 2+ bytes in the middle");
    let start = offsets[i] + 1;
    let mut end = offsets[i + 1] + 1;
    while !text.is_char_boundary(end) {
        end += 1;
    }
    let stop = &text[start..end];
    let expect = &text[..text.find(stop).unwrap()];
    for stream in [false, true] {
        let b = json!({"prompt": "Once upon a time", "temperature": 0, "max_tokens": 48, "stop": [stop], "stream": stream});
        let r = post(s.addr, "/v1/completions", &b);
        let (got, reason) = if stream {
            let f = frames(&r.body);
            let d = data(&f);
            (
                streamed_text(&f),
                d.last().unwrap()["choices"][0]["finish_reason"].clone(),
            )
        } else {
            let v = r.json();
            (
                v["choices"][0]["text"].as_str().unwrap().to_string(),
                v["choices"][0]["finish_reason"].clone(),
            )
        };
        assert_eq!(
            got, expect,
            "stop {stop:?} (stream {stream}): not one byte of it is sent"
        );
        assert_eq!(reason, "stop");
    }
    s.stop().unwrap();
}

#[test]
fn logprobs_are_the_models() {
    let s = start_tiny(|_| {});
    let m = tiny();
    let ids = chat_ids(&m, &[Message::user("Hello")]);
    let b = chat_body(
        "Hello",
        json!({"temperature": 0, "max_tokens": 12, "logprobs": true, "top_logprobs": 5}),
    );
    let v = post(s.addr, "/v1/chat/completions", &b).json();
    let content = v["choices"][0]["logprobs"]["content"]
        .as_array()
        .unwrap()
        .clone();
    let n = v["usage"]["completion_tokens"].as_u64().unwrap() as usize;
    let eos = v["choices"][0]["finish_reason"] == "stop";
    assert_eq!(
        content.len(),
        n - eos as usize,
        "one entry per token with text"
    );
    // step 1: the model's own distribution after the prompt, the slow way
    let mut session = m.new_session(256).unwrap();
    let logits = m.forward(&mut session, &ids).unwrap().to_vec();
    let top = top_logprobs_naive(&logits, 5);
    let first = &content[0];
    assert_eq!(first["top_logprobs"].as_array().unwrap().len(), 5);
    for (e, (id, lp)) in first["top_logprobs"].as_array().unwrap().iter().zip(&top) {
        let bytes: Vec<u8> = serde_json::from_value(e["bytes"].clone()).unwrap();
        assert_eq!(
            bytes,
            m.tokenizer.token_bytes(*id).unwrap(),
            "alternative {id}"
        );
        assert!((e["logprob"].as_f64().unwrap() - *lp as f64).abs() < LOGPROB_TOL);
    }
    // greedy: each chosen token is the most likely one, with its log-probability
    for e in &content {
        assert_eq!(e["token"], e["top_logprobs"][0]["token"]);
        assert_eq!(e["logprob"], e["top_logprobs"][0]["logprob"]);
    }
    let first_id = top[0].0;
    assert!(
        (first["logprob"].as_f64().unwrap() - log_softmax_at(&logits, first_id) as f64).abs()
            < LOGPROB_TOL
    );
    // streamed, the entries arrive with the text they make up
    let mut sb = b.clone();
    sb["stream"] = json!(true);
    let f = frames(&post(s.addr, "/v1/chat/completions", &sb).body);
    let streamed: Vec<Value> = data(&f)
        .iter()
        .filter_map(|c| c["choices"][0]["logprobs"]["content"].as_array().cloned())
        .flatten()
        .collect();
    // (the second request reuses the cached prompt: the same tokens, log-probabilities equal
    // up to the order of float sums)
    assert_eq!(streamed.len(), content.len());
    for (a, b) in streamed.iter().zip(&content) {
        assert_eq!(a["bytes"], b["bytes"]);
        let tops = |e: &Value| {
            e["top_logprobs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["bytes"].clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(tops(a), tops(b));
        assert!(
            (a["logprob"].as_f64().unwrap() - b["logprob"].as_f64().unwrap()).abs() < LOGPROB_TOL
        );
    }
    s.stop().unwrap();
}

#[test]
fn logit_bias_bans_and_forces() {
    let s = start_tiny(|_| {});
    let first = |bias: Value| {
        let b = chat_body(
            "Hi",
            json!({"temperature": 0, "max_tokens": 3, "logprobs": true, "logit_bias": bias}),
        );
        let v = post(s.addr, "/v1/chat/completions", &b).json();
        v["choices"][0]["logprobs"]["content"][0]["bytes"].clone()
    };
    let m = tiny();
    let greedy = first(json!({}));
    let greedy_bytes: Vec<u8> = serde_json::from_value(greedy.clone()).unwrap();
    let greedy_id = (0..320u32)
        .find(|&i| m.tokenizer.token_bytes(i) == Some(&greedy_bytes[..]))
        .unwrap();
    assert_ne!(
        first(json!({ greedy_id.to_string(): -100 })),
        greedy,
        "banned"
    );
    let forced = 77u32;
    let want: Vec<u8> = m.tokenizer.token_bytes(forced).unwrap().to_vec();
    assert_eq!(
        first(json!({ forced.to_string(): 100 })),
        json!(want),
        "forced"
    );
    s.stop().unwrap();
}

#[test]
fn prefix_cache_is_reused_and_exact() {
    let s = start_tiny(|_| {});
    let m = tiny();
    let turn = |msgs: &Value| {
        let b = json!({"messages": msgs, "temperature": 0, "max_tokens": 16});
        let v = post(s.addr, "/v1/chat/completions", &b).json();
        let text = v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .to_string();
        (
            text,
            v["usage"]["prompt_tokens"].as_u64().unwrap() as usize,
            v["usage"]["prompt_tokens_details"]["cached_tokens"]
                .as_u64()
                .unwrap() as usize,
        )
    };
    let mut msgs = json!([{"role": "user", "content": "What is two plus two?"}]);
    let (a1, p1, c1) = turn(&msgs);
    assert_eq!(c1, 0, "the first request finds an empty cache");
    let (again, _, c) = turn(&msgs);
    assert_eq!(
        (again.as_str(), c),
        (a1.as_str(), p1 - 1),
        "the same prompt reuses all but its last token"
    );
    let mut history = vec![
        Message::user("What is two plus two?"),
        Message::assistant(&a1),
    ];
    for (k, q) in ["And three plus three?", "And four?", "Thanks."]
        .iter()
        .enumerate()
    {
        msgs.as_array_mut()
            .unwrap()
            .push(json!({"role": "assistant", "content": history.last().unwrap().content}));
        msgs.as_array_mut()
            .unwrap()
            .push(json!({"role": "user", "content": q}));
        history.push(Message::user(q));
        let (text, p, c) = turn(&msgs);
        // the cached part is at least the previous prompt; the answer is what a cold prefill gives
        assert!(c >= p1, "turn {}: {c} cached of {p}", k + 2);
        let ids = chat_ids(&m, &history);
        assert_eq!(p, ids.len());
        assert_eq!(
            text,
            reference(&m, &ids, 16).text,
            "turn {}: the cache changes nothing",
            k + 2
        );
        history.push(Message::assistant(&text));
        let _ = p;
    }
    s.stop().unwrap();
}

#[test]
fn completions_endpoint_and_legacy_logprobs() {
    let s = start_tiny(|_| {});
    let m = tiny();
    let prompt = "The capital of France is";
    let ids = m.tokenizer.encode_with_special(prompt);
    let want = reference(&m, &ids, 10);
    let v = post(
        s.addr,
        "/v1/completions",
        &json!({"prompt": prompt, "temperature": 0, "max_tokens": 10, "logprobs": 2}),
    )
    .json();
    assert_eq!(v["object"], "text_completion");
    assert!(v["id"].as_str().unwrap().starts_with("cmpl-"));
    assert_eq!(v["choices"][0]["text"], want.text.as_str());
    let lp = &v["choices"][0]["logprobs"];
    let n = lp["tokens"].as_array().unwrap().len();
    assert_eq!(lp["token_logprobs"].as_array().unwrap().len(), n);
    assert!(lp["top_logprobs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t.as_object().unwrap().len() <= 2));
    let offsets: Vec<usize> = serde_json::from_value(lp["text_offset"].clone()).unwrap();
    assert_eq!(offsets[0], 0);
    // the same prompt as ids
    let v2 = post(
        s.addr,
        "/v1/completions",
        &json!({"prompt": ids, "temperature": 0, "max_tokens": 10}),
    )
    .json();
    assert_eq!(v2["choices"][0]["text"], want.text.as_str());
    // streamed: text chunks, no role chunk
    let f = frames(
        &post(
            s.addr,
            "/v1/completions",
            &json!({"prompt": prompt, "temperature": 0, "max_tokens": 10, "stream": true}),
        )
        .body,
    );
    assert!(data(&f).iter().all(|c| c["object"] == "text_completion"));
    assert_eq!(streamed_text(&f), want.text);
    s.stop().unwrap();
}

#[test]
fn tokenize_detokenize_roundtrip() {
    let s = start_tiny(|_| {});
    let m = tiny();
    let text = "Hello world! <|im_end|>";
    let v = post(s.addr, "/tokenize", &json!({"content": text})).json();
    let ids: Vec<u32> = serde_json::from_value(v["tokens"].clone()).unwrap();
    assert_eq!(ids, m.tokenizer.encode_with_special(text));
    assert_eq!(*ids.last().unwrap(), 2, "special tokens are recognised");
    let v = post(
        s.addr,
        "/tokenize",
        &json!({"content": "Hello", "add_special": true, "with_pieces": true}),
    )
    .json();
    // add_special follows the file's add-BOS policy, as llama.cpp's server does
    let with_special: Vec<u32> = v["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_u64().unwrap() as u32)
        .collect();
    assert_eq!(with_special, m.tokenizer.encode_prompt("Hello"));
    let skip = usize::from(m.tokenizer.add_bos());
    let pieces: String = v["tokens"].as_array().unwrap()[skip..]
        .iter()
        .map(|t| t["piece"].as_str().unwrap())
        .collect();
    assert_eq!(pieces, "Hello");
    let v = post(s.addr, "/detokenize", &json!({"tokens": ids})).json();
    assert_eq!(v["content"], text);
    let r = post(s.addr, "/detokenize", &json!({"tokens": [100000]}));
    assert_eq!(
        (r.status, r.error()["param"].clone()),
        (400, json!("tokens"))
    );
    s.stop().unwrap();
}

#[test]
fn roles_and_content_parts_reach_the_template() {
    let s = start_tiny(|_| {});
    let m = tiny();
    let body = json!({"temperature": 0, "max_tokens": 8, "messages": [
        {"role": "developer", "content": "sys"},
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": "calling"},
        {"role": "tool", "content": "{\"t\": 21}", "tool_call_id": "call_1"}]});
    let v = post(s.addr, "/v1/chat/completions", &body).json();
    // a tool result reaches the template in the generic tool format's words (tools/generic.rs)
    let ids = chat_ids(
        &m,
        &glassbox::tools::generic::history(&[
            Message::system("sys"),
            Message::user("a\nb"),
            Message::assistant("calling"),
            Message::tool("{\"t\": 21}", "call_1"),
        ]),
    );
    assert_eq!(v["usage"]["prompt_tokens"], ids.len());
    assert_eq!(
        v["choices"][0]["message"]["content"],
        reference(&m, &ids, 8).text.as_str()
    );
    s.stop().unwrap();
}

#[cfg(target_os = "linux")]
#[test]
fn health_is_503_while_loading() {
    // A FIFO as the model file: the loader blocks opening it until the test writes.
    let dir = std::env::temp_dir().join(format!("glassbox-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("slow.gguf");
    let _ = std::fs::remove_file(&fifo);
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let s = glassbox::server::start(glassbox::server::Options {
        model: Some(fifo.clone()),
        port: 0,
        ..Default::default()
    })
    .unwrap();
    let h = get(s.addr, "/health");
    assert_eq!(h.status, 503);
    assert_eq!(h.error()["code"], "loading");
    assert!(h.header("retry-after").is_some());
    let r = post(s.addr, "/v1/chat/completions", &chat_body("hi", json!({})));
    assert_eq!(r.status, 503);
    // Let the loader read "GGUF" then an empty file, as many times as it opens the FIFO: a
    // non-blocking writer open succeeds only while the loader waits in its open.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (fifo, stop) = (fifo.clone(), stop.clone());
        std::thread::spawn(move || {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            const O_NONBLOCK: i32 = 0o4000; // Linux
            let mut first = true;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match std::fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(O_NONBLOCK)
                    .open(&fifo)
                {
                    Ok(mut w) => {
                        if first {
                            let _ = w.write_all(b"GGUF");
                            first = false;
                        }
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
                }
            }
        })
    };
    let err = s.wait().unwrap_err().to_string();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    assert!(err.contains("slow.gguf"), "the error names the file: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The prefix cache itself: after `reuse_prefix`, running the rest of a prompt gives the logits
/// a cold prefill of the whole prompt gives (within the tiny model's float tolerance, 1e-4:
/// only the order of sums differs), for prompts that share 0, some, or all of the cached ids.
#[test]
fn reuse_prefix_equals_a_cold_prefill() {
    let m = tiny();
    let a: Vec<u32> = (0..24).map(|i| (i * 37 + 11) % 320).collect();
    for shared in [0usize, 1, 9, 23, 24] {
        let mut b: Vec<u32> = a[..shared].to_vec();
        b.extend((0..12).map(|i| (i * 53 + 7) % 317 + 3)); // differs from a at `shared`
        if shared == 24 {
            b = a.clone(); // the very same prompt: all but the last id reused
        }
        let mut warm = m.new_session(256).unwrap();
        m.forward(&mut warm, &a).unwrap();
        let kept = warm.reuse_prefix(&b);
        assert_eq!(kept, shared.min(b.len() - 1), "shared {shared}");
        assert_eq!(warm.tokens(), &b[..kept]);
        let got = m.forward(&mut warm, &b[kept..]).unwrap().to_vec();
        let mut cold = m.new_session(256).unwrap();
        let want = m.forward(&mut cold, &b).unwrap();
        let diff = got
            .iter()
            .zip(want)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        println!("shared {shared}: kept {kept}, max |Δlogit| = {diff:.2e}");
        assert!(diff < 1e-4, "shared {shared}: max difference {diff}");
        assert_eq!(warm.tokens(), &b[..]);
    }
}
