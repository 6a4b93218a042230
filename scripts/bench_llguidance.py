"""llguidance's mask time on the same schema, vocabulary and token trace as `benches/constrain.rs`.

    /work/venv/bin/pip install llguidance==1.9.1      # pinned; a wheel from PyPI
    /work/venv/bin/python scripts/bench_llguidance.py [MODEL.gguf]

SmolLM2's tokenizer is rebuilt from the GGUF (as in fixtures_model.py), wrapped for llguidance,
and the invoice instance of the bench is tokenized with it. For each token, the mask is computed
(`compute_bitmask`) and the token consumed; the best of 5 passes is printed per token, with the
number of allowed ids per step (to compare with glassbox's counts: the two engines differ on
whitespace rules, so the counts are close, not equal). Nothing here is a test: it only prints.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from fixtures_model import original_tokenizer  # noqa: E402

import llguidance  # noqa: E402
import llguidance.hf  # noqa: E402
import numpy as np  # noqa: E402
from transformers import PreTrainedTokenizerFast  # noqa: E402

SCHEMA = {
    "$defs": {"Currency": {"enum": ["USD", "EUR", "GBP"], "title": "Currency", "type": "string"}},
    "properties": {
        "company": {"title": "Company", "type": "string", "maxLength": 40},
        "amount": {"title": "Amount", "type": "number"},
        "currency": {"$ref": "#/$defs/Currency"},
        "date": {"format": "date", "title": "Date", "type": "string"},
    },
    "required": ["company", "amount", "currency", "date"],
    "title": "Invoice",
    "type": "object",
}
INSTANCE = '{"company": "ACME Rocket-Powered Products", "amount": 120.5, "currency": "EUR", "date": "2024-03-03"}'


def main():
    gguf_path = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser(
        "~/.cache/glassbox/SmolLM2-135M-Instruct.Q4_1.gguf")
    tok, _ = original_tokenizer(gguf_path)
    hf = PreTrainedTokenizerFast(tokenizer_object=tok)
    eos = tok.token_to_id("<|im_end|>")
    ll_tok = llguidance.hf.from_tokenizer(hf, n_vocab=tok.get_vocab_size(), eos_token=eos)
    grammar = llguidance.LLMatcher.grammar_from_json_schema(json.dumps(SCHEMA))
    ids = tok.encode(INSTANCE).ids
    words = (tok.get_vocab_size() + 31) // 32
    best, counts = None, []
    for _ in range(5):
        m = llguidance.LLMatcher(ll_tok, grammar)
        assert not m.is_error(), m.get_error()
        mask = np.zeros(words, dtype=np.int32)
        t0 = time.perf_counter()
        counts = []
        for i in ids + [None]:
            m.unsafe_compute_mask_ptr(mask.ctypes.data, mask.nbytes)
            counts.append(int(np.unpackbits(mask.view(np.uint8)).sum()))
            if i is not None:
                assert m.consume_token(i), m.get_error()
        dt = (time.perf_counter() - t0) / (len(ids) + 1)
        best = dt if best is None else min(best, dt)
    print(f"llguidance {llguidance.__version__}: {best * 1e6:.1f} µs per mask over {len(ids) + 1} masks "
          f"(best of 5; includes consume_token and the popcount)")
    print("allowed ids per step:", counts)


if __name__ == "__main__":
    main()
