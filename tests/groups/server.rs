//! `glassbox serve`: request parsing, the tiny model and SmolLM2 over real HTTP, load on the
//! binary, structured output and tools, embeddings (chapters 12, 13b, 14).
//!
//! One test binary for the files below (see Cargo.toml's [[test]] entries): each file is a
//! module named as the file, so its tests are `FILE::name` and a filter runs one file:
//! `cargo test --features oracles --test server server_request`.

// Several files here declare the same helper module (`mod NAME_common;`): each gets its own
// copy, as it had in its own binary; clippy warns about a file loaded twice.
#![allow(clippy::duplicate_mod)]

#[cfg(feature = "oracles")]
#[path = "../server_request.rs"]
mod server_request;

#[path = "../server_tiny.rs"]
mod server_tiny;

#[path = "../server_smollm2.rs"]
mod server_smollm2;

#[path = "../server_load.rs"]
mod server_load;

#[cfg(feature = "oracles")]
#[path = "../server_tools.rs"]
mod server_tools;

#[path = "../server_embeddings.rs"]
mod server_embeddings;
