//! Issue 17, findings 3, 4 and 8 (the tokenizer's part): hostile tokenizer files and options.
//!
//! 3. tokenizer.json ids are bounded by the vocabulary the file implies: no wrap-around, no
//!    allocation sized by an id, no id silently truncated to 32 bits, no id given twice.
//! 4. Training refuses an empty special token and a vocabulary past the limit, by error.
//! 8. A `.tiktoken` gzip bomb is refused at a bounded decompressed size; a rank far past the
//!    file's length is refused; GGUF metadata arrays are bounded in element count.

mod hostile_common;

use std::io::Write;
use std::path::Path;

use glassbox::formats::gguf::{GgufFile, GgufValue};
use glassbox::tokenizer::train::train_text;
use glassbox::tokenizer::train_naive::TrainConfig;
use glassbox::tokenizer::{Pretokenizer, Tokenizer};
use hostile_common::{err_text, fixture, tiny_file};
use serde_json::{json, Value};

fn tiny_tokenizer_json() -> Value {
    let text = std::fs::read_to_string(fixture("hf/tokenizer.json")).expect("tokenizer.json");
    serde_json::from_str(&text).expect("json")
}

fn load(v: &Value) -> glassbox::Result<Tokenizer> {
    Tokenizer::from_tokenizer_json(v, Path::new("hostile/tokenizer.json"))
}

#[test]
fn tokenizer_json_vocab_ids_are_bounded() {
    // ids that wrapped (u64::MAX + 1), overflowed a capacity (2^63 − 1), or asked for ~100 GB
    for id in [u64::MAX, (1u64 << 63) - 1, 100_000_000, 1u64 << 32] {
        let mut v = tiny_tokenizer_json();
        v["model"]["vocab"]["zzzz"] = json!(id);
        let e = err_text(load(&v));
        assert!(
            e.contains("hostile/tokenizer.json")
                && e.contains("\"zzzz\"")
                && e.contains(&id.to_string()),
            "id {id}: {e}"
        );
    }
}

#[test]
fn tokenizer_json_added_token_ids_are_bounded_and_not_truncated() {
    for id in [(1u64 << 31) - 1, (1u64 << 32) + 3] {
        let mut v = tiny_tokenizer_json();
        v["added_tokens"]
            .as_array_mut()
            .expect("added_tokens")
            .push(json!({"id": id, "content": "<|hostile|>", "special": true}));
        let e = err_text(load(&v));
        assert!(
            e.contains("added_tokens") && e.contains(&id.to_string()),
            "id {id}: {e}"
        );
    }
    // an added token that takes the id of a different vocabulary token (id 3 once was what
    // 2^32 + 3 became) is refused instead of replacing it
    let mut v = tiny_tokenizer_json();
    let (text3, _) = v["model"]["vocab"]
        .as_object()
        .expect("vocab")
        .iter()
        .find(|(_, id)| id.as_u64() == Some(3))
        .map(|(t, id)| (t.clone(), id.clone()))
        .expect("id 3");
    v["added_tokens"]
        .as_array_mut()
        .expect("added_tokens")
        .push(json!({"id": 3, "content": "<|hostile|>", "special": true}));
    let e = err_text(load(&v));
    assert!(e.contains("<|hostile|>") && e.contains("id 3"), "{e}");
    // two vocabulary entries with one id
    let mut v = tiny_tokenizer_json();
    v["model"]["vocab"]["zzzz"] = json!(3);
    let e = err_text(load(&v));
    assert!(
        e.contains("zzzz") && e.contains(&format!("{text3:?}")),
        "{e}"
    );
}

#[test]
fn real_and_sparse_tokenizer_files_still_load() {
    // the fixture, and SmolLM2's layout: added tokens also in the vocab with the same id
    let v = tiny_tokenizer_json();
    let t = load(&v).expect("the tiny tokenizer.json");
    assert_eq!(t.vocab_size(), 320);
    // tiktoken-derived files leave holes before their specials (cl100k: 100256 and
    // 100261..=100275): a few missing ids are fine
    let mut v = tiny_tokenizer_json();
    v["added_tokens"]
        .as_array_mut()
        .expect("added_tokens")
        .push(json!({"id": 330, "content": "<|late|>", "special": true}));
    let t = load(&v).expect("a vocabulary with a hole of 10 ids");
    assert_eq!(t.vocab_size(), 331);
    assert_eq!(t.encode_with_special("<|late|>"), vec![330]);
}

