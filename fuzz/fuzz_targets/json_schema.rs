//! The JSON-schema compiler and the recognizer behind constrained decoding (`src/constrain/`).
//! The first byte says whether the schema is the input's text as is (seeds: the schemas of the
//! tests and lessons) or a field-aware document built from the schema keywords (`$ref` cycles,
//! `maxLength` of 2⁶⁴−1, `enum` of 4000 values, 200 nested `items`). A compiled schema is then
//! used, and what it promises is checked against independent code:
//!
//! ```text
//! schema ──compile──▶ Grammar ──▶ Recognizer fed the rest of the input, byte by byte
//!                                   accepting at the end ⇒ serde_json parses it and the
//!                                   `jsonschema` crate validates it against the schema
//!                     ──▶ a walk of ≤ 48 tokens over a small vocabulary: at every step the
//!                         trie mask equals the naive mask (every token tried one by one)
//! ```
#![no_main]

use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use glassbox::constrain::{compile, mask_naive, Masker, Recognizer, TokenSet, Vocab};
use glassbox_fuzz::fields::Json;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Keywords and values of the supported subset, and a few it refuses.
const WORDS: &[&str] = &[
    "type",
    "string",
    "number",
    "integer",
    "boolean",
    "null",
    "object",
    "array",
    "properties",
    "required",
    "additionalProperties",
    "enum",
    "const",
    "items",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "format",
    "date",
    "date-time",
    "anyOf",
    "allOf",
    "$ref",
    "$defs",
    "definitions",
    "#",
    "#/$defs/a",
    "#/definitions/a",
    "#/properties/a",
    "a",
    "b",
    "title",
    "description",
    "default",
    "pattern",
    "oneOf",
    "minimum",
];

/// Token pieces for the mask walk: JSON punctuation, literals, digits, letters, multi-byte
/// characters and whitespace, single and merged (as a BPE vocabulary has them); the last id
/// is end-of-sequence.
fn vocab() -> &'static (Vec<Vec<u8>>, Vocab) {
    static V: OnceLock<(Vec<Vec<u8>>, Vocab)> = OnceLock::new();
    V.get_or_init(|| {
        let mut t: Vec<Vec<u8>> = [
            "{",
            "}",
            "[",
            "]",
            "\"",
            ":",
            ",",
            " ",
            "\n",
            "true",
            "false",
            "null",
            "-",
            ".",
            "e",
            "E",
            "+",
            "0",
            "1",
            "9",
            "12",
            "a",
            "b",
            "\\",
            "u",
            "\\u00",
            "é",
            "日本",
            "T",
            "Z",
            "2024-01-31",
            "T12:30:00Z",
            "{\"",
            "\":",
            "\",\"",
            "\"}",
            "[\"",
            "\"]",
            "},{",
            "\"a\"",
            "\"b\":",
            "ab",
            "  ",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        t.push(vec![0xe6]); // a lone first byte of a 3-byte character
        t.push(Vec::new()); // end-of-sequence
        let eos = t.len() as u32 - 1;
        (t.clone(), Vocab::from_tokens(t, &[eos]))
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut u = Unstructured::new(rest);
    let schema: Value = if flags & 1 == 0 {
        // the schema's text up to the first 0 byte; what follows is the instance
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        u = Unstructured::new(&rest[(end + 1).min(rest.len())..]);
        match serde_json::from_slice(&rest[..end]) {
            Ok(v) => v,
            Err(_) => return,
        }
    } else {
        let Ok(doc) = Json::arbitrary(&mut u) else {
            return;
        };
        let mut text = Vec::new();
        doc.write(WORDS, &mut text);
        match serde_json::from_slice(&text) {
            Ok(v) => v,
            Err(_) => return,
        }
    };
    let Ok(g) = compile(&schema) else {
        return;
    };
    // 1. the rest of the input as an instance
    let instance = u.peek_bytes(u.len()).unwrap_or_default().to_vec();
    let mut r = Recognizer::new();
    let whole = r.try_bytes(&g, &instance);
    if whole && r.is_accepting(&g) {
        let value: Value = serde_json::from_slice(&instance).unwrap_or_else(|e| {
            panic!(
                "the recognizer accepts text that is not JSON ({e}): {:?} for {schema}",
                String::from_utf8_lossy(&instance)
            )
        });
        if let Ok(v) = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
        {
            if let Some(e) = v.iter_errors(&value).next() {
                panic!(
                    "the recognizer accepts {value} but it does not validate against {schema}: {e}"
                );
            }
        }
    }
    // 2. a walk through the masks, choosing among the allowed tokens with the input's bytes
    let (pieces, v) = vocab();
    let mut masker = Masker::new();
    let (mut fast, mut slow) = (TokenSet::new(v.size()), TokenSet::new(v.size()));
    let mut r = Recognizer::new();
    for _ in 0..48 {
        fast.clear();
        slow.clear();
        masker.mask(&g, v, &r, &mut fast);
        mask_naive(&g, v, &r, &mut slow);
        assert!(fast == slow, "trie mask ≠ naive mask for {schema}");
        let allowed: Vec<u32> = fast.iter().collect();
        let Ok(pick) = u.choose(&allowed) else {
            break;
        };
        let piece = &pieces[*pick as usize];
        if piece.is_empty() {
            assert!(
                r.is_accepting(&g),
                "end-of-sequence allowed before the text is complete"
            );
            break;
        }
        assert!(
            r.try_bytes(&g, piece),
            "an allowed token is refused by the recognizer"
        );
    }
});
