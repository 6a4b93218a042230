//! Our encoder against tiktoken-rs on cl100k_base and o200k_base: same ids for arbitrary text.
mod tokenizer_common;

use proptest::prelude::*;
use tokenizer_common::{ours, reference, text};

#[test]
fn o200k_golden_from_tiktoken() {
    // tiktoken (Python and tiktoken-rs) print these ids for this sentence with o200k_base
    let t = ours("o200k_base");
    let ids = t.encode("Building LLM applications is fun!");
    assert_eq!(ids, vec![36990, 451, 19641, 9391, 382, 2827, 0]);
    assert_eq!(t.decode(&ids).unwrap(), "Building LLM applications is fun!");
}

#[test]
fn special_tokens_only_when_allowed() {
    for (name, eot) in [("o200k_base", 199999), ("cl100k_base", 100257)] {
        let t = ours(name);
        assert_eq!(t.encode_with_special("<|endoftext|>"), vec![eot]);
        let plain = t.encode("<|endoftext|>");
        assert_eq!(&plain[..2], &[27, 91], "{name}: `<` then `|`");
        assert_eq!(plain, reference(name).encode_ordinary("<|endoftext|>"));
        assert_eq!(t.token_id("<|endoftext|>"), Some(eot));
        assert_eq!(t.eos_ids(), &[eot]);
        let mixed = "a<|endoftext|>b<|endofprompt|>";
        let want: Vec<u32> = reference(name).encode_with_special_tokens(mixed);
        assert_eq!(t.encode_with_special(mixed), want, "{name}");
    }
}

#[test]
fn long_pieces_use_the_heap_and_agree() {
    // one pre-token far above the heap threshold: a run of CJK letters, a long word, spaces
    let cjk: String = "大规模语言模型的应用很有趣".repeat(40);
    let word = "abcdefghij".repeat(50);
    let spaces = format!("x{}y", " ".repeat(300));
    for name in ["o200k_base", "cl100k_base"] {
        for s in [&cjk, &word, &spaces] {
            assert_eq!(
                ours(name).encode(s),
                reference(name).encode_ordinary(s),
                "{name}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn cl100k_equals_tiktoken(s in text(24)) {
        let t = ours("cl100k_base");
        let ids = t.encode(&s);
        prop_assert_eq!(&ids, &reference("cl100k_base").encode_ordinary(&s));
        prop_assert_eq!(t.decode(&ids).unwrap(), s);
    }

    #[test]
    fn o200k_equals_tiktoken(s in text(24)) {
        let t = ours("o200k_base");
        let ids = t.encode(&s);
        prop_assert_eq!(&ids, &reference("o200k_base").encode_ordinary(&s));
        prop_assert_eq!(t.decode(&ids).unwrap(), s);
    }
}
