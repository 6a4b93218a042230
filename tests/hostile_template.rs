//! Issue 17: a chat template is a program shipped inside a model file, and rendering an
//! untrusted one must end: bounded work (minijinja's fuel), bounded output, and the Python
//! string methods glassbox adds bounded in what they build. Each case used to run for hours or
//! until memory ran out; each is now an error that says which bound it hit.

use glassbox::chat::{ChatTemplate, Message, CHATML_TEMPLATE};

fn render(source: &str) -> glassbox::Result<String> {
    ChatTemplate::new(source, "<s>", "</s>")?.render(&[Message::user("hi")], true)
}

fn err(source: &str) -> String {
    match render(source) {
        Ok(s) => panic!("rendered {} bytes instead of failing", s.len()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn endless_work_is_cut_off() {
    // 10^10 loop iterations
    let e = err("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}");
    assert!(e.contains("too much work"), "{e}");
}

#[test]
fn endless_output_is_cut_off() {
    // 100 MB of prompt
    let e = err("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}");
    assert!(e.contains("16 MiB"), "{e}");
}

#[test]
fn string_methods_cannot_build_huge_strings() {
    // 20,000 × 20,000 bytes = 400 MB from one `replace`
    let e = err("{{ ('ab' * 10000).replace('', 'ab' * 10000) }}");
    assert!(e.contains("replace") && e.contains("16 MiB"), "{e}");
}

#[test]
fn real_templates_still_render() {
    let t = ChatTemplate::new(CHATML_TEMPLATE, "", "").expect("ChatML");
    let many: Vec<Message> = (0..2000)
        .map(|i| Message::user(&format!("message number {i}")))
        .collect();
    let out = t
        .render(&many, true)
        .expect("2000 messages render within the bounds");
    assert!(out.ends_with("<|im_start|>assistant\n"));
    assert_eq!(out.matches("<|im_start|>user").count(), 2000);
}

#[test]
fn a_for_loop_without_a_target_is_an_error_not_a_panic() {
    // Fuzz finding (`chat_template` target, 2026-12-02), reduced from 118 bytes: minijinja
    // 2.24.0 parses `for in` as a loop unpacking into an empty tuple, with a span that ends one
    // column before it starts (7..6); unpacking a message (2 keys) into 0 names fails, and the
    // source excerpt of that error (`{:#}` with debug info, which minijinja collects by default
    // in builds with debug assertions) computed `end_col - start_col`: "attempt to subtract
    // with overflow" (minijinja src/debug.rs:75) in the test and fuzz builds. The error names
    // the template's line instead.
    let e = err("{% for in messages %}{{ message['content'] }}{% endfor %}");
    assert!(e.contains("cannot unpack"), "{e}");
    assert!(e.contains("line 1"), "{e}");
    // the same on a later line: the (backwards) span is not quoted, the line is
    let e = err("{{ bos_token }}\n{% for in [[1]] %}{% endfor %}\n");
    assert!(
        e.contains("line 2, in `{% for in [[1]] %}{% endfor %}`"),
        "{e}"
    );
    // an error with a sound span quotes its expression
    let e = err("{{ bos_token }}\n\n{{ 'x' + raise_exception('roles must alternate') }}");
    assert!(e.contains("line 3, at `"), "{e}");
    assert!(e.contains("raise_exception('roles must alternate')"), "{e}");
    assert!(e.contains("invalid operation: roles must alternate"), "{e}");
}

#[test]
fn a_panic_inside_the_template_engine_is_an_error() {
    // Fuzz finding (`chat_template` target, 2026-12-02 17:21, 2.8 million executions into its
    // long run): `loop.cycle()` with no arguments makes minijinja 2.24.0 compute
    // `idx % args.len()` with a length of 0 (src/vm/loop_object.rs:162), "attempt to calculate
    // the remainder with a divisor of zero", a panic in every build. A template comes from an
    // untrusted model file, so whatever the engine does with it must end as an error naming
    // the template, never as a panic of `chat`, `generate` or a server request.
    let e = err("{% for message in messages %}{{ loop.cycle() }}{% endfor %}");
    assert!(e.contains("rendering the chat template failed"), "{e}");
    assert!(e.contains("divisor of zero"), "{e}");
    // with arguments it still works
    let t = ChatTemplate::new(
        "{% for message in messages %}{{ loop.cycle('a', 'b') }}{% endfor %}",
        "",
        "",
    )
    .expect("compiles");
    let two = [Message::user("x"), Message::user("y"), Message::user("z")];
    assert_eq!(t.render(&two, false).expect("renders"), "aba");
}

#[test]
fn work_that_grows_with_the_conversation_is_cut_off() {
    // Fuzz finding (`chat_template`, the test command's 8 s smoke run of 2026-12-03, from the
    // corpus of the long run), reduced by hand: loops over the messages nested three deep, so
    // a template that reads like a real one does 155³ steps for 155 messages. The bounds held
    // (the 2265-byte input was refused in 0.3 s by a release build, at the 16 MiB output
    // bound), but under AddressSanitizer and coverage its refusal takes 15-25 s, past the
    // smoke run's 10 s per-input timeout (now 60 s, as in the long runs). A
    // template's work may grow with the conversation; the fuel stops it all the same.
    let t = ChatTemplate::new(
        "{% set ns = namespace(sys='') %}{% for a in messages %}{% for b in messages %}\
         {% for m in messages %}{{ '<|' + m['role'] + '|>' + ns.sys + m['content'].replace('\\n', ' ') \
         | trim + eos_token }}{% endfor %}{% endfor %}{% endfor %}",
        "<s>",
        "</s>",
    )
    .expect("compiles");
    let conversation =
        |n: usize| -> Vec<Message> { (0..n).map(|i| Message::user(&format!("m{i}"))).collect() };
    // 10 messages: 1000 turns written
    let out = t.render(&conversation(10), true).expect("renders");
    assert_eq!(out.matches("<|user|>").count(), 1000);
    // 155 messages: 3.7 million turns, more than 10^7 instructions
    let e = t
        .render(&conversation(155), true)
        .expect_err("past the fuel")
        .to_string();
    assert!(e.contains("too much work"), "{e}");
}
