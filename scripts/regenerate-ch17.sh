#!/usr/bin/env bash
# The outputs chapter 17 includes, regenerated on this machine (nothing in the chapter is typed in):
#
#   scripts/regenerate-ch17.sh            lesson 17's output and the Gemma tests' check lines
#   scripts/regenerate-ch17.sh --race     also the race against llama.cpp (scripts/race_gemma.sh;
#                                         run it on a quiet machine)
#
# Writes (under book/src/, each through a temporary name in the same directory):
#   ch17-lesson-output.txt   what `cargo run --release --example 17_second_family` prints
#   ch17-check.txt           the max-difference lines of `tests/model_gemma.rs`
#   ch17-race-output.txt     with --race: glassbox against llama.cpp on the Gemma 3 file
# The lesson's tok/s and the race are the speed of the machine that runs this (book/src/machine.txt
# is written by scripts/regenerate-book.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=book/src
put() { local tmp="$1.part"; cat > "$tmp"; sync "$tmp"; mv "$tmp" "$1"; }

cargo build --release --quiet --example 17_second_family
target/release/examples/17_second_family | sed "s|$HOME|~|g" | put "$OUT/ch17-lesson-output.txt"
cat "$OUT/ch17-lesson-output.txt" >&2

cargo test --release --quiet --test model -- --nocapture --test-threads 1 model_gemma 2>&1 \
  | sed "s|$HOME|~|g" > target/gemma-checks.txt
# (-o: with --nocapture a test's first line shares its line with libtest's "test NAME ... ")
grep -oE '[a-z_0-9]+ +[0-9]+ tokens[,:].*max \|Δlogit\| = .*|capital: windowed vs full.*' \
  target/gemma-checks.txt | put "$OUT/ch17-check.txt"
cat "$OUT/ch17-check.txt" >&2

if [ "${1:-}" = "--race" ]; then
  scripts/race_gemma.sh "$OUT/ch17-race-output.txt"
fi
