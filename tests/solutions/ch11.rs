//! Chapter 11, reference solutions (included in the book's appendix; checked by
//! `cargo test --test ch11_exercises --features solutions`).

use glassbox::chat::{ChatTemplate, Message};

// ANCHOR: ex1
/// Each push returns the longest prefix of the bytes held so far that is whole UTF-8: "h";
/// "é" (one token, both bytes); "llo"; " " (the space, holding f0 9f 98, which are not yet a
/// character); then 0x89 completes 😉.
pub fn pieces() -> [&'static str; 5] {
    ["h", "é", "llo", " ", "😉"]
}
// ANCHOR_END: ex1

// ANCHOR: ex2
/// `<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging
/// Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n`. Each special
/// token is one id and the text between them is ordinary BPE: the system turn is
/// `<|im_start|>`, `system`, `\n`, 16 tokens of text, `<|im_end|>`, `\n` = 21; the user turn
/// `<|im_start|>`, `user`, `\n`, `Hi`, `<|im_end|>`, `\n` = 6; the generation prompt
/// `<|im_start|>`, `ass`, `istant`, `\n` = 4. In all 31, of which 1 is the question.
pub fn ids_default_system() -> usize {
    21 + 6 + 4
}
// ANCHOR_END: ex2

// ANCHOR: ex3
/// The same markers around a shorter system text: "Answer", " in", " one", " word", "."
/// are 5 tokens instead of the default's 16, so 31 − 16 + 5 = 20.
pub fn ids_own_system() -> usize {
    31 - 16 + 5
}
// ANCHOR_END: ex3

/// Count the rendered prompt piece by piece (the way exercises 2 and 3 are meant to be done)
/// and print it (`-- --nocapture`).
#[test]
fn solutions_count_by_hand() {
    let files = glassbox::weights::model_files::ModelFiles::open(
        &glassbox::data::default_model().expect("the default model"),
    )
    .expect("open SmolLM2");
    let tok = &files.tokenizer;
    for id in tok.encode("héllo 😉") {
        println!(
            "id {id:>6}: bytes {:02x?}",
            tok.token_bytes(id).expect("a token")
        );
    }
    let t = ChatTemplate::for_model(files.chat_template.as_deref(), tok).unwrap();
    let by_hand = |messages: &[Message]| {
        let text = t.render(messages, true).unwrap();
        println!("rendered: {text:?}");
        let specials = ["<|im_start|>", "<|im_end|>"];
        let (mut ids, mut rest) = (0, text.as_str());
        while let Some((at, sp)) = specials
            .iter()
            .filter_map(|s| rest.find(s).map(|i| (i, *s)))
            .min()
        {
            ids += tok.encode(&rest[..at]).len() + 1; // the text before it, then the special
            rest = &rest[at + sp.len()..];
        }
        ids + tok.encode(rest).len()
    };
    assert_eq!(by_hand(&[Message::user("Hi")]), ids_default_system());
    let own = [Message::system("Answer in one word."), Message::user("Hi")];
    assert_eq!(by_hand(&own), ids_own_system());
}
