//! The encoder and RAG: WordPiece, the encoder's kernels, all-MiniLM-L6-v2 against
//! sentence-transformers, chunking, search, the store and the commands (chapters 14, 15).
//!
//! One test binary for the files below (see Cargo.toml's [[test]] entries): each file is a
//! module named as the file, so its tests are `FILE::name` and a filter runs one file:
//! `cargo test --features oracles --test encoder tokenizer_wordpiece`.

// Several files here declare the same helper module (`mod NAME_common;`): each gets its own
// copy, as it had in its own binary; clippy warns about a file loaded twice.
#![allow(clippy::duplicate_mod)]

#[cfg(feature = "oracles")]
#[path = "../tokenizer_wordpiece.rs"]
mod tokenizer_wordpiece;

#[cfg(feature = "oracles")]
#[path = "../encoder_kernels.rs"]
mod encoder_kernels;

#[path = "../bert_minilm.rs"]
mod bert_minilm;

#[cfg(feature = "oracles")]
#[path = "../rag_chunk.rs"]
mod rag_chunk;

#[cfg(feature = "oracles")]
#[path = "../rag_search.rs"]
mod rag_search;

#[path = "../rag_store.rs"]
mod rag_store;

#[path = "../cli_encoder.rs"]
mod cli_encoder;
