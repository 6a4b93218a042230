//! Chunking: a worked example, then properties on random documents (every chunk within the
//! budget, nothing lost, nothing reordered, overlap bounded, line numbers right), and the real
//! book through the real tokenizer.
mod encoder_common;

use glassbox::rag::chunk::{chunk_text, ChunkConfig};
use proptest::prelude::*;

/// A counter a reader can check by hand: one token per whitespace-separated word.
fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

#[test]
fn worked_example() {
    let doc =
        "one two three.\n\nfour five. six seven eight. nine ten.\n\n```\ncode a\n\ncode b\n```";
    let cfg = ChunkConfig {
        max_tokens: 5,
        overlap_tokens: 2,
    };
    let got: Vec<(String, usize, usize)> = chunk_text(doc, cfg, words)
        .into_iter()
        .map(|c| (c.text, c.first_line, c.last_line))
        .collect();
    // paragraph 1 (3 words) fits; paragraph 2 (7 words) is cut into sentences; "four five."
    // joins paragraph 1 (5 words). The next chunk repeats "four five." (2 ≤ overlap), adds
    // "six seven eight." (5); "nine ten." cannot follow, and "six seven eight." (3) is too big
    // to repeat. The fenced block (a blank line inside) is one paragraph of 6 words, cut at its
    // lines, which stay lines.
    let want = [
        ("one two three.\n\nfour five.", 1, 3),
        ("four five. six seven eight.", 3, 3),
        ("nine ten.\n\n```\ncode a", 3, 6),
        ("code a\ncode b\n```", 6, 9),
    ];
    let want: Vec<(String, usize, usize)> = want
        .iter()
        .map(|(t, a, b)| (t.to_string(), *a, *b))
        .collect();
    assert_eq!(got, want);
}

/// Random documents: paragraphs of sentences of words, some long words, some code fences.
fn document() -> impl Strategy<Value = String> {
    let word = prop_oneof![4 => "[a-z]{1,8}", 1 => "[A-Za-z]{9,30}", 1 => "[0-9]{1,4}[,.]?"];
    let sentence = prop::collection::vec(word, 1..25).prop_map(|w| format!("{}.", w.join(" ")));
    let paragraph = prop_oneof![
        6 => prop::collection::vec(sentence, 1..8).prop_map(|s| s.join(" ")),
        1 => prop::collection::vec("[a-z ]{0,30}", 1..5).prop_map(|l| format!("```\n{}\n```", l.join("\n"))),
    ];
    prop::collection::vec(paragraph, 0..12).prop_map(|p| p.join("\n\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn chunks_respect_the_budget_and_lose_nothing(doc in document(), max in 8usize..60, overlap in 0usize..8) {
        let cfg = ChunkConfig { max_tokens: max, overlap_tokens: overlap };
        let chunks = chunk_text(&doc, cfg, words);
        let lines: Vec<&str> = doc.lines().collect();
        for c in &chunks {
            // within the budget, and the count is the counter's
            prop_assert!(c.n_tokens <= max, "{} tokens > {max}: {:?}", c.n_tokens, c.text);
            prop_assert_eq!(c.n_tokens, words(&c.text));
            // the lines it cites hold its first and last word
            let cited = lines[c.first_line - 1..c.last_line].join("\n");
            let first = c.text.split_whitespace().next().unwrap();
            let last = c.text.split_whitespace().last().unwrap();
            prop_assert!(cited.contains(first) && cited.contains(last), "lines {}-{} vs {:?}", c.first_line, c.last_line, c.text);
        }
        // nothing lost or reordered: the words of the chunks, each without the words it
        // repeats from the chunk before, are the document's words
        let mut rebuilt: Vec<&str> = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            prop_assert!(c.overlap_tokens <= overlap && (i > 0 || c.overlap_tokens == 0));
            rebuilt.extend(c.text.split_whitespace().skip(c.overlap_tokens));
        }
        prop_assert_eq!(rebuilt, doc.split_whitespace().collect::<Vec<_>>());
    }
}

/// The book through MiniLM's tokenizer: every chunk fits the encoder (128 + [CLS] + [SEP] ≤ 256).
#[test]
fn the_book_fits_the_encoder() {
    let m = encoder_common::minilm();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("book/src") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            let text = std::fs::read_to_string(&path).expect("UTF-8 chapter");
            for c in chunk_text(&text, ChunkConfig::default(), |t| m.tokenizer.count(t)) {
                assert!(
                    c.n_tokens <= 128,
                    "{}: a chunk of {} tokens",
                    path.display(),
                    c.n_tokens
                );
                assert_eq!(c.n_tokens, m.tokenizer.count(&c.text), "counts add up");
                n += 1;
            }
        }
    }
    assert!(n > 100, "{n} chunks");
}
