//! Model files: the GGUF reader, safetensors shards, `glassbox convert`, the quantizer and
//! `glassbox quantize`, and bad input of every kind (chapters 6, 6b).
//!
//! One test binary for the files below (see Cargo.toml's [[test]] entries): each file is a
//! module named as the file, so its tests are `FILE::name` and a filter runs one file:
//! `cargo test --features oracles --test weights weights_bad_input`.

#[path = "../weights_bad_input.rs"]
mod weights_bad_input;

#[path = "../weights_convert.rs"]
mod weights_convert;

#[path = "../weights_gguf.rs"]
mod weights_gguf;

#[path = "../weights_tiny.rs"]
mod weights_tiny;

#[path = "../quant_model.rs"]
mod quant_model;

#[path = "../quantize_cli.rs"]
mod quantize_cli;
