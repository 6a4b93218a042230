//! Chapter 11 exercises: SmolLM2's tokenizer and chat template (the default model is fetched
//! on first use, or set GLASSBOX_DATA).
//!
//! The exercises ship open: each function in `answer` below is a `todo!()` for you to replace.
//! A plain `cargo test` skips them (they are `#[ignore]`d, so the suite stays green); run yours
//! with
//!
//! ```text
//! cargo test --test ch11_exercises -- --ignored
//! ```
//!
//! The reference solutions are in `tests/solutions/ch11.rs` (and the book's appendix);
//! `cargo test --test ch11_exercises --features solutions -- --nocapture` checks them and
//! prints the bytes of every id.
//!
//! 1. **Streaming.** "héllo 😉" is encoded by SmolLM2 into 5 ids: [88, 2756, 31394, 40303, 227].
//!    The 😉 is the 4 bytes f0 9f 98 89, and id 40303 is the bytes " \xf0\x9f\x98". What does
//!    each push of the streaming decoder return?
//! 2. **The template's cost.** With SmolLM2's template, one user turn "Hi" plus the generation
//!    prompt: how many ids in total? (The template inserts its default system prompt.)
//! 3. **Your own system prompt.** The same turn with the system message "Answer in one word.":
//!    how many ids?

use glassbox::chat::{ChatTemplate, Message};
use glassbox::weights::model_files::ModelFiles;

/// Your answers: replace each `todo!()`.
#[cfg(not(feature = "solutions"))]
mod answer {
    /// Exercise 1: what each of the 5 pushes returns.
    pub fn pieces() -> [&'static str; 5] {
        todo!("exercise 1: a push returns only whole UTF-8 characters and holds back the rest")
    }

    /// Exercise 2: ids of the prompt for one user turn "Hi", with the default system prompt.
    pub fn ids_default_system() -> usize {
        todo!("exercise 2: render it (chapter 11's picture), count the tokens")
    }

    /// Exercise 3: ids with the system message "Answer in one word." instead.
    pub fn ids_own_system() -> usize {
        todo!("exercise 3: the same markers, a shorter system text")
    }
}

/// The reference solutions (`--features solutions`).
#[cfg(feature = "solutions")]
#[path = "solutions/ch11.rs"]
mod answer;

fn smollm2() -> ModelFiles {
    ModelFiles::open(&glassbox::data::default_model().expect("the default model"))
        .expect("open SmolLM2")
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::pieces, then run with -- --ignored"
)]
fn exercise_1_streaming_rebuilds_exactly() {
    let files = smollm2();
    let tok = &files.tokenizer;
    let ids = tok.encode("héllo 😉");
    assert_eq!(ids, [88, 2756, 31394, 40303, 227]);
    let mut d = tok.stream_decoder();
    let pieces: Vec<String> = ids.iter().map(|&i| d.push(i).unwrap()).collect();
    assert_eq!(pieces.concat() + &d.flush(), "héllo 😉");
    assert!(pieces.iter().all(|p| !p.contains('\u{FFFD}')));
    let yours = answer::pieces();
    assert_eq!(
        yours.to_vec(),
        pieces,
        "your answer {yours:?}, computed {pieces:?}"
    );
}

/// Ids of the prompt for these messages, and the rendered text (for the failure message).
fn count(files: &ModelFiles, messages: &[Message]) -> (usize, String) {
    let t = ChatTemplate::for_model(files.chat_template.as_deref(), &files.tokenizer).unwrap();
    let ids = t.encode(&files.tokenizer, messages, true).unwrap();
    (ids.len(), t.render(messages, true).unwrap())
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::ids_default_system, then run with -- --ignored"
)]
fn exercise_2_template_cost() {
    let (n, text) = count(&smollm2(), &[Message::user("Hi")]);
    let yours = answer::ids_default_system();
    assert_eq!(yours, n, "your answer {yours}, computed {n} for {text:?}");
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::ids_own_system, then run with -- --ignored"
)]
fn exercise_3_own_system_prompt() {
    let messages = [Message::system("Answer in one word."), Message::user("Hi")];
    let (n, text) = count(&smollm2(), &messages);
    let yours = answer::ids_own_system();
    assert_eq!(yours, n, "your answer {yours}, computed {n} for {text:?}");
}
