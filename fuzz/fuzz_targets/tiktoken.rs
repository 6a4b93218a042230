//! OpenAI `.tiktoken` rank files, plain and gzipped. The first byte picks the encoding the
//! file name announces (cl100k, o200k, r50k) and whether the rest is gzipped here first (so
//! the fuzzer explores the text behind a valid gzip stream); without that bit the rest is
//! read as is, which may itself be gzip (the seeds include real `.tiktoken.gz` bytes).
#![no_main]

use std::io::Write;
use std::path::Path;

use glassbox::tokenizer::Tokenizer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let name = [
        "cl100k_base.tiktoken",
        "o200k_base.tiktoken",
        "r50k_base.tiktoken",
    ][(flags >> 1) as usize % 3];
    let bytes = if flags & 1 == 1 {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(rest).expect("gzip into memory");
        gz.finish().expect("gzip into memory")
    } else {
        rest.to_vec()
    };
    if let Ok(tok) = Tokenizer::from_tiktoken_bytes(Path::new(name), &bytes) {
        glassbox_fuzz::tokenizer_checks(&tok, "fuzzed .tiktoken");
    }
});
