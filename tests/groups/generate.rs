//! Generation: the samplers against `transformers` and their properties, the loop, streaming
//! decode, chat templates, end to end on SmolLM2 (chapters 9, 10, 11).
//!
//! One test binary for the files below (see Cargo.toml's [[test]] entries): each file is a
//! module named as the file, so its tests are `FILE::name` and a filter runs one file:
//! `cargo test --features oracles --test generate sampler_golden`.

#[path = "../sampler_golden.rs"]
mod sampler_golden;

#[cfg(feature = "oracles")]
#[path = "../sampler_props.rs"]
mod sampler_props;

#[path = "../generate_loop.rs"]
mod generate_loop;

#[cfg(feature = "oracles")]
#[path = "../generate_stream.rs"]
mod generate_stream;

#[path = "../generate_smollm2.rs"]
mod generate_smollm2;

#[path = "../chat_template.rs"]
mod chat_template;
