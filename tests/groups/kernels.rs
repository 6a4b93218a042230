//! The kernels against their references: matmul, the quantized formats and their SIMD dot
//! products, the decode GEMV, the 8-bit-activation kernels (chapters 5, 6, 6b, 10b). Every file
//! uses proptest, so the whole binary needs the `oracles` feature (Cargo.toml).
//!
//! One test binary for the files below (see Cargo.toml's [[test]] entries): each file is a
//! module named as the file, so its tests are `FILE::name` and a filter runs one file:
//! `cargo test --features oracles --test kernels kernels_gemv`.

#[path = "../kernels_gemv.rs"]
mod kernels_gemv;

#[path = "../kernels_matmul.rs"]
mod kernels_matmul;

#[path = "../kernels_q8act.rs"]
mod kernels_q8act;

#[path = "../kernels_quant.rs"]
mod kernels_quant;

#[path = "../quant_formats.rs"]
mod quant_formats;