#[test]
fn training_refuses_empty_specials_and_huge_vocabularies() {
    let cfg = |vocab_size: usize, specials: &[&str]| TrainConfig {
        vocab_size,
        pattern: Pretokenizer::Gpt2,
        special_tokens: specials.iter().map(|s| s.to_string()).collect(),
        show_progress: false,
    };
    let text = "the cat sat on the mat, the end";
    let e = err_text(train_text(text, &cfg(300, &[""])));
    assert!(e.contains("special") && e.contains("empty"), "{e}");
    let e = err_text(train_text(text, &cfg(300, &["<|a|>", "<|a|>"])));
    assert!(e.contains("<|a|>") && e.contains("twice"), "{e}");
    for huge in [usize::MAX, 1_000_000_000_000] {
        let e = err_text(train_text(text, &cfg(huge, &[])));
        assert!(e.contains("vocab size") && e.contains("1048576"), "{e}");
    }
    // at the limit it trains (the corpus runs out of pairs long before)
    train_text(text, &cfg(1 << 20, &["<|end|>"])).expect("vocab size at the limit");
}

#[test]
fn tiktoken_gzip_bomb_is_refused_at_a_bounded_size() {
    // 80 MiB of one valid line repeated: 0.1 MB gzipped, past the 64 MiB limit unzipped
    let line = b"IQ== 0\n";
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let block = line.repeat(1 << 16);
    for _ in 0..(80 << 20) / block.len() {
        gz.write_all(&block).expect("gzip");
    }
    let bomb = gz.finish().expect("gzip");
    assert!(bomb.len() < 1 << 20);
    let e = err_text(Tokenizer::from_tiktoken_bytes(
        Path::new("cl100k_base.tiktoken"),
        &bomb,
    ));
    assert!(
        e.contains("cl100k_base.tiktoken") && e.contains("64 MiB"),
        "{e}"
    );
}

#[test]
fn tiktoken_ranks_are_bounded_by_the_file() {
    // one line whose rank asks for ten million slots
    let e = err_text(Tokenizer::from_tiktoken_bytes(
        Path::new("r50k_base.tiktoken"),
        b"IQ== 9999999\n",
    ));
    assert!(e.contains("9999999") && e.contains("line 1"), "{e}");
    // two ranks and r50k_base's <|endoftext|> at 50256: refused (found by the tiktoken fuzz
    // target: it loaded, and wrote a tokenizer.json that could not be read back)
    let e = err_text(Tokenizer::from_tiktoken_bytes(
        Path::new("r50k_base.tiktoken"),
        b"IQ== 0\nIg== 1\n",
    ));
    assert!(e.contains("<|endoftext|>") && e.contains("50256"), "{e}");
    // a file dense enough for its specials loads: 256 bytes, then byte pairs
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let mut text = String::new();
    let mut rank = 0;
    for a in 0..=255u8 {
        text += &format!("{} {rank}\n", b64(&[a]));
        rank += 1;
    }
    'pairs: for a in 0..=255u8 {
        for b in 0..=255u8 {
            if rank == 30_000 {
                break 'pairs;
            }
            text += &format!("{} {rank}\n", b64(&[a, b]));
            rank += 1;
        }
    }
    let t = Tokenizer::from_tiktoken_bytes(Path::new("r50k_base.tiktoken"), text.as_bytes())
        .expect("30000 ranks");
    assert_eq!(t.token_id("<|endoftext|>"), Some(50256));
    let ids = t.encode("hello");
    assert_eq!(t.decode_bytes(&ids).expect("decode"), b"hello");
}

