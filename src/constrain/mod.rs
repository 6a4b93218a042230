//! # Stage 6: structured output — a JSON-schema mask on the logits
//!
//! A small model asked for JSON often writes almost-JSON. Constrained decoding makes failure
//! impossible: before each draw, every token that would break the schema gets logit −∞.
//!
//! ```text
//! schema.json ──compile (schema.rs)──▶ Grammar: a graph of value nodes            (grammar.rs)
//!                                        │
//! text so far ──one byte at a time──▶ Recognizer: a set of stacks of frames     (recognizer.rs,
//!                                        │                           containers.rs, string.rs)
//! vocabulary ──byte trie (trie.rs)──▶ walk it from the state ──▶ allowed ids      (mask.rs)
//!                                        │
//! logits ──−∞ outside the set──▶ temperature, top-k, top-p, min-p, draw ──▶ id   (sampler.rs)
//!                                        │
//!                     feed the id's bytes to the recognizer, repeat           (constraint.rs)
//! ```
//!
//! End-of-sequence is allowed only when the text is a complete instance, and it is the only
//! choice once nothing else may follow. Every text generated this way parses and validates
//! against the schema (`tests/constrain_*.rs` check that with an independent validator).

pub mod constraint;
pub mod containers;
pub mod grammar;
pub mod mask;
pub mod recognizer;
pub mod schema;
pub mod string;
pub mod trie;

pub use constraint::JsonConstraint;
pub use grammar::{Format, Grammar};
pub use mask::{mask_naive, Masker, TokenSet, Vocab};
pub use recognizer::Recognizer;
pub use schema::{compile, SchemaError};
