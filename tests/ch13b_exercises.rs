//! Chapter 13b exercises: a tool call as it streams, from the model's side and the client's.
//!
//! The exercises ship open: each function in `answer` below is a `todo!()` for you to replace.
//! A plain `cargo test` skips them (they are `#[ignore]`d, so the suite stays green); run yours
//! with
//!
//! ```text
//! cargo test --test ch13b_exercises -- --ignored
//! ```
//!
//! A wrong answer fails with the computed value beside yours. The reference solutions are in
//! `tests/solutions/ch13b.rs` (and the book's appendix); `cargo test --test ch13b_exercises
//! --features solutions` checks them.
//!
//! 1. **Predict the deltas.** The model's reply (generic format) reaches the splitter in the
//!    four pieces of `PIECES` below. What does each `Splitter::push` return?
//! 2. **Make it pass.** Write `answer::collect_calls`, a client's side of the stream: from the
//!    `delta` objects of the chunks (OpenAI's shape: `tool_calls[{index, id, function: {name,
//!    arguments}}]`, the name in the first chunk of a call, the arguments' JSON text in
//!    fragments after it), rebuild every call as `(name, arguments)`. The test streams random
//!    replies cut at random places and compares with `Splitter::split` on the whole reply.

use glassbox::tools::{Delta, Splitter, GENERIC};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// Exercise 1: the reply, in the pieces the worker hands the splitter.
const PIECES: [&str; 4] = [
    "{\"tool_call\": {\"na",
    "me\": \"get_wea",
    "ther\", \"arguments\": {\"ci",
    "ty\": \"Oslo\"}}}",
];

/// Your answers: replace each `todo!()`.
#[cfg(not(feature = "solutions"))]
#[allow(unused_variables)]
mod answer {
    use glassbox::tools::Delta;
    use serde_json::Value;

    /// Exercise 1: what each of the four `push`es returns (`Delta::Call(name)`,
    /// `Delta::Arguments(text)`, `Delta::Content(text)`).
    pub fn deltas() -> Vec<Vec<Delta>> {
        todo!("exercise 1: when is the name complete, and which bytes belong to the arguments?")
    }

    /// Exercise 2: the `delta` objects of a stream, in order → every call's (name, arguments).
    pub fn collect_calls(deltas: &[Value]) -> Vec<(String, String)> {
        todo!("exercise 2: a call per `index`; its name once, its arguments concatenated")
    }
}

/// The reference solutions (`--features solutions`).
#[cfg(feature = "solutions")]
#[path = "solutions/ch13b.rs"]
mod answer;

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: fill in answer::deltas, then run with -- --ignored"
)]
fn exercise_1_the_deltas_of_each_piece() {
    let mut s = Splitter::new(GENERIC);
    let got: Vec<Vec<Delta>> = PIECES.iter().map(|p| s.push(p)).collect();
    let yours = answer::deltas();
    assert_eq!(yours, got, "your answer {yours:?}\n  the splitter {got:?}");
}

/// The `delta` objects a server streams for one reply cut into `pieces`, as `glassbox serve`
/// shapes them: a call's first chunk carries its index, id, type and name; then fragments of
/// its arguments; content goes out as `content`.
fn stream(pieces: &[String]) -> Vec<Value> {
    let mut s = Splitter::new(GENERIC);
    let mut out = Vec::new();
    let mut index: i64 = -1;
    for p in pieces {
        for d in s.push(p) {
            out.push(match d {
                Delta::Call(name) => {
                    index += 1;
                    json!({"tool_calls": [{"index": index, "id": format!("call_{index}"), "type": "function",
                                           "function": {"name": name, "arguments": ""}}]})
                }
                Delta::Arguments(a) => {
                    json!({"tool_calls": [{"index": index, "function": {"arguments": a}}]})
                }
                Delta::Content(c) => json!({"content": c}),
            });
        }
    }
    out
}

/// A random reply the mask could produce: a call with random arguments (strings with escapes
/// and non-ASCII, numbers, nested objects and arrays), or an answer.
fn random_reply(rng: &mut rand::rngs::StdRng) -> String {
    let words = [
        "Oslo",
        "São Paulo",
        "a \"quoted\" city",
        "line\nbreak",
        "😉",
        "x",
    ];
    let mut args = serde_json::Map::new();
    for k in 0..rng.random_range(0..4) {
        let v = match rng.random_range(0..4) {
            0 => json!(words[rng.random_range(0..words.len())]),
            1 => json!(rng.random_range(-100.0f64..100.0)),
            2 => json!({"nested": [1, 2, {"deep": words[rng.random_range(0..words.len())]}]}),
            _ => json!(["celsius", null, true]),
        };
        args.insert(format!("arg{k}"), v);
    }
    let reply = if rng.random_bool(0.8) {
        json!({"tool_call": {"name": format!("tool_{}", rng.random_range(0..3)), "arguments": args}})
    } else {
        json!({"response": words[rng.random_range(0..words.len())]})
    };
    if rng.random_bool(0.5) {
        serde_json::to_string_pretty(&reply).expect("JSON")
    } else {
        reply.to_string()
    }
}

#[test]
#[cfg_attr(
    not(feature = "solutions"),
    ignore = "open exercise: write answer::collect_calls, then run with -- --ignored"
)]
fn exercise_2_a_client_rebuilds_the_calls() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(13);
    for case in 0..300 {
        let reply = random_reply(&mut rng);
        // cut at random character boundaries, as tokens would
        let chars: Vec<char> = reply.chars().collect();
        let mut pieces = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let n = rng.random_range(1..=6).min(chars.len() - i);
            pieces.push(chars[i..i + n].iter().collect::<String>());
            i += n;
        }
        let want = Splitter::split(GENERIC, &reply).1;
        let got = answer::collect_calls(&stream(&pieces));
        assert_eq!(
            got, want,
            "case {case}: the reply {reply}\n  cut as {pieces:?}"
        );
        for (_, arguments) in &got {
            let _: Value = serde_json::from_str(arguments).unwrap_or_else(|e| {
                panic!("case {case}: arguments {arguments:?} are not JSON: {e}")
            });
        }
    }
}
