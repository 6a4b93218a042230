//! # Retrieval-augmented generation: answers grounded in the reader's documents
//!
//! A language model knows what was in its training data, and nothing of your files. RAG looks
//! the relevant passages up first and hands them to the model with the question:
//!
//! ```text
//! index:  files ──chunk──▶ chunks ──encoder──▶ vectors [n, 384] ──▶ SQLite (text, source, vector)
//! ask:    question ──encoder──▶ q [384]
//!           ├─ semantic cache: an earlier question within cosine 0.95? → its answer, no model run
//!           └─ top-k by cosine over the store ──▶ grounded prompt with numbered sources
//!                 ──chat model──▶ answer citing [1], [2], streamed
//! ```
//!
//! * [`chunk`]: paragraphs and sentences, sized in the encoder's tokens, with overlap.
//! * [`index`]: files → chunks → vectors, one transaction per file, unchanged files skipped.
//! * [`store`]: the SQLite schema and every query.
//! * [`search`]: the exact top-k scan (SIMD dot products, partial selection).
//! * [`prompt`]: the grounded prompt.
//! * [`cache`]: the semantic cache.
//!
//! The encoder is `model::Bert` (all-MiniLM-L6-v2), the chat model the default SmolLM2; the
//! command is `glassbox rag index PATH... --db FILE` then `glassbox rag ask "..." --db FILE`.

pub mod cache;
pub mod chunk;
pub mod index;
pub mod prompt;
pub mod search;
pub mod store;
