//! Chapter 13b, reference solutions (included in the book's appendix; checked by
//! `cargo test --test ch13b_exercises --features solutions`).

use glassbox::tools::Delta;
use serde_json::Value;

// ANCHOR: ex1
/// Piece 1 ends inside the key `"name"`: nothing yet. Piece 2 ends inside the name's string:
/// the name goes out only when its closing quote arrives, so still nothing. Piece 3 completes
/// the name (a call begins) and starts the arguments' value: `{"ci` is arguments text already,
/// handed out as it comes. Piece 4 ends the arguments at their `}`; the two `}` after it close
/// the reply's own objects and are not part of them.
pub fn deltas() -> Vec<Vec<Delta>> {
    vec![
        vec![],
        vec![],
        vec![
            Delta::Call("get_weather".into()),
            Delta::Arguments("{\"ci".into()),
        ],
        vec![Delta::Arguments("ty\": \"Oslo\"}".into())],
    ]
}
// ANCHOR_END: ex1

// ANCHOR: ex2
/// OpenAI streams each call under its `index`: the first fragment carries the name (and id),
/// later ones only more `arguments` text, which is JSON only once concatenated. So: one entry
/// per index, the name taken when it comes, the fragments appended in order.
pub fn collect_calls(deltas: &[Value]) -> Vec<(String, String)> {
    let mut calls: Vec<(String, String)> = Vec::new();
    for d in deltas {
        for tc in d["tool_calls"].as_array().into_iter().flatten() {
            let i = tc["index"].as_u64().unwrap_or(0) as usize;
            if calls.len() <= i {
                calls.resize(i + 1, (String::new(), String::new()));
            }
            if let Some(name) = tc["function"]["name"].as_str() {
                calls[i].0.push_str(name);
            }
            if let Some(fragment) = tc["function"]["arguments"].as_str() {
                calls[i].1.push_str(fragment);
            }
        }
    }
    calls
}
// ANCHOR_END: ex2
