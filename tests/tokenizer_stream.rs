//! The streaming decoder: whole characters only, and the same text as decoding all at once.
mod tokenizer_common;

use proptest::prelude::*;
use tokenizer_common::{ours, text};

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Random ids (often ending mid-character): the pieces concatenate to the lossy decode,
    /// which equals the exact decode when the bytes are valid UTF-8.
    #[test]
    fn random_ids_stream_like_lossy_decode(ids in prop::collection::vec(0u32..199_998, 0..40)) {
        let t = ours("o200k_base");
        let mut dec = t.stream_decoder();
        let mut got = String::new();
        for &id in &ids {
            got.push_str(&dec.push(id).unwrap());
        }
        got.push_str(&dec.flush());
        let bytes = t.decode_bytes(&ids).unwrap();
        prop_assert_eq!(&got, &String::from_utf8_lossy(&bytes).into_owned());
        if let Ok(exact) = t.decode(&ids) {
            prop_assert_eq!(got, exact);
        }
    }

    /// Encoded text streams back exactly, and no piece ever holds a replacement character.
    #[test]
    fn encoded_text_streams_back(s in text(20)) {
        let t = ours("o200k_base");
        let mut dec = t.stream_decoder();
        let mut got = String::new();
        for id in t.encode(&s) {
            let piece = dec.push(id).unwrap();
            let replacement = piece.contains(char::REPLACEMENT_CHARACTER);
            prop_assert!(!replacement || s.contains(char::REPLACEMENT_CHARACTER), "replacement char in {:?}", piece);
            got.push_str(&piece);
        }
        prop_assert_eq!(dec.flush(), "");
        prop_assert_eq!(got, s);
    }
}

#[test]
fn multibyte_character_split_across_tokens_is_held_back() {
    let t = ours("o200k_base");
    // single-byte tokens for the two bytes of "é" (0xC3 0xA9)
    let (c3, a9) = (t.encode_bytes_id(0xc3), t.encode_bytes_id(0xa9));
    let mut dec = t.stream_decoder();
    assert_eq!(dec.push(c3).unwrap(), "");
    assert_eq!(dec.push(a9).unwrap(), "é");
    assert_eq!(dec.push(c3).unwrap(), "");
    assert_eq!(dec.flush(), "\u{FFFD}");
    assert!(dec.push(u32::MAX).is_err());
}

trait ByteId {
    fn encode_bytes_id(&self, b: u8) -> u32;
}
impl ByteId for glassbox::tokenizer::Tokenizer {
    fn encode_bytes_id(&self, b: u8) -> u32 {
        (0..self.vocab_size() as u32)
            .find(|&id| self.token_bytes(id) == Some(&[b][..]))
            .unwrap()
    }
}