#[test]
fn gguf_metadata_arrays_are_bounded_in_elements() {
    // 2^23 + 1 u8 elements: an 8 MB file that cost 32 bytes per element (268 MB) to hold
    let mut f = tiny_file();
    let n = (1usize << 23) + 1;
    f.set("hostile.bytes", GgufValue::Array(vec![GgufValue::U8(7); n]));
    let bytes = f.to_bytes();
    let e = err_text(GgufFile::from_bytes(Path::new("bytes.gguf"), &bytes));
    assert!(e.contains("hostile.bytes") && e.contains("8388608"), "{e}");
    // the tiny model's own arrays are far below the limit
    GgufFile::from_bytes(Path::new("tiny.gguf"), &tiny_file().to_bytes()).expect("tiny");
}

/// The tiny model's GGUF with the text of special token 1 (`<|im_start|>`, a control token)
/// replaced by `text`, and the tokenizer glassbox loads from it.
fn tiny_with_special(text: &str) -> Tokenizer {
    let mut f = tiny_file();
    let tokens = f
        .metadata
        .iter_mut()
        .find(|(k, _)| k == "tokenizer.ggml.tokens")
        .map(|(_, v)| v)
        .expect("tokenizer.ggml.tokens");
    let GgufValue::Array(tokens) = tokens else {
        panic!("tokenizer.ggml.tokens is not an array")
    };
    assert_eq!(tokens[1], GgufValue::String("<|im_start|>".into()));
    tokens[1] = GgufValue::String(text.into());
    let g = GgufFile::from_bytes(Path::new("special.gguf"), &f.to_bytes()).expect("GGUF");
    Tokenizer::from_gguf(&g).expect("the tokenizer loads")
}

#[test]
fn special_tokens_with_mapped_bytes_round_trip_through_tokenizer_json() {
    // Fuzz finding (`gguf` target, 2026-12-02): a special token whose text holds bytes the
    // GPT-2 byte alphabet maps to other characters (NUL → `Ā`, space → `Ġ`, every byte of a
    // non-ASCII character) loaded from a GGUF, but the tokenizer.json written from it put the
    // text byte-level-encoded in `model.vocab` (`<|im_sEĀĀĀ|>`) and as is in `added_tokens`
    // (`<|im_sE\0\0\0|>`), and reading it back failed: "added token … has id 1, which
    // model.vocab gives to …". Hugging Face's trainer writes a special token into model.vocab
    // under its text as is, and its reader gives an added token the id model.vocab has for its
    // `content` (the byte-level form made it a new token, id 320).
    //
    // The last case, a special spelled like an ordinary token's byte-level form (`Ā` is the
    // NUL byte's token), cannot be told apart in model.vocab: the special stays in
    // added_tokens only, our reader keeps its id, Hugging Face's gives it the NUL token's id.
    for (special, hf_agrees) in [
        ("<|im_sE\0\0\0|>", true),         // the fuzzer's input
        ("<|im start|>", true),            // a space
        ("<｜begin▁of▁sentence｜>", true), // DeepSeek's BOS: non-ASCII characters
        ("Ā", false),
    ] {
        let tok = tiny_with_special(special);
        let text = format!("hi{special}there <|im_end|>");
        let ids = tok.encode_with_special(&text);
        assert!(ids.contains(&1), "{special:?} encodes as id 1: {ids:?}");

        let json = tok.to_tokenizer_json();
        let back = Tokenizer::from_tokenizer_json(&json, Path::new("written/tokenizer.json"))
            .unwrap_or_else(|e| panic!("{special:?}: the written tokenizer.json reads back: {e}"));
        assert_eq!(back.encode_with_special(&text), ids, "{special:?}");
        assert_eq!(back.token_bytes(1), Some(special.as_bytes()), "{special:?}");
        assert_eq!(
            back.decode_bytes(&ids).expect("decode"),
            text.as_bytes(),
            "{special:?}"
        );

        // Hugging Face's `tokenizers` reads the same file to the same ids
        #[cfg(feature = "oracles")]
        if hf_agrees {
            use std::str::FromStr;
            let hf = tokenizers::Tokenizer::from_str(&json.to_string()).expect("HF loads it");
            assert_eq!(hf.token_to_id(special), Some(1), "{special:?}");
            let hf_ids = hf.encode(text.as_str(), false).expect("HF encode");
            assert_eq!(hf_ids.get_ids(), &ids[..], "{special:?}");
        }
        #[cfg(not(feature = "oracles"))]
        let _ = hf_agrees;
    }
}
