//! Reading and writing tokenizer files; every malformed input is a clear error, never a panic.
use glassbox::tokenizer::{Pretokenizer, Tokenizer};
use glassbox::Error;
use serde_json::json;
use std::path::{Path, PathBuf};

fn tmp(name: &str, contents: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("glassbox-tok-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p
}

/// A small tokenizer: merges over "hello world" style text.
fn small() -> Tokenizer {
    // (h,e)→256 (l,l)→257 (256,257)→258 "hell" (258,o)→259 "hello" (' ',w)→260
    Tokenizer::from_merges(
        &[(104, 101), (108, 108), (256, 257), (258, 111), (32, 119)],
        Pretokenizer::Gpt2,
        &["<|endoftext|>".to_string()],
    )
}

#[test]
fn json_round_trip_both_merge_forms() {
    let t = small();
    let v = t.to_tokenizer_json();
    let back = Tokenizer::from_tokenizer_json(&v, Path::new("x.json")).unwrap();
    let s = "hello world, hello<|endoftext|>";
    assert_eq!(back.encode_with_special(s), t.encode_with_special(s));
    assert_eq!(t.encode("hello"), vec![259]);
    // the older "a b" merge spelling gives the same tokenizer
    let mut old = v.clone();
    let merges: Vec<serde_json::Value> = v["model"]["merges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            json!(format!(
                "{} {}",
                m[0].as_str().unwrap(),
                m[1].as_str().unwrap()
            ))
        })
        .collect();
    old["model"]["merges"] = json!(merges);
    let back2 = Tokenizer::from_tokenizer_json(&old, Path::new("x.json")).unwrap();
    assert_eq!(back2.encode_with_special(s), t.encode_with_special(s));
    // and through a file and `load`
    let p = tmp("tokenizer.json", v.to_string().as_bytes());
    assert_eq!(Tokenizer::load(&p).unwrap().encode(s), t.encode(s));
    assert_eq!(
        Tokenizer::load(p.parent().unwrap()).unwrap().encode(s),
        t.encode(s)
    );
}

#[test]
fn json_errors_name_the_problem() {
    let v = small().to_tokenizer_json();
    let err = |v: &serde_json::Value| {
        Tokenizer::from_tokenizer_json(v, Path::new("bad.json")).unwrap_err()
    };

    let mut w = v.clone();
    w["model"]["type"] = json!("Unigram");
    assert!(matches!(err(&w), Error::Unsupported(m) if m.contains("Unigram")));

    let mut w = v.clone();
    w["pre_tokenizer"] = json!({"type": "Whitespace"});
    assert!(matches!(err(&w), Error::Unsupported(m) if m.contains("Whitespace")));

    let mut w = v.clone();
    w["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = json!("\\w+");
    assert!(matches!(err(&w), Error::Unsupported(m) if m.contains("\\\\w+")));

    let mut w = v.clone();
    w["model"]["merges"][0] = json!(["h", "nonexistent"]);
    assert!(
        matches!(err(&w), Error::Format { what, .. } if what.contains("merges[0]") && what.contains("nonexistent"))
    );

    let mut w = v.clone();
    w["model"]["merges"][0] = json!(42);
    assert!(matches!(err(&w), Error::Format { what, .. } if what.contains("merges[0]")));

    let mut w = v.clone();
    w["model"]["vocab"] = json!([]);
    assert!(matches!(err(&w), Error::Format { what, .. } if what.contains("vocab")));

    let p = tmp("broken.json", b"{\"model\": ");
    assert!(matches!(
        Tokenizer::load(&p).unwrap_err(),
        Error::Format { .. }
    ));
}

#[test]
fn tiktoken_errors_name_the_line() {
    let p = tmp("cl100k_base.tiktoken", b"IQ== 0\nnot-base64! 1\n");
    let e = Tokenizer::load(&p).unwrap_err();
    assert!(
        matches!(&e, Error::Format { what, .. } if what.contains("line 2")),
        "{e}"
    );

    let p = tmp("o200k_base.tiktoken", b"IQ== zero\n");
    assert!(
        matches!(Tokenizer::load(&p).unwrap_err(), Error::Format { what, .. } if what.contains("line 1"))
    );

    // a table without all 256 bytes cannot be a tiktoken encoding, but it loads and drops
    // nothing it can encode; an unknown file name is refused
    let p = tmp("mystery.tiktoken", b"IQ== 0\n");
    assert!(
        matches!(Tokenizer::load(&p).unwrap_err(), Error::Invalid(m) if m.contains("file name"))
    );
}

#[test]
fn decode_errors() {
    let t = small();
    assert!(matches!(t.decode(&[70000]).unwrap_err(), Error::Invalid(m) if m.contains("70000")));
    // 0xC3 alone is not UTF-8: decode names the offset, decode_bytes gives the bytes
    let e = t.decode(&[104, 0xc3]).unwrap_err();
    assert!(matches!(e, Error::Invalid(m) if m.contains("offset 1")));
    assert_eq!(t.decode_bytes(&[104, 0xc3]).unwrap(), vec![104, 0xc3]);
}

#[test]
fn from_merges_rejects_unknown_ids() {
    let e =
        Tokenizer::try_from_merges(&[(97, 97), (256, 999)], Pretokenizer::Gpt2, &[]).unwrap_err();
    assert!(matches!(e, Error::Invalid(m) if m.contains("999")));
}
