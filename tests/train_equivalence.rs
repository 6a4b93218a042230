//! The fast trainer equals the naive one, and streaming in small chunks equals counting the
//! whole text at once.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use glassbox::tokenizer::corpus::{count_files, count_text, safe_cut};
use glassbox::tokenizer::train::merges_from_counts;
use glassbox::tokenizer::train::train_text;
use glassbox::tokenizer::train_naive::{chunk_ids, naive_merges, train_naive, TrainConfig};
use glassbox::tokenizer::Pretokenizer;
use proptest::prelude::*;

fn cfg(vocab_size: usize, pattern: Pretokenizer) -> TrainConfig {
    TrainConfig {
        vocab_size,
        pattern,
        special_tokens: vec![],
        show_progress: false,
    }
}

/// A text of random words over a tiny alphabet, so that many pairs tie.
fn small_alphabet_text() -> impl Strategy<Value = String> {
    let word = proptest::collection::vec(prop::sample::select(vec!['a', 'b', 'c']), 1..8)
        .prop_map(|cs| cs.into_iter().collect::<String>());
    let sep = prop::sample::select(vec![" ", " ", "  ", "\n", ""]);
    proptest::collection::vec((word, sep), 1..40)
        .prop_map(|ws| ws.into_iter().map(|(w, s)| w + s).collect())
}

/// Text over an alphabet that exercises every pre-tokenizer rule near a chunk cut.
fn tricky_text() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "a",
        "b",
        "z",
        "A",
        "Q",
        " ",
        " ",
        "  ",
        "\n",
        "\n\n",
        "\r\n",
        "\t",
        ".",
        ",",
        "'s",
        "'",
        "/",
        "7",
        "42",
        "1234",
        "é",
        "中文",
        "😀",
        "\u{a0}",
        "\u{300}",
        "x y",
        "end.\nNext",
        "q\nr",
    ]);
    proptest::collection::vec(piece, 0..120).prop_map(|ps| ps.concat())
}

fn temp_file(text: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "glassbox-train-eq-{}-{}.txt",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, text).expect("temp file");
    path
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Same merges, in the same order, from both trainers (ties included).
    #[test]
    fn fast_merges_equal_naive_merges(text in small_alphabet_text(), n in 0usize..60, p in 0usize..5) {
        let pattern = Pretokenizer::ALL[p];
        let naive = naive_merges(chunk_ids(&text, &cfg(256, pattern)), n);
        let counts = count_text(&text, pattern);
        let fast = merges_from_counts(counts.iter().map(|(k, &v)| (k.as_slice(), v)), n, false);
        prop_assert_eq!(naive, fast);
    }

    /// Cutting a file into chunks at `safe_cut` places never changes a pre-token.
    #[test]
    fn streamed_counts_equal_whole_text_counts(text in tricky_text(), chunk in 16usize..200, p in 0usize..5) {
        let pattern = Pretokenizer::ALL[p];
        let path = temp_file(&text);
        let streamed = count_files(std::slice::from_ref(&path), pattern, chunk, false);
        let _ = std::fs::remove_file(&path);
        let (counts, n, bytes) = streamed.expect("counts");
        prop_assert_eq!(bytes, text.len() as u64);
        prop_assert_eq!(n, pattern.split_vec(&text).len() as u64);
        prop_assert_eq!(counts, count_text(&text, pattern));
    }
}

#[test]
fn whole_pipeline_fast_equals_naive_on_prose() {
    let text = "The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs!\n\
                Numbers: 1234567 and 42. Ünïcödé wörds, 中文字符, and emoji 😀😀.\n";
    let text = text.repeat(3);
    for pattern in Pretokenizer::ALL {
        let c = cfg(256 + 120, pattern);
        let a = train_naive(&text, &c).expect("naive");
        let b = train_text(&text, &c).expect("fast");
        assert_eq!(a.vocab_size(), b.vocab_size());
        for id in 0..a.vocab_size() as u32 {
            assert_eq!(
                a.token_bytes(id),
                b.token_bytes(id),
                "{pattern:?} token {id}"
            );
        }
    }
}

#[test]
fn safe_cut_examples() {
    // cut before the space in "x y"
    assert_eq!(safe_cut(b"AB. cd ef", 0), Some(6));
    // cut after a lone newline between printable characters
    assert_eq!(safe_cut(b"A.\nBc", 0), Some(3));
    // not after a run of newlines or \r\n, nor before a space after a capital
    assert_eq!(safe_cut(b"A.\n\nB\r\nC D", 0), None);
}
