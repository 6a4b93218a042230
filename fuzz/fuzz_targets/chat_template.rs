//! Chat templates are Jinja programs shipped inside model files: rendering an untrusted one
//! must end, quickly, with bounded memory. The input is the template source, then a NUL, then
//! the messages separated by NULs (roles cycle system, user, assistant), so the seeds are
//! real templates as plain text.
#![no_main]

use glassbox::chat::{ChatTemplate, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0);
    let source = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let roles = ["system", "user", "assistant"];
    let messages: Vec<Message> = parts
        .enumerate()
        .map(|(i, m)| Message::new(roles[i % 3], &String::from_utf8_lossy(m)))
        .collect();
    let Ok(t) = ChatTemplate::new(&source, "<s>", "</s>") else {
        return;
    };
    let _ = t.render(&messages, true);
    let _ = t.render(&messages, false);
});
