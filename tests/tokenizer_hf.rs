//! Our tokenizer against Hugging Face `tokenizers` (Oniguruma regexes): the SmolLM2 tokenizer
//! from the GGUF, written out with `to_tokenizer_json` (its original pre-tokenizer:
//! Sequence[Digits(individual_digits), ByteLevel]), and the same vocabulary under every other
//! pre-tokenizer we write into a tokenizer.json.
mod tokenizer_common;

use glassbox::tokenizer::{hf_json::pre_tokenizer_json, Pretokenizer, Tokenizer};
use proptest::prelude::*;
use std::path::Path;
use std::str::FromStr;
use std::sync::OnceLock;
use tokenizer_common::text;

fn smollm() -> &'static Tokenizer {
    static T: OnceLock<Tokenizer> = OnceLock::new();
    T.get_or_init(|| {
        let path = glassbox::data::default_model().expect("default model (GLASSBOX_DATA)");
        Tokenizer::load(&path).expect("tokenizer from the GGUF")
    })
}

/// (ours, HF) for the SmolLM2 vocabulary with pre-tokenizer `p`, both read from one JSON.
fn pair(p: Pretokenizer) -> &'static (Tokenizer, tokenizers::Tokenizer) {
    static CELLS: [OnceLock<(Tokenizer, tokenizers::Tokenizer)>; 5] =
        [const { OnceLock::new() }; 5];
    let i = Pretokenizer::ALL.iter().position(|&x| x == p).unwrap();
    CELLS[i].get_or_init(|| {
        let mut json = smollm().to_tokenizer_json();
        json["pre_tokenizer"] = pre_tokenizer_json(p);
        let ours =
            Tokenizer::from_tokenizer_json(&json, Path::new("test.json")).expect("our reader");
        assert_eq!(ours.pretokenizer(), p);
        let hf =
            tokenizers::Tokenizer::from_str(&json.to_string()).expect("tokenizers loads our JSON");
        (ours, hf)
    })
}

fn hf_ids(hf: &tokenizers::Tokenizer, s: &str) -> Vec<u32> {
    // HF always matches added tokens in the text, so compare with `encode_with_special`
    hf.encode(s, false).expect("HF encode").get_ids().to_vec()
}

#[test]
fn smollm_digits_split_one_by_one() {
    let t = smollm();
    assert_eq!(t.pretokenizer(), Pretokenizer::SmolLm);
    let (_, hf) = pair(Pretokenizer::SmolLm);
    for s in [
        "  42",
        "In 2024, 1234567 people.",
        "x=3.14159",
        "<|im_start|>user\nHi<|im_end|>",
    ] {
        assert_eq!(t.encode_with_special(s), hf_ids(hf, s), "{s:?}");
    }
    // every digit is its own token
    let ids = t.encode("2024");
    assert_eq!(ids.len(), 4);
    assert!(t.bos_id().is_some() && !t.eos_ids().is_empty());
    assert_eq!(t.token_id("<|im_start|>"), Some(1));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn smollm_equals_tokenizers(s in text(24)) {
        let t = smollm();
        let (_, hf) = pair(Pretokenizer::SmolLm);
        let ids = t.encode_with_special(&s);
        prop_assert_eq!(&ids, &hf_ids(hf, &s));
        // SmolLM2 has no token for 21 bytes (0x04, 0xff, ...): text with those cannot round-trip
        if t.covers(&s) {
            prop_assert_eq!(&t.decode(&ids).unwrap(), &s);
            prop_assert_eq!(hf.decode(&ids, false).unwrap(), s);
        }
    }

    #[test]
    fn every_pattern_round_trips_through_tokenizers(s in text(16)) {
        for p in Pretokenizer::ALL {
            let (ours, hf) = pair(p);
            let ids = ours.encode_with_special(&s);
            prop_assert_eq!(&ids, &hf_ids(hf, &s), "{:?}", p);
            if ours.covers(&s) {
                prop_assert_eq!(&ours.decode(&ids).unwrap(), &s);
            }
        }
    }
}
