//! Chapter 11 exercises (SmolLM2's tokenizer and template; the default model is fetched on first
//! use, or set GLASSBOX_DATA). Each `ANSWER_*` constant holds the correct value; cover it,
//! predict, run `cargo test --test ch11_exercises`. `--features solutions` prints the steps.

use glassbox::chat::{ChatTemplate, Message};
use glassbox::weights::model_files::ModelFiles;

fn smollm2() -> ModelFiles {
    ModelFiles::open(&glassbox::data::default_model().expect("the default model"))
        .expect("open SmolLM2")
}

// Exercise 1. "héllo 😉" is encoded by SmolLM2 into 5 ids: [88, 2756, 31394, 40303, 227]. The
// 😉 is the 4 bytes f0 9f 98 89, and id 40303 is the bytes " \xf0\x9f\x98". What does each
// push of the streaming decoder return? (Print the bytes with `--features solutions`.)
const ANSWER_1_PIECES: [&str; 5] = ["h", "é", "llo", " ", "😉"];

// Exercise 2. With SmolLM2's template, one user turn "Hi" plus the generation prompt: how many
// ids in total? (The template inserts its default system prompt.)
const ANSWER_2_IDS: usize = 31;

#[test]
fn exercise_1_streaming_rebuilds_exactly() {
    let files = smollm2();
    let tok = &files.tokenizer;
    let ids = tok.encode("héllo 😉");
    let mut d = tok.stream_decoder();
    let pieces: Vec<String> = ids.iter().map(|&i| d.push(i).unwrap()).collect();
    assert_eq!(pieces.concat() + &d.flush(), "héllo 😉");
    assert!(pieces.iter().all(|p| !p.contains('\u{FFFD}')));
    assert_eq!(ids, [88, 2756, 31394, 40303, 227]);
    assert_eq!(
        pieces, ANSWER_1_PIECES,
        "computed {pieces:?}, your answer {ANSWER_1_PIECES:?}"
    );
}

#[test]
fn exercise_2_template_cost() {
    let files = smollm2();
    let t = ChatTemplate::for_model(files.chat_template.as_deref(), &files.tokenizer).unwrap();
    let ids = t
        .encode(&files.tokenizer, &[Message::user("Hi")], true)
        .unwrap();
    assert_eq!(
        ids.len(),
        ANSWER_2_IDS,
        "rendered {:?}",
        t.render(&[Message::user("Hi")], true).unwrap()
    );
}

#[cfg(feature = "solutions")]
#[test]
fn solutions() {
    let files = smollm2();
    let tok = &files.tokenizer;
    // 1. Each push returns the longest prefix of the bytes held so far that is whole UTF-8.
    let mut held: Vec<u8> = Vec::new();
    let mut pieces = Vec::new();
    for id in tok.encode("héllo 😉") {
        let bytes = tok.token_bytes(id).expect("a token");
        println!("id {id:>6}: bytes {bytes:02x?}");
        held.extend_from_slice(bytes);
        let whole = match std::str::from_utf8(&held) {
            Ok(s) => s.len(),
            Err(e) => e.valid_up_to(),
        };
        pieces.push(String::from_utf8(held.drain(..whole).collect()).expect("whole UTF-8"));
    }
    assert_eq!(pieces, ANSWER_1_PIECES);
    // 2. Count the rendered prompt by hand: each special token is one id, the text between
    //    them is encoded as ordinary text.
    let t = ChatTemplate::for_model(files.chat_template.as_deref(), tok).unwrap();
    let text = t.render(&[Message::user("Hi")], true).unwrap();
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
    ids += tok.encode(rest).len();
    assert_eq!(ids, ANSWER_2_IDS);
}
