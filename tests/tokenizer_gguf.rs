//! The tokenizer inside a GGUF file: a tiny hand-written GGUF, and the errors for bad ones.
use glassbox::formats::gguf::GgufFile;
use glassbox::tokenizer::{Pretokenizer, Tokenizer};
use glassbox::Error;

enum V<'a> {
    Str(&'a str),
    U32(u32),
    Strs(Vec<&'a str>),
    I32s(Vec<i32>),
}

/// A GGUF v3 file with metadata only (no tensors).
fn gguf(kvs: &[(&str, V)]) -> Vec<u8> {
    let mut b = Vec::new();
    let s = |b: &mut Vec<u8>, x: &str| {
        b.extend((x.len() as u64).to_le_bytes());
        b.extend(x.as_bytes());
    };
    b.extend(b"GGUF");
    b.extend(3u32.to_le_bytes());
    b.extend(0u64.to_le_bytes());
    b.extend((kvs.len() as u64).to_le_bytes());
    for (k, v) in kvs {
        s(&mut b, k);
        match v {
            V::Str(x) => {
                b.extend(8u32.to_le_bytes());
                s(&mut b, x);
            }
            V::U32(x) => {
                b.extend(4u32.to_le_bytes());
                b.extend(x.to_le_bytes());
            }
            V::Strs(xs) => {
                b.extend(9u32.to_le_bytes());
                b.extend(8u32.to_le_bytes());
                b.extend((xs.len() as u64).to_le_bytes());
                for x in xs {
                    s(&mut b, x);
                }
            }
            V::I32s(xs) => {
                b.extend(9u32.to_le_bytes());
                b.extend(5u32.to_le_bytes());
                b.extend((xs.len() as u64).to_le_bytes());
                for x in xs {
                    b.extend(x.to_le_bytes());
                }
            }
        }
    }
    while b.len() % 32 != 0 {
        b.push(0);
    }
    b
}

/// The 256 byte tokens in the GPT-2 alphabet, then "Ġt", "he", "Ġthe", then one control token.
fn vocab() -> Vec<String> {
    let table = glassbox::tokenizer::bytes::byte_to_char_table();
    let mut v: Vec<String> = table.iter().map(|c| c.to_string()).collect();
    v.extend(["Ġt", "he", "Ġthe", "<|end|>"].map(String::from));
    v
}

fn open(kvs: &[(&str, V)], name: &str) -> glassbox::Result<Tokenizer> {
    let dir = std::env::temp_dir().join(format!("glassbox-gguf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, gguf(kvs)).unwrap();
    Tokenizer::from_gguf(&GgufFile::open(&p)?)
}

#[test]
fn tiny_gguf_tokenizer() {
    let v = vocab();
    let mut types = vec![1; v.len()];
    *types.last_mut().unwrap() = 3; // control
    let t = open(
        &[
            ("tokenizer.ggml.model", V::Str("gpt2")),
            ("tokenizer.ggml.pre", V::Str("smollm")),
            (
                "tokenizer.ggml.tokens",
                V::Strs(v.iter().map(|s| s.as_str()).collect()),
            ),
            (
                "tokenizer.ggml.merges",
                V::Strs(vec!["Ġ t", "h e", "Ġt he"]),
            ),
            ("tokenizer.ggml.token_type", V::I32s(types)),
            ("tokenizer.ggml.bos_token_id", V::U32(259)),
            ("tokenizer.ggml.eos_token_id", V::U32(259)),
        ],
        "ok.gguf",
    )
    .unwrap();
    assert_eq!(t.pretokenizer(), Pretokenizer::SmolLm);
    assert_eq!(t.encode(" the"), vec![258]);
    assert_eq!(t.encode_with_special("<|end|> the"), vec![259, 258]);
    assert_eq!((t.bos_id(), t.eos_ids()), (Some(259), &[259][..]));
}

#[test]
fn bad_gguf_tokenizers_are_clear_errors() {
    let v = vocab();
    let tokens = || V::Strs(v.iter().map(|s| s.as_str()).collect());
    // "llama" (SentencePiece) and "gpt2" are read; llama.cpp's other tokenizer kinds are not
    let e = open(
        &[
            ("tokenizer.ggml.model", V::Str("rwkv")),
            ("tokenizer.ggml.tokens", tokens()),
        ],
        "a.gguf",
    )
    .unwrap_err();
    assert!(matches!(e, Error::Unsupported(m) if m.contains("rwkv")));

    let e = open(
        &[
            ("tokenizer.ggml.model", V::Str("gpt2")),
            ("tokenizer.ggml.pre", V::Str("qwen2")),
            ("tokenizer.ggml.tokens", tokens()),
        ],
        "b.gguf",
    )
    .unwrap_err();
    assert!(matches!(e, Error::Unsupported(m) if m.contains("qwen2")));

    let e = open(
        &[
            ("tokenizer.ggml.model", V::Str("gpt2")),
            ("tokenizer.ggml.tokens", tokens()),
            ("tokenizer.ggml.merges", V::Strs(vec!["Ġ zzz"])),
        ],
        "c.gguf",
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::Format { what, .. } if what.contains("merges[0]") && what.contains("zzz"))
    );

    let e = open(&[("tokenizer.ggml.model", V::Str("gpt2"))], "d.gguf").unwrap_err();
    assert!(matches!(e, Error::Format { what, .. } if what.contains("tokenizer.ggml.tokens")));
}
