//! The hand-written pre-tokenizers equal the published regexes (fancy-regex) on arbitrary text.
mod tokenizer_common;

use glassbox::tokenizer::Pretokenizer;
use proptest::prelude::*;
use tokenizer_common::{same_unicode_version, text};

fn check(p: Pretokenizer, s: &str) -> Result<(), TestCaseError> {
    let fast = p.split_vec(s);
    prop_assert_eq!(&fast, &p.split_regex(s), "{:?} on {:?}", p, s);
    prop_assert_eq!(fast.concat(), s);
    Ok(())
}

#[test]
fn tricky_cases() {
    let cases = [
        "",
        " ",
        "  ",
        "a  ",
        "\n  ",
        "x\n  ",
        "  \n x",
        "\r\n\r\n",
        "'s",
        "'S",
        "'ſ",
        " 's",
        "don't",
        "DON'T",
        "HELLOworld",
        "camelCase",
        "ABC",
        "x\u{301}",
        "\u{301}",
        " \u{301}",
        "!\u{301}",
        "!!\u{301}",
        "1234567",
        " 1",
        "  42",
        "a/b\n/",
        "?\r\n/",
        "\u{a0}word",
        "\u{3000}\u{3000}x",
        "x \t y",
        "१२३ नमस्ते",
        "ǅemal",
        "ʰx",
    ];
    for p in Pretokenizer::ALL {
        for s in cases {
            check(p, s).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn hand_written_equals_regex(s in text(20)) {
        for p in Pretokenizer::ALL {
            check(p, &s)?;
        }
    }

    #[test]
    fn hand_written_equals_regex_on_any_chars(s in "\\PC{0,30}".prop_map(same_unicode_version)) {
        for p in Pretokenizer::ALL {
            check(p, &s)?;
        }
    }
}
