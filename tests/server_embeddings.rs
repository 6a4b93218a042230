//! `POST /v1/embeddings` over real HTTP against sentence-transformers' vectors
//! (`tests/fixtures/minilm/`, from `scripts/fixtures_minilm.py`): text, token arrays, base64,
//! truncation on request, and the 400s/404 that name the field at fault.
//!
//! Tolerance, as for the encoder itself (tests/bert_minilm.rs): cosine ≥ 0.99999 and
//! max |Δ| ≤ 1e-4 per component — f32 sums in another order than PyTorch's.

mod encoder_common;
mod server_common;

use base64::Engine;
use encoder_common::{sentences, Sentence};
use serde_json::{json, Value};
use server_common::{post, start_tiny};

const PATH: &str = "/v1/embeddings";

fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let dot: f64 = got
        .iter()
        .zip(want)
        .map(|(a, b)| *a as f64 * *b as f64)
        .sum();
    let na: f64 = got.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = want.iter().map(|b| (*b as f64).powi(2)).sum::<f64>().sqrt();
    let cos = dot / (na * nb);
    let max = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        cos >= 0.99999 && max <= 1e-4,
        "{what}: cosine {cos}, max |Δ| {max}"
    );
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("a list of numbers")
        .iter()
        .map(|x| x.as_f64().expect("a number") as f32)
        .collect()
}

/// The fixture sentences within the encoder's 256 tokens, and the one past it.
fn split() -> (Vec<Sentence>, Sentence) {
    let (mut short, long): (Vec<_>, Vec<_>) =
        sentences().into_iter().partition(|s| s.ids.len() < 256);
    assert_eq!(
        long.len(),
        1,
        "the fixture has one paragraph past 256 tokens"
    );
    short.truncate(60);
    (short, long.into_iter().next().unwrap())
}

#[test]
fn texts_and_token_arrays_equal_sentence_transformers() {
    let server = start_tiny(|_| {});
    let (short, _) = split();
    let texts: Vec<&str> = short.iter().map(|s| s.text.as_str()).collect();
    let r = post(
        server.addr,
        PATH,
        &json!({"model": "all-MiniLM-L6-v2", "input": texts}),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    assert_eq!(v["object"], "list");
    assert_eq!(v["model"], "all-MiniLM-L6-v2");
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), short.len());
    for (i, (d, s)) in data.iter().zip(&short).enumerate() {
        assert_eq!(d["object"], "embedding");
        assert_eq!(d["index"], i);
        assert_close(
            &floats(&d["embedding"]),
            &s.embedding,
            &format!("text {:?}", s.text),
        );
    }
    // usage counts what the encoder read: [CLS] … [SEP], as tokenizers gave them
    let tokens: usize = short.iter().map(|s| s.ids.len()).sum();
    assert_eq!(v["usage"]["prompt_tokens"], tokens);
    assert_eq!(v["usage"]["total_tokens"], tokens);

    // the same inputs as token arrays (word pieces without [CLS]/[SEP]), owner-qualified name
    let arrays: Vec<&[u32]> = short.iter().map(|s| &s.ids[1..s.ids.len() - 1]).collect();
    let model = "sentence-transformers/all-MiniLM-L6-v2";
    let r = post(server.addr, PATH, &json!({"model": model, "input": arrays}));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    for (d, s) in r.json()["data"].as_array().unwrap().iter().zip(&short) {
        assert_close(
            &floats(&d["embedding"]),
            &s.embedding,
            &format!("ids of {:?}", s.text),
        );
    }

    // one string, and one token array, alone
    let s = &short[3];
    for input in [json!(s.text), json!(s.ids[1..s.ids.len() - 1])] {
        let v = post(server.addr, PATH, &json!({ "input": input })).json();
        assert_eq!(v["data"].as_array().unwrap().len(), 1, "{v}");
        assert_eq!(v["usage"]["prompt_tokens"], s.ids.len());
        assert_close(&floats(&v["data"][0]["embedding"]), &s.embedding, "alone");
    }
    server.stop().unwrap();
}

#[test]
fn base64_is_the_float_vector_bit_for_bit() {
    let server = start_tiny(|_| {});
    let (short, _) = split();
    let input: Vec<&str> = short[..5].iter().map(|s| s.text.as_str()).collect();
    let float = post(
        server.addr,
        PATH,
        &json!({"input": input, "encoding_format": "float"}),
    );
    let b64 = post(
        server.addr,
        PATH,
        &json!({"input": input, "encoding_format": "base64"}),
    );
    assert_eq!(b64.status, 200);
    for (f, b) in float.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .zip(b64.json()["data"].as_array().unwrap())
    {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b["embedding"].as_str().expect("a base64 string"))
            .expect("valid base64");
        let decoded: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        // the float form is f32 in shortest round-trip form: parsing it back is exact
        assert_eq!(decoded, floats(&f["embedding"]));
    }
    server.stop().unwrap();
}

#[test]
fn too_long_is_a_400_unless_truncation_is_asked() {
    let server = start_tiny(|_| {});
    let (short, long) = split();
    let input = json!([short[0].text, long.text]);
    let r = post(server.addr, PATH, &json!({ "input": input }));
    assert_eq!(r.status, 400);
    let e = r.error();
    assert_eq!(e["param"], "input[1]");
    assert_eq!(e["code"], "context_length_exceeded");
    assert!(
        e["message"].as_str().unwrap().contains("at most 256"),
        "{e}"
    );

    let r = post(
        server.addr,
        PATH,
        &json!({"input": input, "truncate": true}),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    assert_eq!(v["usage"]["prompt_tokens"], short[0].ids.len() + 256);
    // sentence-transformers truncated the paragraph to 256 tokens too
    assert_close(
        &floats(&v["data"][1]["embedding"]),
        &long.embedding,
        "truncated",
    );
    server.stop().unwrap();
}

#[test]
fn bad_requests_name_the_field() {
    let server = start_tiny(|_| {});
    let cases = [
        (json!({}), 400, "input"),
        (json!({"input": []}), 400, "input"),
        (json!({"input": 7}), 400, "input"),
        (json!({"input": [1, -2]}), 400, "input"),
        (json!({"input": ["a", 3]}), 400, "input[1]"),
        (json!({"input": ["a", [1.5]]}), 400, "input[1]"),
        (json!({"input": [[2023], [30522]]}), 400, "input[1]"),
        (
            json!({"input": "a", "encoding_format": "int8"}),
            400,
            "encoding_format",
        ),
        (json!({"input": "a", "dimensions": 128}), 400, "dimensions"),
        (json!({"input": "a", "truncate": "yes"}), 400, "truncate"),
        (
            json!({"input": "a", "model": "text-embedding-3-small"}),
            404,
            "model",
        ),
    ];
    for (body, status, param) in cases {
        let r = post(server.addr, PATH, &body);
        assert_eq!(
            r.status,
            status,
            "{body}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(r.error()["param"], param, "{body}");
    }
    let many: Vec<&str> = vec!["a"; 2049];
    let r = post(server.addr, PATH, &json!({ "input": many }));
    assert_eq!(
        (r.status, r.error()["param"].clone()),
        (400, json!("input"))
    );
    // the model's own size is accepted
    let r = post(server.addr, PATH, &json!({"input": "a", "dimensions": 384}));
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["data"][0]["embedding"].as_array().unwrap().len(),
        384
    );
    server.stop().unwrap();
}
