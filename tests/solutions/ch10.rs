//! Chapter 10, reference solutions (included in the book's appendix; checked by
//! `cargo test --test ch10_exercises --features solutions`).

use super::Run;

// ANCHOR: ex1
/// P, a, r, i, s, . are printed; the 7th id, '\n', completes the stop string, which is never
/// printed (it stays in `ids`). Calls: the prefill, then one per id fed back; the 7th id is
/// never fed back, because the loop stops first: 1 + 6 = 7.
pub fn stop_string() -> Run {
    let said = "Paris.\nLyon";
    let stop_at = said.find('\n').expect("the stop string is in the text");
    let ids = stop_at + 1;
    ("Paris.", ids, 1 + (ids - 1))
}
// ANCHOR_END: ex1

// ANCHOR: ex2
/// A context of 8 holds the 2 prompt ids and 6 more; "Paris." is 6 bytes, so the context is
/// full before the model reaches '\n' or its end token: `context_full` after 6 ids.
pub fn context() -> (&'static str, usize) {
    let (context, prompt) = (8, 2);
    ("context_full", context - prompt)
}
// ANCHOR_END: ex2

// ANCHOR: ex3
/// 2 + 10 > 8: the budget check refuses before any forward pass (an error that says to use
/// -n 6 or a larger context), so the model is never called; 2 + 6 = 8 is the most that fits.
pub fn budget() -> (bool, usize, usize) {
    (true, 0, 8 - 2)
}
// ANCHOR_END: ex3
