//! The `glassbox` commands, one file each. `src/main.rs` parses the command line and calls
//! `run` here; everything a command does is built from the library's stage modules. What the
//! model commands share (model, prompt, sampling flags, context, threads) is in [`common`].

pub mod common;

pub mod attention;
pub mod bench;
pub mod bench_memory;
pub mod bench_profile;
pub mod chat;
pub mod convert;
pub mod cpu_share;
pub mod embed;
pub mod generate;
pub mod inspect;
pub mod inspect_gguf;
pub mod lens;
pub mod logits;
pub mod perplexity;
pub mod pull;
pub mod quantize;
pub mod rag;
pub mod serve;
pub mod similarity;
pub mod svg;
pub mod tokenize;
pub mod train;
pub mod train_bpe;
