//! The SentencePiece BPE of the community gemma-3-270m Q4_K_M file against llama.cpp's own
//! tokenizer, id for id.
//!
//! `tests/fixtures/gemma/tokenizer.json` was written by `scripts/fixtures_gemma_tokenizer.py`
//! (llama-cpp-python 0.3.36, pinned there): 327 strings (spaces and newlines, code, digits,
//! CJK, emoji, bytes no token covers, HTML, chat markup, and 300 seeded random mixes) with
//! llama.cpp's ids for ordinary text, with special-token text recognised, and as a prompt
//! (the file's add-BOS policy). The file comes from `data::gemma` (fetched by
//! `glassbox pull --all`, or on first use).

use glassbox::tokenizer::Tokenizer;

struct Case {
    text: String,
    ordinary: Vec<u32>,
    special: Vec<u32>,
    prompt: Vec<u32>,
}

fn cases() -> Vec<Case> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gemma/tokenizer.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("tokenizer.json")).unwrap();
    let ids = |v: &serde_json::Value| -> Vec<u32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect()
    };
    v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Case {
            text: c["text"].as_str().unwrap().to_string(),
            ordinary: ids(&c["ordinary"]),
            special: ids(&c["special"]),
            prompt: ids(&c["prompt"]),
        })
        .collect()
}

fn gemma_tokenizer() -> Tokenizer {
    let path = glassbox::data::gemma::gemma3_270m_q4_k_m()
        .expect("gemma-3-270m-q4_k_m.gguf (glassbox pull --all)");
    Tokenizer::load(&path).expect("the Gemma tokenizer")
}

#[test]
fn ids_equal_llama_cpp_on_every_string() {
    let t = gemma_tokenizer();
    assert_eq!(t.algorithm(), "SentencePiece BPE");
    let cases = cases();
    assert!(cases.len() > 300);
    for c in &cases {
        assert_eq!(t.encode(&c.text), c.ordinary, "ordinary text {:?}", c.text);
        assert_eq!(
            t.encode_with_special(&c.text),
            c.special,
            "with special tokens {:?}",
            c.text
        );
    }
}

/// The file says `add_bos_token = true`: a prompt starts with `<bos>` (id 2), as llama.cpp's
/// `add_bos=True`, except that a prompt already starting with `<bos>` does not get a second
/// one (llama.cpp adds it and warns "the final prompt starts with 2 BOS tokens").
#[test]
fn prompts_start_with_bos_as_the_file_says() {
    let t = gemma_tokenizer();
    assert!(t.add_bos());
    assert_eq!(t.bos_id(), Some(2));
    for c in cases() {
        let ours = t.encode_prompt(&c.text);
        if c.special.first() == Some(&2) {
            assert_eq!(&c.prompt[..2], &[2, 2], "{:?}", c.text);
            assert_eq!(ours, c.prompt[1..], "{:?}: one <bos>, not two", c.text);
        } else {
            assert_eq!(ours, c.prompt, "prompt {:?}", c.text);
        }
    }
}

/// Decoding gives back the text: byte fallback tokens reassemble the characters the
/// vocabulary lacks, `▁` is a space again (so a `▁` typed in the text, which encodes exactly
/// like a space, as in llama.cpp, decodes as a space: the one way decoding cannot invert).
#[test]
fn decode_inverts_encode() {
    let t = gemma_tokenizer();
    for c in cases() {
        let text = c.text.replace('▁', " ");
        assert_eq!(t.decode(&c.ordinary).unwrap(), text, "{:?}", c.text);
        assert_eq!(t.decode(&c.special).unwrap(), text, "{:?}", c.text);
    }
    // a lookup by text accepts both spellings of a space
    assert_eq!(t.token_id(" Paris"), t.token_id("▁Paris"));
    assert!(t.token_id(" Paris").is_some());
    assert_eq!(t.token_id("<end_of_turn>"), Some(106));
}

/// SmolLM2's byte-level BPE keeps its policy: the file says no BOS, and none is added.
#[test]
fn smollm2_adds_no_bos() {
    let path = glassbox::data::default_model().expect("the default model");
    let t = Tokenizer::load(&path).unwrap();
    assert_eq!(t.algorithm(), "byte-level BPE");
    assert!(!t.add_bos());
    assert_eq!(
        t.encode_prompt("The capital of France is"),
        t.encode_with_special("The capital of France is")
    );
}

/// A Gemma file without a chat template gets Gemma's turn format. Reference: llama.cpp's
/// built-in `gemma` template (`llama_chat_apply_template(b"gemma", ...)`, llama-cpp-python
/// 0.3.36), which leaves BOS to the tokenizer; ours writes `<bos>` itself, and encoding does not
/// add a second one.
#[test]
fn gemma_chat_format_equals_llama_cpp() {
    use glassbox::chat::{ChatTemplate, Message};
    let t = gemma_tokenizer();
    let template = ChatTemplate::for_model(None, &t).unwrap();
    let messages = [
        Message::system("You are terse."),
        Message::user("What is the capital of France?"),
        Message::assistant("Paris."),
        Message::user("And of Italy?"),
    ];
    let llama_cpp = "<start_of_turn>user\nYou are terse.\n\nWhat is the capital of France?<end_of_turn>\n<start_of_turn>model\nParis.<end_of_turn>\n<start_of_turn>user\nAnd of Italy?<end_of_turn>\n<start_of_turn>model\n";
    assert_eq!(
        template.render(&messages, true).unwrap(),
        format!("<bos>{llama_cpp}")
    );
    let ids = template.encode(&t, &messages, true).unwrap();
    assert_eq!(&ids[..2], &[2, 105], "one <bos>, then <start_of_turn>");
    assert_eq!(ids.iter().filter(|&&i| i == 2).count(), 1);
}
