//! Hostile input (issue 17): configs, chat templates, tokenizer files, the command line.
//!
//! One test binary for the files below (see Cargo.toml's [[test]] entries): each file is a
//! module named as the file, so its tests are `FILE::name` and a filter runs one file:
//! `cargo test --features oracles --test hostile hostile_config`.

// Several files here declare the same helper module (`mod NAME_common;`): each gets its own
// copy, as it had in its own binary; clippy warns about a file loaded twice.
#![allow(clippy::duplicate_mod)]

#[path = "../hostile_config.rs"]
mod hostile_config;

#[path = "../hostile_template.rs"]
mod hostile_template;

#[path = "../hostile_tokenizer.rs"]
mod hostile_tokenizer;

#[path = "../hostile_cli.rs"]
mod hostile_cli;
