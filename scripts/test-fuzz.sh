#!/usr/bin/env bash
# The fuzz targets in fuzz/ (issue 17), each run for a short fixed time so they stay green.
# Installs what it needs on a clean machine: the nightly toolchain (cargo-fuzz needs
# -Zsanitizer) and cargo-fuzz (pinned, --locked). Builds every target in one cargo invocation,
# fills the corpora from fuzz/seeds and the test fixtures (fuzz/seeds.sh), then runs each target
# for FUZZ_SECONDS (default 8) under libFuzzer's 2 GB RSS limit and a 60 s per-input timeout,
# FUZZ_JOBS targets at a time (default: the number of cores). A crash, timeout or OOM fails the
# script (after every target has run) and leaves the input in fuzz/artifacts/TARGET/.
#
#   scripts/test-fuzz.sh                   # every target, 8 s each
#   FUZZ_SECONDS=3600 scripts/test-fuzz.sh gguf_fields   # one target, one hour
set -euo pipefail
case "${1:-}" in -h | --help) sed -n '2,11p' "$0"; exit 0 ;; esac
cd "$(dirname "$0")/../fuzz"
# a name that is not a target is refused before anything is installed or built
for t in "$@"; do
  [ -f "fuzz_targets/$t.rs" ] || {
    echo "test-fuzz.sh: no fuzz target named '$t'; the targets:" $(ls fuzz_targets | sed 's/\.rs$//') >&2
    exit 2
  }
done
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
seconds="${FUZZ_SECONDS:-8}"
step() { printf '\n==> %s\n' "$*"; }
t0=$SECONDS

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  step "installing the nightly toolchain (minimal profile; first run only)"
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  # opt-level 0: cargo-fuzz only starts cargo and the target, its speed does not matter, and
  # its dependencies (clap, cargo_metadata, ...) compile much faster without -O3
  step "installing cargo-fuzz 0.13.2 from crates.io (first run only)"
  CARGO_PROFILE_RELEASE_OPT_LEVEL=0 cargo install cargo-fuzz --locked --version 0.13.2
fi
t_install=$((SECONDS - t0))

step "building the fuzz targets (release, debug assertions, AddressSanitizer)"
cargo +nightly fuzz build
t_build=$((SECONDS - t0 - t_install))

./seeds.sh >/dev/null
targets=$(cargo +nightly fuzz list)
[ "$#" -gt 0 ] && targets="$*"
mkdir -p logs
# The targets run FUZZ_JOBS at a time (default: one per core). A libFuzzer run is one process
# that works mostly on one thread (only the forward pass of `gguf`/`gguf_fields` hands work to
# rayon), so on 2 cores two runs of 8 s take 8 s of wall time instead of 16, each on its own core.
# FUZZ_JOBS=1 runs them one after the other.
jobs_max="${FUZZ_JOBS:-$(nproc)}"
# The per-input timeout is 60 s, as in the long runs (scripts/fuzz-long.sh), not 10: work that
# glassbox bounds can still pass 10 s here. A chat template that spends its whole budget (10^7
# instructions or 16 MiB, 0.3 s in a release build) takes 15-25 s under AddressSanitizer and
# coverage: one from a long run's corpus failed this script at 10 s on 2026-12-03.
run_target() {
  local t=$1 status=0
  cargo +nightly fuzz run "$t" "corpus/$t" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=60 \
    -print_final_stats=1 >"logs/$t.log" 2>&1 || status=$?
  echo "$status" >"logs/$t.status"
}
for t in $targets; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
  printf '==> fuzz %s for %ss\n' "$t" "$seconds"
  rm -f "logs/$t.status"
  run_target "$t" &
done
wait
failed=0
for t in $targets; do
  step "fuzz $t: $seconds s"
  grep -E '^stat::(number_of_executed_units|peak_rss_mb)|^#[0-9]+ +DONE' "logs/$t.log" || true
  status=$(cat "logs/$t.status" 2>/dev/null || echo "no status")
  if [ "$status" != 0 ]; then
    grep -E 'ERROR|SUMMARY|panicked|Test unit written|Reproduce with' "logs/$t.log" >&2 || tail -30 "logs/$t.log" >&2
    echo "fuzz target $t failed (exit $status): fuzz/logs/$t.log, input in fuzz/artifacts/$t/" >&2
    failed=1
  fi
done
printf '\nfuzz: install %ss, build %ss, runs %ss\n' "$t_install" "$t_build" "$((SECONDS - t0 - t_install - t_build))"
exit "$failed"
