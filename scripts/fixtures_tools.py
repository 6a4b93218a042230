"""Golden prompts for a template that renders tools itself: Llama 3.1's, with `tools=`.

The template text (tests/fixtures/tools/llama31_chat_template.jinja) is Meta's
`chat_template` from meta-llama/Llama-3.1-8B-Instruct's tokenizer_config.json, stored in the
repository; nothing is downloaded. The prompt is rendered by transformers' own public path,
`PreTrainedTokenizerFast.apply_chat_template(messages, tools=..., tokenize=False)`, on a
tokenizer object built here from the template alone (a word-level vocabulary of Llama 3's
special tokens: rendering never looks at the vocabulary, only at the template and the
bos/eos texts), so the golden strings are exactly what a Llama 3.1 tokenizer renders.

Run: /work/venv/bin/python scripts/fixtures_tools.py   (transformers==5.24.0, tokenizers==0.23.3)
Writes tests/fixtures/tools/llama31_tools.json; checked by tests/tools_native.rs.
"""

import json
import pathlib

import tokenizers
import transformers
from tokenizers.models import WordLevel
from transformers import PreTrainedTokenizerFast

assert transformers.__version__ == "5.24.0", transformers.__version__
assert tokenizers.__version__ == "0.23.3", tokenizers.__version__

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "tools"
TEMPLATE = (OUT / "llama31_chat_template.jinja").read_text()

BOS, EOS = "<|begin_of_text|>", "<|eot_id|>"
specials = [BOS, "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", EOS, "<|eom_id|>", "<|python_tag|>"]
vocab = {t: i for i, t in enumerate(specials + ["<unk>"])}
tok = PreTrainedTokenizerFast(
    tokenizer_object=tokenizers.Tokenizer(WordLevel(vocab, unk_token="<unk>")),
    bos_token=BOS,
    eos_token=EOS,
    chat_template=TEMPLATE,
)

# OpenAI's tools list, as a client sends it (and as glassbox hands it to the template).
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "What's the weather in a city, in °C or °F",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "e.g. Zürich"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["city", "unit"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "add",
            "description": "Add two numbers <a> & <b>",
            "parameters": {
                "type": "object",
                "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                "required": ["a", "b"],
            },
        },
    },
]

SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
USER = {"role": "user", "content": "  What is the weather in Paris, in celsius?  "}
CALL = {
    "role": "assistant",
    "content": "",
    "tool_calls": [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}},
        }
    ],
}
RESULT = {"role": "tool", "tool_call_id": "call_1", "content": '{"temperature": 21, "sky": "sunny"}'}

CASES = {
    "first_turn": [SYSTEM, USER],
    "no_system": [USER],
    "tool_loop": [SYSTEM, USER, CALL, RESULT],
}

out = {"template": "llama31_chat_template.jinja", "bos_token": BOS, "eos_token": EOS, "tools": TOOLS, "cases": []}
for name, messages in CASES.items():
    prompt = tok.apply_chat_template(messages, tools=TOOLS, tokenize=False, add_generation_prompt=True)
    out["cases"].append({"name": name, "messages": messages, "prompt": prompt})
# and without tools: the template's plain path (what glassbox renders under tool_choice none)
out["cases"].append(
    {
        "name": "no_tools",
        "no_tools": True,
        "messages": [SYSTEM, USER, CALL, RESULT],
        "prompt": tok.apply_chat_template([SYSTEM, USER, CALL, RESULT], tokenize=False, add_generation_prompt=True),
    }
)
(OUT / "llama31_tools.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
print(f"wrote {OUT / 'llama31_tools.json'}: {len(out['cases'])} cases")
print(out["cases"][2]["prompt"])
