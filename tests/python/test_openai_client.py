"""The official `openai` Python client against `glassbox serve`.

Run by scripts/test-python.sh, which starts the server and sets GLASSBOX_URL and
GLASSBOX_API_KEY. Only `base_url` changes from a program written for the hosted API.
"""
import math
import os
import unittest

import openai
from openai import OpenAI

URL = os.environ["GLASSBOX_URL"]
KEY = os.environ["GLASSBOX_API_KEY"]


def client(key=KEY):
    # max_retries=0: a 503 must surface here, not be retried away
    return OpenAI(base_url=URL + "/v1", api_key=key, max_retries=0, timeout=120)


class OpenAIClient(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = client()
        cls.model = cls.c.models.list().data[0].id

    def chat(self, content, **kw):
        kw.setdefault("max_tokens", 16)
        kw.setdefault("temperature", 0)
        return self.c.chat.completions.create(
            model=self.model, messages=[{"role": "user", "content": content}], **kw)

    def test_models(self):
        models = self.c.models.list().data
        self.assertEqual(len(models), 1)
        self.assertEqual(models[0].object, "model")

    def test_chat_non_streamed(self):
        r = self.chat("What is the capital of France?")
        self.assertEqual(r.object, "chat.completion")
        self.assertEqual(r.model, self.model)
        choice = r.choices[0]
        self.assertEqual(choice.message.role, "assistant")
        self.assertTrue(choice.message.content)
        self.assertIn(choice.finish_reason, ("stop", "length"))
        self.assertGreater(r.usage.prompt_tokens, 0)
        self.assertEqual(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens)
        self.assertIsInstance(r.usage.prompt_tokens_details.cached_tokens, int)

    def test_streamed_equals_non_streamed(self):
        full = self.chat("Name three colours.").choices[0].message.content
        chunks = list(self.chat("Name three colours.", stream=True))
        self.assertEqual(chunks[0].choices[0].delta.role, "assistant")
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        self.assertEqual(text, full)
        reasons = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        self.assertEqual(len(reasons), 1)
        self.assertIsNotNone(chunks[-1].choices[0].finish_reason)

    def test_include_usage(self):
        chunks = list(self.chat("Hi!", stream=True, stream_options={"include_usage": True}))
        last = chunks[-1]
        self.assertEqual(last.choices, [])
        self.assertGreater(last.usage.completion_tokens, 0)
        self.assertTrue(all(c.usage is None for c in chunks[:-1]))

    def test_logprobs(self):
        r = self.chat("Say a word.", logprobs=True, top_logprobs=5)
        content = r.choices[0].logprobs.content
        self.assertGreater(len(content), 0)
        for t in content:
            self.assertEqual(len(t.top_logprobs), 5)
            # greedy: the chosen token is the most likely one
            self.assertEqual(t.token, t.top_logprobs[0].token)
            self.assertAlmostEqual(t.logprob, t.top_logprobs[0].logprob, places=5)
            self.assertLessEqual(sum(math.exp(a.logprob) for a in t.top_logprobs), 1.0 + 1e-4)
            self.assertEqual(bytes(t.bytes).decode("utf-8", "replace"), t.token)

    def test_stop(self):
        full = self.chat("Count from one to ten in words.", max_tokens=32).choices[0].message.content
        words = full.split()
        self.assertGreater(len(words), 3, full)
        stop = words[2]
        r = self.chat("Count from one to ten in words.", max_tokens=32, stop=[stop])
        self.assertEqual(r.choices[0].message.content, full[:full.index(stop)])
        self.assertEqual(r.choices[0].finish_reason, "stop")
        streamed = "".join(c.choices[0].delta.content or "" for c in
                           self.chat("Count from one to ten in words.", max_tokens=32, stop=stop, stream=True) if c.choices)
        self.assertEqual(streamed, full[:full.index(stop)])

    def test_seed(self):
        a = self.chat("Write a short poem.", temperature=1.0, seed=42, max_tokens=24).choices[0].message.content
        b = self.chat("Write a short poem.", temperature=1.0, seed=42, max_tokens=24).choices[0].message.content
        s = "".join(c.choices[0].delta.content or "" for c in
                    self.chat("Write a short poem.", temperature=1.0, seed=42, max_tokens=24, stream=True) if c.choices)
        self.assertEqual(a, b)
        self.assertEqual(a, s)

    def test_multi_turn(self):
        messages = [{"role": "system", "content": "You are terse."}]
        cached = []
        for q in ["What is the capital of France?", "And of Spain?", "Which is further south?"]:
            messages.append({"role": "user", "content": q})
            r = self.c.chat.completions.create(model=self.model, messages=messages, max_tokens=16, temperature=0)
            messages.append({"role": "assistant", "content": r.choices[0].message.content})
            cached.append(r.usage.prompt_tokens_details.cached_tokens)
        self.assertGreater(cached[1], 0, cached)
        self.assertGreater(cached[2], cached[1], cached)

    def test_completions(self):
        r = self.c.completions.create(model=self.model, prompt="The capital of France is", max_tokens=8, temperature=0)
        self.assertEqual(r.object, "text_completion")
        self.assertTrue(r.choices[0].text)
        s = "".join(c.choices[0].text for c in self.c.completions.create(
            model=self.model, prompt="The capital of France is", max_tokens=8, temperature=0, stream=True) if c.choices)
        self.assertEqual(s, r.choices[0].text)

    def test_errors(self):
        with self.assertRaises(openai.AuthenticationError):
            client("wrong-key").models.list()
        with self.assertRaises(openai.NotFoundError) as e:
            self.c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        self.assertIn(self.model, str(e.exception))
        with self.assertRaises(openai.BadRequestError) as e:
            self.chat("hi", temperature=5)
        self.assertIn("temperature", str(e.exception))
        with self.assertRaises(openai.BadRequestError) as e:
            self.chat("hi", n=2)
        with self.assertRaises(openai.BadRequestError) as e:
            self.chat("word " * 5000)
        self.assertIn("context", str(e.exception))


if __name__ == "__main__":
    unittest.main()
