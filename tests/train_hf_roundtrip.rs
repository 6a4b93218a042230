//! A tokenizer we train and save as `tokenizer.json` loads in the Hugging Face `tokenizers`
//! library, encodes every string to the same ids as ours and decodes back to the original text.

use glassbox::tokenizer::train::train_text;
use glassbox::tokenizer::train_naive::TrainConfig;
use glassbox::tokenizer::{Pretokenizer, Tokenizer};
use proptest::prelude::*;

/// Training text: this crate's trainer source (code) plus prose in several scripts.
const CORPUS: &str = concat!(
    include_str!("../src/tokenizer/train.rs"),
    include_str!("../src/tokenizer/train_naive.rs"),
    "The capital of France is Paris. The capital of Italy is Rome; it's 2,873 km² in 1234567 ways!\n",
    "Привет, как дела? Ünïcödé wörds ünd sö ön. 東京は日本の首都です。 नमस्ते दुनिया, यह हिंदी है।\n",
    "  indented   spaces\t\ttabs\r\nwindows lines 😀😀 emoji, and   trailing   \n\n\n",
);

const SPECIALS: [&str; 2] = ["<|endoftext|>", "<|im_start|>"];

fn trained(pattern: Pretokenizer) -> (Tokenizer, tokenizers::Tokenizer) {
    let cfg = TrainConfig {
        vocab_size: 256 + 700 + SPECIALS.len(),
        pattern,
        special_tokens: SPECIALS.iter().map(|s| s.to_string()).collect(),
        show_progress: false,
    };
    let ours = train_text(CORPUS, &cfg).expect("trains");
    let json = serde_json::to_string(&ours.to_tokenizer_json()).expect("serialises");
    // Tests run in parallel and several train the same pattern: each call gets its own file.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!(
        "glassbox-train-hf-{}-{}-{call}.json",
        std::process::id(),
        pattern.name()
    ));
    std::fs::write(&path, &json).expect("writes");
    let hf = tokenizers::Tokenizer::from_file(&path).unwrap_or_else(|e| {
        panic!(
            "tokenizers cannot load our {} tokenizer.json: {e}",
            pattern.name()
        )
    });
    let _ = std::fs::remove_file(&path);
    (ours, hf)
}

fn check(ours: &Tokenizer, hf: &tokenizers::Tokenizer, text: &str) -> Result<(), TestCaseError> {
    let ids = ours.encode_with_special(text);
    let hf_ids = hf
        .encode(text, false)
        .map_err(|e| TestCaseError::fail(e.to_string()))?
        .get_ids()
        .to_vec();
    prop_assert_eq!(&ids, &hf_ids, "text {:?}", text);
    let back = hf
        .decode(&hf_ids, false)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&back, text);
    prop_assert_eq!(
        ours.decode(&ids)
            .map_err(|e| TestCaseError::fail(e.to_string()))?,
        text
    );
    Ok(())
}

fn text_strategy() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "the",
        " capital",
        " of",
        " France",
        "Paris",
        " ",
        "  ",
        "\n",
        "\n\n",
        "\t",
        "\r\n",
        ".",
        ",",
        "'s",
        "'S",
        "'ll",
        "42",
        "1234567",
        "é",
        "中文",
        "नमस्ते",
        "😀",
        "\u{300}",
        "fn",
        "()",
        "{",
        "}",
        "camelCase",
        "ALLCAPS",
        "<|endoftext|>",
        "<|im_start|>",
        "<|",
        "|>",
        "/",
        "//",
    ]);
    let from_pieces = proptest::collection::vec(piece, 0..30).prop_map(|p| p.concat());
    prop_oneof![from_pieces, any::<String>()]
}

macro_rules! roundtrip {
    ($name:ident, $pattern:expr) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]
            #[test]
            fn $name(text in text_strategy()) {
                use std::sync::OnceLock;
                static PAIR: OnceLock<(Tokenizer, tokenizers::Tokenizer)> = OnceLock::new();
                let (ours, hf) = PAIR.get_or_init(|| trained($pattern));
                check(ours, hf, &text)?;
            }
        }
    };
}

roundtrip!(gpt2_roundtrip, Pretokenizer::Gpt2);
roundtrip!(cl100k_roundtrip, Pretokenizer::Cl100k);
roundtrip!(o200k_roundtrip, Pretokenizer::O200k);
roundtrip!(llama3_roundtrip, Pretokenizer::Llama3);
roundtrip!(smollm_roundtrip, Pretokenizer::SmolLm);

#[test]
fn corpus_itself_roundtrips() {
    for pattern in Pretokenizer::ALL {
        let (ours, hf) = trained(pattern);
        assert_eq!(
            hf.get_vocab_size(true),
            ours.vocab_size(),
            "{}",
            pattern.name()
        );
        check(&ours, &hf, CORPUS).unwrap_or_else(|e| panic!("{}: {e}", pattern.name()));
    }
}
