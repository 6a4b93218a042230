//! Streaming decode as the generation loop uses it: for any sequence of SmolLM2 ids (random,
//! so characters split across tokens in every possible way), the pieces are valid UTF-8 by
//! construction, and pieces + flush equal the lossy decode of all the bytes at once: no
//! character is lost, doubled or broken by the split; and "héllo 😉" fed id by id rebuilds
//! exactly, never showing U+FFFD.

use glassbox::tokenizer::Tokenizer;
use proptest::prelude::*;
use std::sync::OnceLock;

fn tok() -> &'static Tokenizer {
    static T: OnceLock<Tokenizer> = OnceLock::new();
    T.get_or_init(|| {
        let path = glassbox::data::default_model().expect("the default model");
        glassbox::weights::model_files::ModelFiles::open(&path)
            .expect("open SmolLM2")
            .tokenizer
    })
}

#[test]
fn hello_wink_rebuilds_exactly() {
    let t = tok();
    let ids = t.encode("héllo 😉 नमस्ते 你好");
    let mut d = t.stream_decoder();
    let mut pieces = Vec::new();
    for &id in &ids {
        pieces.push(d.push(id).unwrap());
    }
    pieces.push(d.flush());
    assert_eq!(pieces.concat(), "héllo 😉 नमस्ते 你好");
    assert!(pieces.iter().all(|p| !p.contains('\u{FFFD}')));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn pieces_equal_lossy_decode_of_all_bytes(ids in prop::collection::vec(17u32..49152, 1..40)) {
        let t = tok();
        let mut d = t.stream_decoder();
        let mut text = String::new();
        for &id in &ids {
            text.push_str(&d.push(id).unwrap());
        }
        text.push_str(&d.flush());
        let bytes = t.decode_bytes(&ids).unwrap();
        prop_assert_eq!(text, String::from_utf8_lossy(&bytes).into_owned());
    }
}
