//! Chapter 12, reference solutions (included in the book's appendix; checked by
//! `cargo test --test ch12_exercises --features solutions`).

// ANCHOR: ex1
/// The `: keep-alive` comment shows nothing; the first event carries the role and an empty
/// content; then "Par" and "is.\n"; the fourth event has an empty delta and the finish reason;
/// `[DONE]` ends the stream. The user sees "Par" + "is.\n": a token may end inside a word, and
/// the client only concatenates.
pub fn stream_text() -> &'static str {
    "Paris.\n"
}
// ANCHOR_END: ex1

// ANCHOR: ex2
/// The cached ids [1 10 11 2 1 20 21] and the new prompt [1 10 11 2 1 20 22 …] agree on the
/// first 6 ids and differ at position 6 (21 against 22, the answer's last token re-tokenized):
/// 6 ids are reused, and the prefill runs the other 13 − 6 = 7.
pub fn prefix_cache() -> (usize, usize) {
    let cached = [1, 10, 11, 2, 1, 20, 21];
    let prompt = [1, 10, 11, 2, 1, 20, 22, 2, 1, 30, 2, 1, 40];
    let reused = cached
        .iter()
        .zip(&prompt)
        .take_while(|(a, b)| a == b)
        .count();
    println!(
        "common prefix = {reused} ids; the prefill runs {} of {}",
        prompt.len() - reused,
        prompt.len()
    );
    (reused, prompt.len() - reused)
}
// ANCHOR_END: ex2
