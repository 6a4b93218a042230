"""Structured output and tool calls through the official `openai` client (issue 12).

Run by scripts/test-python.sh against `glassbox serve` with SmolLM2-135M-Instruct. Greedy
(temperature 0) and short answers: each request takes a few seconds on 2 cores.
"""
import datetime
import enum
import json
import os
import unittest

import openai
import pydantic
from openai import OpenAI

URL = os.environ["GLASSBOX_URL"]
KEY = os.environ["GLASSBOX_API_KEY"]


class Invoice(pydantic.BaseModel):
    company: str = pydantic.Field(max_length=40)
    amount: float
    currency: str = pydantic.Field(max_length=3)
    date: datetime.date


class Unit(str, enum.Enum):
    celsius = "celsius"
    fahrenheit = "fahrenheit"


class GetWeather(pydantic.BaseModel):
    """Get the current weather in a city."""
    city: str = pydantic.Field(max_length=40)
    unit: Unit


WEATHER = openai.pydantic_function_tool(GetWeather, name="get_weather")


def get_weather(city, unit):
    """The function the model asks for (a fixed table: the test checks the loop, not the sky)."""
    celsius = {"paris": 18, "oslo": -3}.get(city.lower().split(",")[0].strip(), 10)
    return {"city": city, "temperature": celsius if unit == "celsius" else celsius * 9 / 5 + 32,
            "unit": unit, "sky": "sunny"}


class Tools(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0, timeout=120)
        cls.model = cls.c.models.list().data[0].id

    def ask(self, content, **kw):
        kw.setdefault("max_tokens", 64)
        kw.setdefault("temperature", 0)
        return self.c.chat.completions.create(
            model=self.model, messages=[{"role": "user", "content": content}], **kw)

    def test_parse_an_invoice(self):
        r = self.c.chat.completions.parse(
            model=self.model,
            messages=[{"role": "system", "content": "Extract the invoice from the text."},
                      {"role": "user", "content":
                       "ACME Corp sent us an invoice for 1250.00 EUR, dated 2024-03-15."}],
            response_format=Invoice, temperature=0, max_tokens=80)
        inv = r.choices[0].message.parsed
        print("parsed:", inv)
        self.assertIsInstance(inv, Invoice)
        self.assertEqual(r.choices[0].finish_reason, "stop")
        # the mask guarantees the shape; the values are the model's reading of the sentence
        self.assertIsInstance(inv.date, datetime.date)
        self.assertIn("ACME", inv.company)

    def test_json_object(self):
        r = self.ask("Give a JSON object with a key 'name' for a cat.", max_tokens=48,
                     response_format={"type": "json_object"})
        text = r.choices[0].message.content
        self.assertTrue(text.lstrip().startswith("{"), text)
        if r.choices[0].finish_reason == "stop":  # else cut by max_tokens, inside the object
            self.assertIsInstance(json.loads(text), dict)

    def test_tool_call_with_an_enum_parameter(self):
        r = self.c.chat.completions.parse(
            model=self.model,
            messages=[{"role": "user", "content": "What is the weather in Paris, in celsius?"}],
            tools=[WEATHER], tool_choice="required", temperature=0, max_tokens=48)
        choice = r.choices[0]
        self.assertEqual(choice.finish_reason, "tool_calls")
        self.assertIsNone(choice.message.content)
        (call,) = choice.message.tool_calls
        self.assertTrue(call.id.startswith("call_"))
        self.assertEqual(call.type, "function")
        self.assertEqual(call.function.name, "get_weather")
        args = call.function.parsed_arguments  # the client validated them against GetWeather
        print("call:", call.function.name, call.function.arguments)
        self.assertIsInstance(args, GetWeather)
        self.assertIn(args.unit, list(Unit))
        self.assertIn("Paris", args.city)

    def test_tool_loop(self):
        messages = [{"role": "user", "content": "What is the weather in Oslo in celsius?"}]
        tools = [WEATHER]
        # 1. the model asks for the function ("required": under "auto" this 135M model
        #    answers in words, inventing a forecast)
        r = self.c.chat.completions.create(model=self.model, messages=messages, tools=tools,
                                           tool_choice="required", temperature=0, max_tokens=48)
        msg = r.choices[0].message
        self.assertEqual(r.choices[0].finish_reason, "tool_calls", msg)
        (call,) = msg.tool_calls
        # 2. run it here, send the result back
        result = get_weather(**json.loads(call.function.arguments))
        messages.append(msg.model_dump(exclude_none=True))
        messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)})
        # 3. the final answer, in words
        r = self.c.chat.completions.create(model=self.model, messages=messages, tools=tools,
                                           tool_choice="none", temperature=0, max_tokens=48)
        final = r.choices[0].message
        print("call:", call.function.arguments, "→", result, "→", repr(final.content))
        self.assertIsNone(final.tool_calls)
        self.assertTrue(final.content)
        # the call and its result were in the prompt: the answer uses the result
        self.assertIn("-3", final.content)
        # and the first turn was reused from the cache
        self.assertGreater(r.usage.prompt_tokens_details.cached_tokens, 0)

    def test_streamed_tool_calls_equal_non_streamed(self):
        kw = dict(tools=[WEATHER], tool_choice="required", max_tokens=48)
        whole = self.ask("Weather in Paris, in fahrenheit?", **kw).choices[0].message.tool_calls
        calls, reasons = {}, []
        for chunk in self.ask("Weather in Paris, in fahrenheit?", stream=True, **kw):
            if not chunk.choices:
                continue
            c = chunk.choices[0]
            if c.finish_reason:
                reasons.append(c.finish_reason)
            for d in c.delta.tool_calls or []:
                if d.id:  # id and name come first, alone
                    self.assertNotIn(d.index, calls)
                    calls[d.index] = {"id": d.id, "name": d.function.name, "arguments": ""}
                calls[d.index]["arguments"] += d.function.arguments or ""
        self.assertEqual(reasons, ["tool_calls"])
        self.assertEqual([(c["name"], c["arguments"]) for c in calls.values()],
                         [(c.function.name, c.function.arguments) for c in whole])
        self.assertTrue(all(c["id"].startswith("call_") for c in calls.values()))

    def test_bad_input_is_a_bad_request(self):
        def schema(s):
            return {"type": "json_schema", "json_schema": {"name": "x", "schema": s}}
        cases = [
            (dict(response_format=schema({"type": "object", "properties":
                                          {"a": {"type": "string", "pattern": "a+"}}})),
             "pattern"),
            (dict(response_format=schema({"type": "object", "properties": {"a": {"enum": []}}})),
             "enum"),
            (dict(response_format=schema({"$ref": "#/$defs/Nope"})), "$ref"),
            (dict(tools=[WEATHER], tool_choice={"type": "function", "function": {"name": "nope"}}),
             "nope"),
        ]
        for kw, word in cases:
            with self.assertRaises(openai.BadRequestError) as e:
                self.ask("hi", **kw)
            self.assertIn(word, str(e.exception))


if __name__ == "__main__":
    unittest.main()
