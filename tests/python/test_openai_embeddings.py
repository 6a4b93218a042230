"""The official `openai` Python client's `client.embeddings.create` against `glassbox serve`,
compared with sentence-transformers' vectors (tests/fixtures/minilm/, written by
scripts/fixtures_minilm.py with pinned torch / sentence-transformers).

Run by scripts/test-python.sh, which starts the server and sets GLASSBOX_URL and
GLASSBOX_API_KEY. The client venv has no numpy: the golden .npy is read with the standard
library, and the client decodes base64 with `array` (its path without numpy).

Tolerance: cosine >= 0.99999 and max |delta| <= 1e-4 per component, as the Rust tests (f32 sums
in another order than PyTorch's).
"""
import ast
import array
import json
import math
import os
import pathlib
import struct
import unittest

import openai
from openai import OpenAI

URL = os.environ["GLASSBOX_URL"]
KEY = os.environ["GLASSBOX_API_KEY"]
FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "minilm"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def read_npy_f32(path):
    """A little-endian float32 C-order .npy file -> (shape, flat list)."""
    raw = path.read_bytes()
    assert raw[:6] == b"\x93NUMPY", "not a .npy file"
    # version 1.x: a 2-byte header length; 2.x and 3.x: 4 bytes
    size, fmt = (2, "<H") if raw[6] == 1 else (4, "<I")
    (header_len,) = struct.unpack(fmt, raw[8:8 + size])
    start = 8 + size + header_len
    header = ast.literal_eval(raw[8 + size:start].decode("latin1"))
    assert header["descr"] == "<f4" and not header["fortran_order"], header
    data = array.array("f", raw[start:])
    return header["shape"], data.tolist()


def golden():
    sentences = json.loads((FIXTURES / "sentences.json").read_text())["sentences"]
    (n, d), flat = read_npy_f32(FIXTURES / "embeddings.npy")
    assert n == len(sentences)
    return [(s["text"], s["ids"], flat[i * d:(i + 1) * d]) for i, s in enumerate(sentences)]


def assert_close(test, got, want, what):
    test.assertEqual(len(got), len(want), what)
    dot = sum(a * b for a, b in zip(got, want))
    cos = dot / math.sqrt(sum(a * a for a in got) * sum(b * b for b in want))
    worst = max(abs(a - b) for a, b in zip(got, want))
    test.assertTrue(cos >= 0.99999 and worst <= 1e-4, f"{what}: cosine {cos}, max |delta| {worst}")


class Embeddings(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # max_retries=0: an error must surface here, not be retried away
        cls.c = OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0, timeout=300)
        cases = golden()
        cls.short = [c for c in cases if len(c[1]) < 256]
        cls.long = [c for c in cases if len(c[1]) >= 256]

    def test_texts_default_encoding(self):
        # no encoding_format: the client asks for base64 and decodes it itself
        texts = [t for t, _, _ in self.short]
        r = self.c.embeddings.create(model=MODEL, input=texts)
        self.assertEqual(r.object, "list")
        self.assertEqual(r.model, "all-MiniLM-L6-v2")
        self.assertEqual([d.index for d in r.data], list(range(len(texts))))
        for d, (text, _, want) in zip(r.data, self.short):
            self.assertEqual(d.object, "embedding")
            assert_close(self, d.embedding, want, repr(text))
        self.assertEqual(r.usage.prompt_tokens, sum(len(ids) for _, ids, _ in self.short))
        self.assertEqual(r.usage.total_tokens, r.usage.prompt_tokens)

    def test_float_and_one_string(self):
        text, ids, want = self.short[0]
        r = self.c.embeddings.create(model=MODEL, input=text, encoding_format="float")
        self.assertEqual(len(r.data), 1)
        assert_close(self, r.data[0].embedding, want, repr(text))
        self.assertEqual(r.usage.prompt_tokens, len(ids))

    def test_token_arrays(self):
        # the encoder's word pieces without [CLS]/[SEP], as tokenizers gave them
        picks = self.short[:8]
        arrays = [ids[1:-1] for _, ids, _ in picks]
        r = self.c.embeddings.create(model=MODEL, input=arrays, encoding_format="float")
        for d, (text, _, want) in zip(r.data, picks):
            assert_close(self, d.embedding, want, "ids of " + repr(text))
        one = self.c.embeddings.create(model=MODEL, input=arrays[2])
        assert_close(self, one.data[0].embedding, picks[2][2], "one token array")

    def test_too_long_is_refused_unless_truncation_is_asked(self):
        (text, _, want), = self.long
        with self.assertRaises(openai.BadRequestError) as e:
            self.c.embeddings.create(model=MODEL, input=[text])
        self.assertEqual(e.exception.body["param"], "input[0]")
        r = self.c.embeddings.create(model=MODEL, input=[text], extra_body={"truncate": True})
        self.assertEqual(r.usage.prompt_tokens, 256)
        assert_close(self, r.data[0].embedding, want, "truncated paragraph")

    def test_dimensions(self):
        r = self.c.embeddings.create(model=MODEL, input="hi", dimensions=384)
        self.assertEqual(len(r.data[0].embedding), 384)
        with self.assertRaises(openai.BadRequestError) as e:
            self.c.embeddings.create(model=MODEL, input="hi", dimensions=128)
        self.assertEqual(e.exception.body["param"], "dimensions")

    def test_unknown_model(self):
        with self.assertRaises(openai.NotFoundError):
            self.c.embeddings.create(model="text-embedding-3-small", input="hi")


if __name__ == "__main__":
    unittest.main()
