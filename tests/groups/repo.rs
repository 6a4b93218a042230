//! The repository itself: the book's includes resolve, and every test file is in a test binary.
//!
//! One test binary for the files below (see Cargo.toml's [[test]] entries): each file is a
//! module named as the file, so its tests are `FILE::name` and a filter runs one file:
//! `cargo test --features oracles --test repo book_includes`.

#[path = "../book_includes.rs"]
mod book_includes;

#[path = "../test_layout.rs"]
mod test_layout;
