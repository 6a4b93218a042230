//! Chat templates are Jinja programs shipped inside model files: rendering an untrusted one
//! must end, quickly, with bounded memory. The input is the template source, then a NUL, then
//! the messages separated by NULs (roles cycle system, user, assistant), so the seeds are
//! real templates as plain text.
//!
//! `ChatTemplate::render` catches a panic of the template engine and returns it as an error
//! (minijinja 2.24.0 divides by zero in `loop.cycle()` without arguments). libFuzzer's panic
//! hook aborts at every panic, caught or not, so while `render` runs the hook is skipped: a
//! panic `render` does not catch still unwinds out of it and aborts the run, as before.
#![no_main]

use std::cell::Cell;
use std::sync::Once;

use glassbox::chat::{ChatTemplate, Message};
use libfuzzer_sys::fuzz_target;

thread_local! {
    static RENDERING: Cell<bool> = const { Cell::new(false) };
}

/// Wrap libFuzzer's hook (installed before the first input): silent while `render` runs.
fn quiet_hook_while_rendering() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let fuzzer_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !RENDERING.get() {
                fuzzer_hook(info);
            }
        }));
    });
}

fuzz_target!(|data: &[u8]| {
    quiet_hook_while_rendering();
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
    for add_generation_prompt in [true, false] {
        RENDERING.set(true);
        let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            t.render(&messages, add_generation_prompt)
        }));
        RENDERING.set(false);
        if rendered.is_err() {
            panic!("a panic escaped ChatTemplate::render");
        }
    }
});
