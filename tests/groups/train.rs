//! Training: every backward against finite differences and PyTorch autograd, the training run,
//! `glassbox train` (chapter 18).
//!
//! One test binary for the files below (see Cargo.toml's [[test]] entries): each file is a
//! module named as the file, so its tests are `FILE::name` and a filter runs one file:
//! `cargo test --features oracles --test train backprop_fd`.

#[cfg(feature = "oracles")]
#[path = "../backprop_fd.rs"]
mod backprop_fd;

#[path = "../backprop_torch.rs"]
mod backprop_torch;

#[path = "../train_run.rs"]
mod train_run;

#[path = "../train_cli.rs"]
mod train_cli;
