//! GGUF bytes as found on disk: header, metadata, tensor table, then everything built on them
//! (tokenizer, config, weights, two tokens through a small model). Seeds: the tiny test model
//! and the real SmolLM2 file's header (`fuzz/seeds.sh`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    glassbox_fuzz::gguf_bytes(data);
});
