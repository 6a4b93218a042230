//! Bad input to the trainer: clear errors, never a panic.

use std::path::PathBuf;

use glassbox::tokenizer::train::{train_files, train_text};
use glassbox::tokenizer::train_naive::train_naive;
use glassbox::tokenizer::train_naive::TrainConfig;
use glassbox::tokenizer::Pretokenizer;

fn cfg(vocab_size: usize, specials: &[&str]) -> TrainConfig {
    TrainConfig {
        vocab_size,
        pattern: Pretokenizer::Gpt2,
        special_tokens: specials.iter().map(|s| s.to_string()).collect(),
        show_progress: false,
    }
}

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("glassbox-train-err-{}-{name}", std::process::id()));
    std::fs::write(&path, bytes).expect("temp file");
    path
}

/// The message of an error that must happen.
fn err_msg<T>(r: glassbox::Result<T>) -> String {
    match r {
        Ok(_) => panic!("expected an error, got Ok"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn vocab_smaller_than_bytes_plus_specials() {
    let msg = err_msg(train_text("hello", &cfg(257, &["<a>", "<b>"])));
    assert!(msg.contains("257") && msg.contains("258"), "{msg}");
    assert!(train_naive("hello", &cfg(100, &[])).is_err());
    // exactly 256 + specials is fine: no merges, just bytes and specials
    let tok = train_text("hello", &cfg(258, &["<a>", "<b>"])).expect("trains");
    assert_eq!(tok.vocab_size(), 258);
    assert_eq!(tok.token_id("<b>"), Some(257));
}

#[test]
fn empty_corpus() {
    let msg = err_msg(train_text("", &cfg(300, &[])));
    assert!(msg.contains("empty corpus"), "{msg}");
    let path = temp_file("empty.txt", b"");
    let msg = err_msg(train_files(std::slice::from_ref(&path), &cfg(300, &[])));
    let _ = std::fs::remove_file(&path);
    assert!(
        msg.contains("empty corpus") && msg.contains("empty.txt"),
        "{msg}"
    );
    let msg = err_msg(train_files(&[], &cfg(300, &[])));
    assert!(msg.contains("empty corpus"), "{msg}");
}

#[test]
fn invalid_utf8_names_file_and_offset() {
    let mut bytes = b"hello world\n".repeat(10);
    bytes.extend_from_slice(b"bad \xff byte");
    let path = temp_file("bad.txt", &bytes);
    let msg = err_msg(train_files(std::slice::from_ref(&path), &cfg(300, &[])));
    let _ = std::fs::remove_file(&path);
    assert!(
        msg.contains("bad.txt") && msg.contains("byte offset 124"),
        "{msg}"
    );
}

#[test]
fn missing_file() {
    let path = PathBuf::from("/nonexistent/glassbox/corpus.txt");
    let msg = err_msg(train_files(&[path], &cfg(300, &[])));
    assert!(msg.contains("/nonexistent/glassbox/corpus.txt"), "{msg}");
}

#[test]
fn specials_come_last_and_are_never_merged() {
    let text = "<|endoftext|> hello <|endoftext|> hello hello";
    let tok = train_text(text, &cfg(268, &["<|endoftext|>", "<|pad|>"])).expect("trains");
    assert_eq!(tok.vocab_size(), 268);
    assert_eq!(tok.token_id("<|endoftext|>"), Some(266));
    assert_eq!(tok.token_id("<|pad|>"), Some(267));
    assert_eq!(tok.encode_with_special("<|endoftext|>"), vec![266]);
}
