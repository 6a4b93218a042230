"""Load an OpenAI-compatible server with N concurrent streaming chat clients and report
requests/s, time to first token (p50/p99) and generated tokens/s. Standard library only.

    python3 benches/serve_load.py http://127.0.0.1:8080 CLIENTS REQUESTS_PER_CLIENT [MAX_TOKENS]

Every request is streamed, temperature 0, one of eight short questions. Time to first token is
from sending the request to the first chunk with text. Tokens are `usage.completion_tokens`
when the server sends a usage chunk, else the number of content chunks. A request that fails
(a 503 from a full queue, an error event) is counted apart, and so is an empty answer. Measures, asserts nothing.
"""
import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse

QUESTIONS = ["What is the capital of France?", "Name three colours.", "What is 12 times 12?",
             "Say hello in Spanish.", "What is a prime number?", "Name a planet.",
             "Why is the sky blue?", "What does a CPU do?"]


def one(url, q, max_tokens):
    u = urllib.parse.urlparse(url)
    body = json.dumps({"messages": [{"role": "user", "content": q}], "temperature": 0,
                       "max_tokens": max_tokens, "stream": True,
                       "stream_options": {"include_usage": True}})
    t0 = time.perf_counter()
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    c.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    if r.status != 200:
        r.read()
        return None
    ttft, chunks, usage = None, 0, None
    for line in r:
        line = line.strip()
        if not line.startswith(b"data: ") or line == b"data: [DONE]":
            continue
        v = json.loads(line[6:])
        if "error" in v:
            return None
        if v.get("usage"):
            usage = v["usage"]["completion_tokens"]
        for ch in v.get("choices", []):
            if ch.get("delta", {}).get("content"):
                chunks += 1
                if ttft is None:
                    ttft = time.perf_counter() - t0
    c.close()
    return ttft, usage if usage is not None else chunks


def run(url, clients, per_client, max_tokens):
    results, failed, lock = [], [0], threading.Lock()

    def client(k):
        for i in range(per_client):
            r = one(url, QUESTIONS[(k + i) % len(QUESTIONS)], max_tokens)
            with lock:
                if r is None:
                    failed[0] += 1
                else:
                    results.append(r)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ttfts = sorted(r[0] for r in results if r[0] is not None)
    p = lambda q: ttfts[min(len(ttfts) - 1, int(q * len(ttfts)))] if ttfts else float("nan")
    tokens = sum(r[1] for r in results)
    return {"clients": clients, "requests": len(results), "failed": failed[0],
            "empty": sum(r[0] is None for r in results), "wall_s": wall,
            "req_s": len(results) / wall, "ttft_p50_ms": 1e3 * statistics.median(ttfts) if ttfts else float("nan"),
            "ttft_p99_ms": 1e3 * p(0.99), "tok_s": tokens / wall}


if __name__ == "__main__":
    url, clients, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    max_tokens = int(sys.argv[4]) if len(sys.argv) > 4 else 32
    print(json.dumps(run(url, clients, per, max_tokens)))
