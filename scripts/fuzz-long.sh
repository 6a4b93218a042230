#!/usr/bin/env bash
# The long fuzz runs of issue 17: each target in turn, to 10⁷ executions or FUZZ_CPU_SECONDS
# (default 3600) of CPU time, whichever comes first, with the test command's limits (2 GB RSS and
# malloc) and a 60 s per-input timeout. Writes one summary row per run to fuzz/logs/long/runs.tsv
# (the numbers fuzz/README.md's table is made of) and the whole libFuzzer log beside it.
#
#   scripts/fuzz-long.sh gguf gguf_fields            # AddressSanitizer build (cargo-fuzz default)
#   FUZZ_SANITIZER=none scripts/fuzz-long.sh chat_template   # release + debug assertions only
#
# Why CPU time and not libFuzzer's -max_total_time (wall time): the runs go at idle priority
# (SCHED_IDLE) so that builds and tests beside them keep their speed, and at idle priority the
# wall clock says little about how much fuzzing was done. So a watcher reads the run's CPU time
# from /proc and interrupts it (SIGINT: libFuzzer prints its final stats and exits 72) at the
# bound. libFuzzer's -timeout is wall time too, hence 60 s (the test command's too, since
# 2026-12-03): a unit starved beside a build can pass 10 s of wall time on a few hundred ms of CPU,
# and a chat template that spends its whole budget takes 15-25 s under ASan. Every
# "slowest unit" the log reports is to be replayed at normal priority before a run is called
# clean (`fuzz/target/…/release/TARGET UNIT`).
#
# Two lanes on two cores: start two of these, each with its own list of targets (rayon gets one
# thread, so that a lane is one core: only the forward pass of gguf/gguf_fields would use more).
# A run starts from fuzz/corpus/TARGET (fuzz/seeds.sh fills it) and adds what it finds there.
set -euo pipefail
usage() { sed -n '2,22p' "$0"; }
[ "$#" -gt 0 ] || { usage >&2; exit 2; }
case "$1" in -h | --help) usage; exit 0 ;; esac
cd "$(dirname "$0")/../fuzz"
# a name that is not a target is refused before anything is built or a row written
for t in "$@"; do
  [ -f "fuzz_targets/$t.rs" ] || {
    echo "fuzz-long.sh: no fuzz target named '$t'; the targets:" $(ls fuzz_targets | sed 's/\.rs$//') >&2
    exit 2
  }
done
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
cpu_bound="${FUZZ_CPU_SECONDS:-3600}"
export RAYON_NUM_THREADS=1
runs_bound="${FUZZ_RUNS:-10000000}"
sanitizer="${FUZZ_SANITIZER:-address}"

if [ "$sanitizer" = address ]; then target_dir=target; else target_dir="target-$sanitizer"; fi
bin_dir="$target_dir/x86_64-unknown-linux-gnu/release"
mkdir -p logs/long
for t in "$@"; do
  cargo +nightly fuzz build -s "$sanitizer" --target-dir "$target_dir" "$t" >>"logs/long/build.log" 2>&1
done
built_at=$(git rev-parse --short HEAD)
git diff --quiet HEAD -- ../src ../fuzz/fuzz_targets ../fuzz/src ../Cargo.toml || built_at="$built_at+changes"
[ -f ./seeds.sh ] && [ ! -d corpus/"$1" ] && ./seeds.sh >/dev/null

clock_ticks=$(getconf CLK_TCK)
cpu_seconds_of() { # utime + stime of one process, in seconds
  awk -v hz="$clock_ticks" '{ sub(/^.*\) /, ""); print int(($12 + $13) / hz) }' "/proc/$1/stat" 2>/dev/null || echo 0
}

for t in "$@"; do
  log="logs/long/$t.log"
  mkdir -p "corpus/$t" "artifacts/$t"
  start=$(date -u +%FT%TZ)
  t0=$SECONDS
  # /usr/bin/time (for the peak RSS) runs chrt, which execs the fuzzer at idle priority: the
  # fuzzer is the child of $!
  /usr/bin/time -v -o "logs/long/$t.time" chrt -i 0 "$bin_dir/$t" "corpus/$t" \
    -runs="$runs_bound" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=60 \
    -print_final_stats=1 -artifact_prefix="artifacts/$t/" >"$log" 2>&1 &
  wrapper=$!
  sleep 2
  pid=$(pgrep -P "$wrapper" | head -1 || true)
  cpu=0
  while kill -0 "$wrapper" 2>/dev/null; do
    [ -n "$pid" ] && cpu=$(cpu_seconds_of "$pid")
    if [ "$cpu" -ge "$cpu_bound" ]; then kill -INT "$pid" 2>/dev/null || true; break; fi
    echo "$cpu" >"logs/long/$t.cpu"
    sleep 5
  done
  status=0
  wait "$wrapper" || status=$?
  wall=$((SECONDS - t0))
  cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%d", s }' "logs/long/$t.time")
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  # libFuzzer's status lines: "#N<TAB>NEW    cov: C ft: F corp: …"
  last=$(grep -E '^#[0-9]+[[:space:]]' "$log" | tail -1 || true)
  cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*' || echo '?')
  ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*' || echo '?')
  rss_kb=$(grep -o 'Maximum resident set size (kbytes): [0-9]*' "logs/long/$t.time" | grep -o '[0-9]*$' || echo 0)
  slowest=$(grep -o 'stat::slowest_unit_time_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  if grep -q 'run interrupted' "$log" && [ "$cpu" -ge "$((cpu_bound - 5))" ]; then
    result="clean: CPU bound reached"
  elif [ "$status" = 0 ] && grep -qE '^#[0-9]+[[:space:]]+DONE' "$log"; then
    result="clean: $runs_bound executions"
  elif grep -q 'run interrupted' "$log"; then
    result="stopped by hand before a bound: no finding so far"
  else
    result="FINDING (exit $status): $(grep -E '^==[0-9]+== ERROR|^SUMMARY|panicked at' "$log" | head -1 || true)"
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$built_at" "$sanitizer" "$start" \
    "$execs" "$wall" "$cpu" "$cov" "$ft" "$((rss_kb / 1024))" "$slowest" "$result" >>logs/long/runs.tsv
  printf '==> %s: %s executions, %s s wall, %s s CPU, cov %s, ft %s, peak %s MB, slowest unit %s s: %s\n' \
    "$t" "$execs" "$wall" "$cpu" "$cov" "$ft" "$((rss_kb / 1024))" "$slowest" "$result"
done
