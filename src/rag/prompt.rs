//! RAG, step 5 · the grounded prompt: the question, and the retrieved chunks as numbered
//! sources the answer must cite.
//!
//! ```text
//! system: Answer the question using only the sources below. Cite the sources you use by
//!         their number, like [1]. If the sources do not contain the answer, say that you
//!         do not know.
//!
//!         Sources:
//!         [1] book/src/ch03-attention.md, lines 12-20
//!         <chunk text>
//!
//!         [2] ...
//! user:   <question>
//! ```
//!
//! The sources go in the system turn and the question alone in the user turn: tried both ways
//! on SmolLM2-135M, a user turn that starts with a page of sources was answered as a text to
//! comment on ("Your response contains multiple sentences but..."), the question alone was
//! answered.
//!
//! The model never sees the store: only what retrieval put here. If retrieval missed, the right
//! answer is "I do not know", and the prompt says so; a small model will not always obey, which
//! is why `rag ask` prints the sources and their scores next to every answer.

use crate::chat::Message;
use crate::rag::store::StoredChunk;

/// The instruction that grounds the answer.
pub const SYSTEM: &str = "Answer the question using only the sources below. Cite the sources \
    you use by their number, like [1]. If the sources do not contain the answer, say that you do \
    not know.";

/// How a source is named in the prompt and in the printed list: `path, lines a-b`.
pub fn source_label(c: &StoredChunk) -> String {
    match c.first_line == c.last_line {
        true => format!("{}, line {}", c.path, c.first_line),
        false => format!("{}, lines {}-{}", c.path, c.first_line, c.last_line),
    }
}

// ANCHOR: grounded
/// The chat messages for `question` grounded in `sources` (best first, numbered from 1).
pub fn grounded_messages(question: &str, sources: &[StoredChunk]) -> Vec<Message> {
    let mut system = format!("{SYSTEM}\n\nSources:\n");
    for (i, c) in sources.iter().enumerate() {
        system.push_str(&format!(
            "[{}] {}\n{}\n\n",
            i + 1,
            source_label(c),
            c.text.trim()
        ));
    }
    vec![
        Message::system(system.trim_end()),
        Message::user(question.trim()),
    ]
}
// ANCHOR_END: grounded
