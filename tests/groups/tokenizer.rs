//! The tokenizers: reading and writing their files, GGUF and SentencePiece vocabularies, the
//! streaming decoder, against Hugging Face `tokenizers` and tiktoken; and the BPE trainer (book
//! chapter 1).
//!
//! One test binary for the files below (see Cargo.toml's [[test]] entries): each file is a
//! module named as the file, so its tests are `FILE::name` and a filter runs one file:
//! `cargo test --features oracles --test tokenizer tokenizer_formats`.

// Several files here declare the same helper module (`mod NAME_common;`): each gets its own
// copy, as it had in its own binary; clippy warns about a file loaded twice.
#![allow(clippy::duplicate_mod)]

#[path = "../tokenizer_formats.rs"]
mod tokenizer_formats;

#[path = "../tokenizer_gguf.rs"]
mod tokenizer_gguf;

#[cfg(feature = "oracles")]
#[path = "../tokenizer_hf.rs"]
mod tokenizer_hf;

#[cfg(feature = "oracles")]
#[path = "../tokenizer_pretokenize.rs"]
mod tokenizer_pretokenize;

#[path = "../tokenizer_sentencepiece.rs"]
mod tokenizer_sentencepiece;

#[cfg(feature = "oracles")]
#[path = "../tokenizer_stream.rs"]
mod tokenizer_stream;

#[cfg(feature = "oracles")]
#[path = "../tokenizer_tiktoken.rs"]
mod tokenizer_tiktoken;

#[path = "../train_naive.rs"]
mod train_naive;

#[cfg(feature = "oracles")]
#[path = "../train_equivalence.rs"]
mod train_equivalence;

#[path = "../train_errors.rs"]
mod train_errors;

#[cfg(feature = "oracles")]
#[path = "../train_hf_roundtrip.rs"]
mod train_hf_roundtrip;
