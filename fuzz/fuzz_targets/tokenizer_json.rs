//! Hugging Face `tokenizer.json` (byte-level BPE): ids, merges, added tokens, pre-tokenizer.
//! A file that loads is encoded with, decoded, streamed, and written back
//! (`glassbox_fuzz::tokenizer_checks`).
#![no_main]

use std::path::Path;

use glassbox::tokenizer::Tokenizer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(tok) = Tokenizer::from_tokenizer_json(&v, Path::new("tokenizer.json")) {
        glassbox_fuzz::tokenizer_checks(&tok, "fuzzed tokenizer.json");
    }
});
