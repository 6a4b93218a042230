#!/usr/bin/env python3
"""Load and first token of glassbox binaries, alternated run by run, warm and cold page cache.

    python3 scripts/ab_load.py BIN [BIN ...] [--rounds 20] [--cache warm cold] [--model PATH]

Each round runs `BIN bench -m MODEL -p 5 -n 1 -r 1 --json` once per binary (the order reversed
every other round) and reads `load_ms` and `first_token_ms` (the first token of a five-token
prompt, counted from when the load began). `--cache cold` first evicts the model file, and only
it, from the page cache (`posix_fadvise(POSIX_FADV_DONTNEED)`: no root, no drop_caches), so the
load reads it from disk. Prints the median and minimum per binary and the load average; on a busy
machine only the comparison inside one run means anything. It asserts nothing. Standard library
only.
"""

import argparse
import json
import os
import statistics
import subprocess

DEFAULT_MODEL = "~/.cache/glassbox/SmolLM2-135M-Instruct.Q4_1.gguf"


def evict(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def one_call(binary, model):
    out = subprocess.run(
        [binary, "bench", "-m", model, "-p", "5", "-n", "1", "-r", "1", "--json"],
        check=True, capture_output=True, text=True).stdout
    r = json.loads(out)
    return r["load_ms"], r["first_token_ms"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binaries", nargs="+")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--cache", nargs="+", choices=["warm", "cold"], default=["warm", "cold"])
    ap.add_argument("--model", default=DEFAULT_MODEL)
    args = ap.parse_args()
    model = os.path.expanduser(args.model)
    for cache in args.cache:
        runs = {b: ([], []) for b in args.binaries}
        for r in range(args.rounds):
            order = args.binaries if r % 2 == 0 else args.binaries[::-1]
            for b in order:
                if cache == "cold":
                    evict(model)
                load, first = one_call(b, model)
                runs[b][0].append(load)
                runs[b][1].append(first)
        print(f"{cache} page cache, {args.rounds} rounds, load average "
              f"{os.getloadavg()[0]:.1f}:")
        for b, (load, first) in runs.items():
            print(f"  {b}: load median {statistics.median(load):6.1f} ms (min {min(load):6.1f}), "
                  f"first token median {statistics.median(first):6.1f} ms (min {min(first):6.1f})")


if __name__ == "__main__":
    main()
