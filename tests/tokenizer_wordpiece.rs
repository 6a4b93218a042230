//! WordPiece (BERT's tokenizer) by hand, against Hugging Face `tokenizers` on the committed
//! fixture (`scripts/fixtures_minilm.py`: the Python library, pinned), and against the Rust
//! `tokenizers` crate on random text (proptest) with all-MiniLM-L6-v2's tokenizer.json.
mod encoder_common;
mod tokenizer_common;

use std::path::Path;
use std::sync::OnceLock;

use encoder_common::{ids, minilm_dir, read_json};
use glassbox::tokenizer::bert_normalizer::{pre_tokenize, BertNormalizer};
use glassbox::tokenizer::WordPiece;
use proptest::prelude::*;

/// A 14-token vocabulary that shows every rule.
fn tiny() -> WordPiece {
    let vocab = [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "a", "##b", "hello", ",", "!",
        "世", "cafe",
    ];
    let json = serde_json::json!({
        "added_tokens": [
            {"id": 0, "content": "[PAD]", "special": true},
            {"id": 1, "content": "[UNK]", "special": true},
            {"id": 2, "content": "[CLS]", "special": true},
            {"id": 3, "content": "[SEP]", "special": true},
        ],
        "normalizer": {"type": "BertNormalizer", "clean_text": true,
                       "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 9,
                  "vocab": vocab.iter().enumerate().map(|(i, t)| (t.to_string(), i.into()))
                                .collect::<serde_json::Map<String, serde_json::Value>>()},
    });
    WordPiece::from_json(&json, Path::new("tiny.json")).expect("tiny vocabulary")
}

#[test]
fn worked_examples() {
    let t = tiny();
    // greedy: "unaffable" = un + ##aff + ##able; "ab" = a + ##b; "abc": no "##c" → the whole word is UNK
    assert_eq!(t.tokenize("unaffable"), [4, 5, 6]);
    assert_eq!(t.tokenize("Ab abc"), [7, 8, 1]);
    // normaliser: accents stripped, lowercased, CJK split off, punctuation alone
    assert_eq!(t.tokenize("Café, HELLO世!"), [13, 10, 9, 12, 11]);
    // longer than max_input_chars_per_word (9): UNK without trying
    assert_eq!(t.tokenize("hellohello"), [1]);
    // special-token text: matched (as Hugging Face does), or ordinary text
    assert_eq!(t.tokenize("a[SEP]a"), [7, 3, 7]);
    assert_eq!(t.tokenize_ordinary("a[SEP]a"), [7, 1, 1, 1, 7]);
    // the template and truncation
    assert_eq!(t.encode("", 8), [2, 3]);
    assert_eq!(t.encode("a a a a", 4), [2, 7, 7, 3]);
}

#[test]
fn pre_tokenize_splits_punctuation_runs() {
    let mut words = Vec::new();
    pre_tokenize("  hi,you!? $5 ", |w| words.push(w.to_string()));
    assert_eq!(words, ["hi", ",", "you", "!", "?", "$", "5"]);
}

#[test]
fn normalizer_steps() {
    let n = BertNormalizer {
        clean_text: true,
        handle_chinese_chars: true,
        strip_accents: true,
        lowercase: true,
    };
    assert_eq!(n.normalize("Ünïcödé\tX\u{0}\u{200b}"), "unicode x");
    assert_eq!(n.normalize("日本"), " 日  本 ");
    assert_eq!(n.normalize("İstanbul"), "istanbul"); // NFD: I + U+0307, the mark dropped
    assert_eq!(n.normalize("ΟΔΟΣ"), "οδοσ"); // one character at a time: no final sigma
}

#[test]
fn bad_files_are_named() {
    let mut json = serde_json::json!({"model": {"type": "BPE"}});
    let e = WordPiece::from_json(&json, Path::new("x/tokenizer.json")).unwrap_err();
    assert!(
        e.to_string().contains("x/tokenizer.json") && e.to_string().contains("WordPiece"),
        "{e}"
    );
    json["model"] = serde_json::json!({"type": "WordPiece", "vocab": {"a": 5}});
    let e = WordPiece::from_json(&json, Path::new("y.json")).unwrap_err();
    assert!(
        e.to_string().contains("y.json") && e.to_string().contains("model.vocab"),
        "{e}"
    );
}

fn minilm_tokenizer() -> &'static WordPiece {
    static T: OnceLock<WordPiece> = OnceLock::new();
    T.get_or_init(|| {
        WordPiece::from_file(&minilm_dir().join("tokenizer.json")).expect("MiniLM tokenizer.json")
    })
}

/// Every fixture string, both ways, equal to the Python `tokenizers` ids.
#[test]
fn minilm_ids_equal_hugging_face() {
    let t = minilm_tokenizer();
    let fx = read_json("tokens.json");
    let cases = fx["cases"].as_array().expect("cases");
    assert!(cases.len() >= 30);
    for c in cases {
        let text = c["text"].as_str().expect("text");
        assert_eq!(t.encode(text, usize::MAX), ids(&c["ids"]), "{text:?}");
        let mut ordinary = vec![t.cls_id()];
        ordinary.extend(t.tokenize_ordinary(text));
        ordinary.push(t.sep_id());
        assert_eq!(ordinary, ids(&c["ids_ordinary"]), "ordinary: {text:?}");
    }
}

fn reference() -> &'static tokenizers::Tokenizer {
    static T: OnceLock<tokenizers::Tokenizer> = OnceLock::new();
    T.get_or_init(|| {
        let mut t = tokenizers::Tokenizer::from_file(minilm_dir().join("tokenizer.json"))
            .expect("tokenizers loads MiniLM's tokenizer.json");
        t.with_truncation(None).expect("no truncation");
        t.with_padding(None);
        t
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Random text (whitespace runs, CJK, emoji, combining marks, every Unicode category, and
    /// special-token text): the same ids as the Rust `tokenizers` crate.
    #[test]
    fn minilm_ids_equal_tokenizers_crate(
        s in tokenizer_common::text(8),
        special in prop::sample::select(vec!["", "[SEP]", "[MASK]", "[cls]", "[ UNK ]"]),
        at in 0usize..8,
    ) {
        let mut s = s;
        let cut = s.char_indices().nth(at).map_or(s.len(), |(i, _)| i);
        s.insert_str(cut, special);
        let want = reference().encode(s.as_str(), true).expect("HF encode").get_ids().to_vec();
        prop_assert_eq!(minilm_tokenizer().encode(&s, usize::MAX), want, "{:?}", s);
    }
}
