#!/usr/bin/env python3
"""Token ids of llama.cpp's tokenizer on the community gemma-3-270m Q4_K_M GGUF.

Writes tests/fixtures/gemma/tokenizer.json: for a varied set of strings (spaces and newlines,
code, digits, CJK, emoji, bytes no token covers, HTML, chat markup, and seeded random mixes of
all of these), the ids llama.cpp gives with special-token text as ordinary text
(`special=False`) and recognised (`special=True`), neither adding BOS, plus the ids with the
file's add-BOS policy applied (`add_bos=True, special=True`).

Run with the llama-cpp-python venv (version pinned below, printed into the fixture):

    ~/.cache/glassbox-peers/venv-llamacpp/bin/python scripts/fixtures_gemma_tokenizer.py \
        ~/.cache/glassbox/gemma-3-270m-q4_k_m.gguf

Pinned: llama-cpp-python==0.3.36 (built from source; it vendors llama.cpp's tokenizer).
"""
import json
import os
import random
import sys

import llama_cpp

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "gemma")

FIXED = [
    "",
    " ",
    "Hello world",
    "The capital of France is",
    " leading space, trailing space ",
    "two  spaces, three   spaces, forty" + " " * 40 + "end",
    "tabs\tand\t\ttabs\t\t\t\tend",
    "line\nbreaks\n\nand\n\n\n\nruns\r\nwindows\r\n",
    "\n\nstarts with newlines",
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n",
    "fn main() { let v: Vec<u32> = (0..10).map(|x| x * x).collect(); println!(\"{v:?}\"); }",
    "<table><tr><td>cell</td></tr></table> <b>bold</b> <s>strike</s> </s>",
    "12345 + 67890 = 80235; 3.14159; 1e-6; 0x7fff_ffff; 1,000,000",
    "中国的首都是北京，日本的首都是东京。",
    "日本語のテキストとカタカナ、ひらがな。한국어 문장도 있습니다.",
    "भारत की राजधानी नई दिल्ली है।",
    "Привет, мир! Ελληνικά. العربية. עברית.",
    "emoji 😀🦀👍🏽 and a family 👨‍👩‍👧‍👦 and flags 🇫🇷🇯🇵",
    "unknown bytes \x00\x01\x07\x1b[0m and private use \ue000\U000f0000\U0010fffd",
    "combining: e\u0301 a\u0308 n\u0303; zero width\u200bjoiner\u200d; bom \ufeff",
    "the letter ▁ itself, and <0x41> as text, and [multimodal]",
    "<start_of_turn>user\nWhat is the capital of France?<end_of_turn>\n<start_of_turn>model\n",
    "<bos>text after a bos",
    "<eos><pad><unk><mask><unused0><unused12>",
    "<start_of_image><end_of_image>",
    "a" * 300,
    "The history of the printing press begins long before Gutenberg. Carved wooden blocks were "
    "used to print cloth and paper in East Asia for centuries, and movable type made of baked clay "
    "appeared in China in the eleventh century.",
]

# seeded random mixes: pieces drawn from pools of every kind above
POOLS = [
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    list("0123456789"),
    [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n "],
    list(".,;:!?'\"()[]{}<>/\\|-_=+*&^%$#@~`"),
    list("中国日本語한국어भारतПриветΕλληνικάالعربية"),
    ["😀", "🦀", "👍🏽", "🇫🇷", "\u200d", "\u0301", "\ue000", "\x00", "\x7f", "\U0010fffd"],
    ["the", " the", "ing", " of", "tion", "▁", "<b>", "</b>", "<start_of_turn>", "<eos>", "<0x41>"],
]


def random_strings(n, seed=15):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        k = rng.randint(1, 40)
        out.append("".join(rng.choice(rng.choice(POOLS)) for _ in range(k)))
    return out


def main():
    path = sys.argv[1]
    m = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
    cases = []
    for text in FIXED + random_strings(300):
        b = text.encode("utf-8")
        cases.append({
            "text": text,
            "ordinary": m.tokenize(b, add_bos=False, special=False),
            "special": m.tokenize(b, add_bos=False, special=True),
            "prompt": m.tokenize(b, add_bos=True, special=True),
        })
    os.makedirs(OUT, exist_ok=True)
    out = {
        "model": os.path.basename(path),
        "reference": "llama-cpp-python %s (llama.cpp's tokenizer), Llama(vocab_only=True).tokenize"
        % llama_cpp.__version__,
        "cases": cases,
    }
    # one case per line: small, and a diff shows which string changed
    with open(os.path.join(OUT, "tokenizer.json"), "w", encoding="utf-8") as f:
        head = {k: v for k, v in out.items() if k != "cases"}
        f.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "cases": [\n')
        f.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in cases))
        f.write("\n]}\n")
    print("wrote %d cases" % len(cases))


if __name__ == "__main__":
    main()
