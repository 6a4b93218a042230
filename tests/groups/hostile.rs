//! Hostile input (issue 17): configs, chat templates, tokenizer files, the command line.
//!
//! One test binary for the files below (see Cargo.toml's [[test]] entries): each file is a
//! module named as the file, so its tests are `FILE::name` and a filter runs one file:
//! `cargo test --features oracles --test hostile hostile_config`.

#[path = "../hostile_config.rs"]
mod hostile_config;

#[path = "../hostile_template.rs"]
mod hostile_template;

#[path = "../hostile_tokenizer.rs"]
mod hostile_tokenizer;

#[path = "../hostile_cli.rs"]
mod hostile_cli;
