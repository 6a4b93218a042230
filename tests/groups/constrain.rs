//! Constrained decoding and tool calls: the schema compiler, the recognizer, the mask, 200
//! constrained generations, the tool-call formats (chapters 13, 13b).
//!
//! One test binary for the files below (see Cargo.toml's [[test]] entries): each file is a
//! module named as the file, so its tests are `FILE::name` and a filter runs one file:
//! `cargo test --features oracles --test constrain constrain_schema`.

// Several files here declare the same helper module (`mod NAME_common;`): each gets its own
// copy, as it had in its own binary; clippy warns about a file loaded twice.
#![allow(clippy::duplicate_mod)]

#[path = "../constrain_schema.rs"]
mod constrain_schema;

#[path = "../constrain_recognizer.rs"]
mod constrain_recognizer;

#[path = "../constrain_mask.rs"]
mod constrain_mask;

#[cfg(feature = "oracles")]
#[path = "../constrain_props.rs"]
mod constrain_props;

#[cfg(feature = "oracles")]
#[path = "../constrain_generate.rs"]
mod constrain_generate;

#[cfg(feature = "oracles")]
#[path = "../tools_split.rs"]
mod tools_split;

#[cfg(feature = "oracles")]
#[path = "../tools_native.rs"]
mod tools_native;
