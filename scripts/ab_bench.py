#!/usr/bin/env python3
"""Two glassbox binaries against each other, alternated run by run (A, B, A, B, ...).

    python3 scripts/ab_bench.py A_BIN B_BIN [--rounds 3] [--models Q4_1 F16]
                                [--threads 2 1] [--prompts 128 512] [--n-gen 64]

For every model x threads x prompt length: `glassbox bench -p P -n N -r 1 --json` (one
unreported warm-up run, one measured run) of A, then of B, `rounds` times; prints the medians of
prefill and decode tok/s and the ratios B/A, and the median CPU seconds (user + system) of a
whole call, which on a busy machine moves less than wall-clock speed does (the work of a call
is the same every time; a shared core's drift and other programs' time slices are not).
Only the ratios of one run mean anything on a loaded machine; the load average is printed.
It asserts nothing. Standard library only.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess


def one_call(binary, model, threads, prompt, n_gen):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [binary, "bench", "--model", model, "-t", str(threads), "-p", str(prompt),
         "-n", str(n_gen), "-r", "1", "--json"],
        check=True, capture_output=True, text=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    r = json.loads(out)
    return r["prefill_tok_s"], r["decode_tok_s"], cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--models", nargs="+", default=["Q4_1", "F16"],
                    help="SmolLM2-135M-Instruct.TYPE.gguf in the data dir, or a path")
    ap.add_argument("--threads", nargs="+", type=int, default=[2, 1])
    ap.add_argument("--prompts", nargs="+", type=int, default=[128, 512])
    ap.add_argument("--n-gen", type=int, default=64,
                    help="tokens decoded after the prompt (over a cache of P tokens)")
    args = ap.parse_args()
    data = os.environ.get("GLASSBOX_DATA", os.path.expanduser("~/.cache/glassbox"))
    load = lambda: " ".join(open("/proc/loadavg").read().split()[:3])
    print(f"# ab_bench: A={args.a} B={args.b}, {args.rounds} rounds, "
          f"{os.cpu_count()} cores, load average {load()}")
    print(f"{'model':6} {'t':>2} {'pp':>4} | {'pp A':>7} {'pp B':>7} {'B/A':>5} | "
          f"{'tg A':>6} {'tg B':>6} {'B/A':>5} | {'cpu A s':>7} {'cpu B s':>7} {'B/A':>5}")
    for m in args.models:
        path = m if os.path.sep in m else f"{data}/SmolLM2-135M-Instruct.{m}.gguf"
        for t in args.threads:
            for p in args.prompts:
                runs = {args.a: [], args.b: []}
                for _ in range(args.rounds):
                    for binary in (args.a, args.b):
                        runs[binary].append(one_call(binary, path, t, p, args.n_gen))
                med = [[statistics.median(r[i] for r in runs[x]) for i in range(3)]
                       for x in (args.a, args.b)]
                (pa, ga, ca), (pb, gb, cb) = med
                print(f"{m:6} {t:2} {p:4} | {pa:7.1f} {pb:7.1f} {pb / pa:5.2f} | "
                      f"{ga:6.1f} {gb:6.1f} {gb / ga:5.2f} | {ca:7.2f} {cb:7.2f} {cb / ca:5.2f}",
                      flush=True)
    print(f"# load average after: {load()}")


if __name__ == "__main__":
    main()
