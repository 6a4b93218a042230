//! Chapter 17 exercises: a second family, on the community gemma-3-270m Q4_K_M file (fetched on
//! first use, ~253 MB, or by `glassbox pull --all`; set GLASSBOX_DATA to use another data dir).
//!
//! The exercises ship open: each function in `answer` below is a `todo!()` for you to replace.
//! A plain `cargo test` skips them (they are `#[ignore]`d, so the suite stays green); run yours
//! with
//!
//! ```text
//! cargo test --release --test ch17_exercises -- --ignored
//! ```
//!
//! The reference solutions are in `tests/solutions/ch17.rs` (and the book's appendix);
//! `cargo test --test ch17_exercises --features solutions` checks them.
//!
//! 1. **Which layers are global?** Gemma 3 270M has 18 layers; every 6th (counted from 1) sees
//!    the whole context, the others the last 512 positions. List the global ones, counted
//!    from 0. The test checks the file's family and the transformers config of the fixtures.
//! 2. **Predict the bytes.** A glassbox session for 32,768 positions (prefill chunks of 512):
//!    how many bytes of f32 K and V does it allocate, and how many would every layer need with
//!    full attention? (1 KV head of width 256; a local layer keeps a ring of
//!    `window − 1 + chunk` rows.) The test asks a real session.
//! 3. **Make it pass.** Write `spm_pieces`: SentencePiece BPE by score, the slow way. Spaces
//!    become `▁`, the text starts as one symbol per character, and the adjacent pair whose
//!    concatenation is the highest-scored token merges, again and again (the leftmost pair on
//!    a tie). The test turns your pieces into ids and compares them with the tokenizer's.

use std::collections::HashMap;
use std::path::Path;

use glassbox::formats::gguf::GgufFile;
use glassbox::model::Llama;

/// Your answers: replace each `todo!()`.
#[cfg(not(feature = "solutions"))]
#[allow(unused_variables)]
mod answer {
    /// Exercise 1: the global layers of Gemma 3 270M, counted from 0.
    pub fn global_layers() -> Vec<usize> {
        todo!(
            "exercise 1: every 6th layer, counted from 1 (then check with `glassbox inspect FILE`)"
        )
    }

    /// Exercise 2: (bytes a session allocates, bytes with every layer full) for 32,768 positions.
    pub fn kv_bytes_32k() -> (usize, usize) {
        todo!("exercise 2: 2 × n_kv_heads × head_dim × 4 bytes per row; how many rows per layer?")
    }

    /// Exercise 3: the pieces of `text` (spaces as ▁), merged by `score` (None: not a token).
    pub fn spm_pieces(text: &str, score: &dyn Fn(&str) -> Option<f32>) -> Vec<String> {
        todo!("exercise 3: chars → symbols; merge the best-scored adjacent pair until none is a token")
    }
}

/// The reference solutions (`--features solutions`).
#[cfg(feature = "solutions")]
#[path = "solutions/ch17.rs"]
mod answer;

fn gemma_path() -> std::path::PathBuf {
    glassbox::data::gemma::gemma3_270m_q4_k_m().expect("gemma-3-270m-q4_k_m.gguf")
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::global_layers, then run with -- --ignored"
)]
fn exercise_1_which_layers_are_global() {
    let m = Llama::load(gemma_path()).unwrap();
    let f = &m.config.family;
    let glassbox: Vec<usize> = (0..m.config.num_hidden_layers)
        .filter(|&l| f.window(l).is_none())
        .collect();
    // the config transformers ran the fixtures with (scripts/fixtures_gemma.py)
    let meta = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gemma/meta.json");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(meta).unwrap()).unwrap();
    let transformers: Vec<usize> = meta["config"]["layer_types"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(_, t)| t.as_str() == Some("full_attention"))
        .map(|(l, _)| l)
        .collect();
    assert_eq!(glassbox, transformers, "glassbox and transformers agree");
    assert_eq!(answer::global_layers(), glassbox, "your global layers");
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::kv_bytes_32k, then run with -- --ignored"
)]
fn exercise_2_kv_bytes_with_sliding_windows() {
    let m = Llama::load(gemma_path()).unwrap();
    let c = &m.config;
    let ctx = 32_768;
    // a real session (the zeroed pages are not touched, so this costs no memory)
    let session = m.new_session(ctx).unwrap().kv_cache_bytes();
    let full = glassbox::kv_cache::KvCache::bytes_for(
        c.num_hidden_layers,
        c.num_key_value_heads,
        c.head_dim(),
        ctx,
        4,
    );
    let (yours_session, yours_full) = answer::kv_bytes_32k();
    assert_eq!(
        yours_full, full,
        "every layer full: yours {yours_full}, counted {full}"
    );
    assert_eq!(
        yours_session, session,
        "a session allocates {session} bytes, you said {yours_session}"
    );
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: write answer::spm_pieces, then run with -- --ignored"
)]
fn exercise_3_sentencepiece_by_score() {
    let path = gemma_path();
    let g = GgufFile::open(&path).unwrap();
    let texts = g.require_str_array("tokenizer.ggml.tokens").unwrap();
    let scores = g.get_array("tokenizer.ggml.scores").unwrap();
    // text → (id, score); a text stored twice keeps its last id, as llama.cpp does
    let vocab: HashMap<&str, (u32, f32)> = texts
        .iter()
        .zip(scores)
        .enumerate()
        .map(|(id, (&t, s))| (t, (id as u32, s.as_f32().unwrap())))
        .collect();
    let score = |piece: &str| vocab.get(piece).map(|&(_, s)| s);
    let tok = Llama::load(&path).unwrap().tokenizer;
    // ordinary text only: no runs of spaces, tabs, newlines or tags (Gemma cuts those out as
    // whole tokens before merging) and no characters the vocabulary lacks (byte fallback)
    for text in [
        "The capital of France is",
        "Sliding windows save memory",
        "def fibonacci(n): return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)",
        "Gemma merges by score, not by rank.",
        "unbelievably interchangeable antidisestablishmentarianism",
        "12345 + 67890 = 80235",
        "日本の首都は東京です。",
    ] {
        let pieces = answer::spm_pieces(text, &score);
        let ids: Vec<u32> = pieces
            .iter()
            .map(|p| {
                vocab
                    .get(p.as_str())
                    .unwrap_or_else(|| panic!("{text:?}: your piece {p:?} is not a token"))
                    .0
            })
            .collect();
        assert_eq!(
            ids,
            tok.encode(text),
            "{text:?}: your pieces {pieces:?} (tokenizer's ids on the right)"
        );
    }
}
