//! The forward pass: stage 2's golden values and properties, the tiny model, SmolLM2 and Gemma 3
//! against `transformers`, the probes (chapters 2, 3, 4, 7, 8, 17).
//!
//! One test binary for the files below (see Cargo.toml's [[test]] entries): each file is a
//! module named as the file, so its tests are `FILE::name` and a filter runs one file:
//! `cargo test --features oracles --test model stage2_attention`.

#[cfg(feature = "oracles")]
#[path = "../stage2_attention.rs"]
mod stage2_attention;

#[path = "../stage2_golden.rs"]
mod stage2_golden;

#[cfg(feature = "oracles")]
#[path = "../stage2_props.rs"]
mod stage2_props;

#[cfg(feature = "oracles")]
#[path = "../model_tiny.rs"]
mod model_tiny;

#[cfg(feature = "oracles")]
#[path = "../model_props.rs"]
mod model_props;

#[path = "../model_smollm2.rs"]
mod model_smollm2;

#[path = "../model_probe.rs"]
mod model_probe;

#[path = "../model_gemma.rs"]
mod model_gemma;

#[cfg(feature = "oracles")]
#[path = "../gemma_props.rs"]
mod gemma_props;
