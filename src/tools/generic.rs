//! Stage 6e · the generic tool format: for a template with no tool syntax of its own.
//!
//! Three pieces, each a pure function (what llama.cpp's "generic" chat format does; the words
//! and the layout here are glassbox's own):
//!
//! * [`describe`]: the tools as text for the system prompt, one JSON line each, and the two
//!   shapes of answer;
//! * [`schema`]: the one JSON Schema the mask follows. Under `tool_choice: auto`:
//!
//!   ```text
//!   {"$defs": {"tool_0": <get_weather's parameters>, "tool_1": …},
//!    "anyOf": [{"type": "object", "required": ["tool_call"], "properties": {"tool_call":
//!                 {"anyOf": [{"type": "object", "required": ["name", "arguments"], "properties":
//!                               {"name": {"const": "get_weather"},
//!                                "arguments": {"$ref": "#/$defs/tool_0"}}}, …]}}},
//!              {"type": "object", "required": ["response"], "properties":
//!                 {"response": {"type": "string"}}}]}
//!   ```
//!
//!   `required` keeps only the first branch; a named function keeps one call. The first bytes
//!   decide: after `{"t` only the call can continue, after `{"r` only the answer.
//! * [`history`]: earlier turns as the model would have written them, so a conversation that
//!   went call → result → answer reads the same way it was generated (and the KV-cache of the
//!   call is reused): an assistant turn's `tool_calls` become `{"tool_call": …}` text, a `tool`
//!   message a user turn `{"tool_response": {"name", "content"}}`.

use super::{Tool, ToolChoice};
use crate::chat::Message;
use serde_json::{json, Map, Value};

/// The system prompt's paragraph about the tools.
pub fn describe(tools: &[Tool], choice: &ToolChoice) -> String {
    let mut s = String::from("You can call these tools:\n");
    for t in tools {
        let mut line = Map::new();
        line.insert("name".into(), json!(t.name));
        if let Some(d) = &t.description {
            line.insert("description".into(), json!(d));
        }
        line.insert("parameters".into(), t.parameters.clone());
        s.push_str(&Value::Object(line).to_string());
        s.push('\n');
    }
    let call =
        |name: &str| format!("{{\"tool_call\": {{\"name\": \"{name}\", \"arguments\": {{…}}}}}}");
    s.push('\n');
    s.push_str(&match choice {
        ToolChoice::Function(name) => format!("Answer by calling {name}: {}.", call(name)),
        ToolChoice::None => {
            "Do not call a tool now: answer the user directly, in plain words.".to_string()
        }
        ToolChoice::Required => format!(
            "Answer by calling one of them: {}.",
            call("<tool name>")
        ),
        ToolChoice::Auto => format!(
            "To call a tool, answer {}. To answer the user yourself, answer {{\"response\": \"<your answer>\"}}.",
            call("<tool name>")
        ),
    });
    s
}

/// Put `text` at the end of the system message, or in a new one at the start.
pub fn add_system(messages: &mut Vec<Message>, text: &str) {
    match messages.first_mut() {
        Some(m) if m.role == "system" => {
            if !m.content.is_empty() {
                m.content.push_str("\n\n");
            }
            m.content.push_str(text);
        }
        _ => messages.insert(0, Message::system(text)),
    }
}

// ANCHOR: schema
/// The schema of every answer allowed (see the module doc). `response`: under `auto`, the
/// answer follows this schema (`response_format`) instead of being a string.
pub fn schema(tools: &[Tool], choice: &ToolChoice, response: Option<&Value>) -> Value {
    let (mut defs, one_call) = calls(tools, choice, "arguments");
    let call = object(&[("tool_call", one_call)]);
    let root = if *choice == ToolChoice::Auto {
        let answer = match response {
            Some(r) => {
                defs.insert("response".into(), embed(r, "response"));
                json!({"$ref": "#/$defs/response"})
            }
            None => json!({"type": "string"}),
        };
        json!({"anyOf": [call, object(&[("response", answer)])]})
    } else {
        call
    };
    let mut out = Map::new();
    out.insert("$defs".into(), Value::Object(defs));
    if let Value::Object(m) = root {
        out.extend(m);
    }
    Value::Object(out)
}
// ANCHOR_END: schema

/// The calls a reply may make, `{"name": const, <args_key>: $ref}` for each tool allowed by
/// `choice` (one `anyOf` when several), and the `$defs` holding each tool's parameters.
/// `args_key`: `arguments` (the generic format), `parameters` (Llama 3's).
pub fn calls(tools: &[Tool], choice: &ToolChoice, args_key: &str) -> (Map<String, Value>, Value) {
    let mut defs = Map::new();
    let mut calls = Vec::new();
    for (i, t) in tools.iter().enumerate() {
        if matches!(choice, ToolChoice::Function(n) if *n != t.name) {
            continue;
        }
        let at = format!("tool_{i}");
        defs.insert(at.clone(), embed(&t.parameters, &at));
        calls.push(object(&[
            ("name", json!({"type": "string", "const": t.name})),
            (args_key, json!({"$ref": format!("#/$defs/{at}")})),
        ]));
    }
    let one = if calls.len() == 1 {
        calls.remove(0)
    } else {
        json!({ "anyOf": calls })
    };
    (defs, one)
}

/// `{"type": "object", "properties": {…}, "required": [every key]}`, keys in this order.
pub fn object(props: &[(&str, Value)]) -> Value {
    let properties: Map<String, Value> = props
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let required: Vec<&str> = props.iter().map(|(k, _)| *k).collect();
    json!({"type": "object", "properties": properties, "required": required})
}

/// A schema moved to `#/$defs/<at>` of a larger document: each local `$ref` (`#`,
/// `#/$defs/Address`) now points inside it (`#/$defs/<at>`, `#/$defs/<at>/$defs/Address`).
/// Values that are data, not schemas (`enum`, `const`, `default`, `examples`), are copied as
/// they are.
pub fn embed(schema: &Value, at: &str) -> Value {
    match schema {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("$ref", Value::String(r)) if r.starts_with('#') => {
                            Value::String(format!("#/$defs/{at}{}", &r[1..]))
                        }
                        ("enum" | "const" | "default" | "examples", _) => v.clone(),
                        _ => embed(v, at),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|v| embed(v, at)).collect()),
        other => other.clone(),
    }
}

// ANCHOR: history
/// Earlier turns in the generic format's words (see the module doc).
pub fn history(messages: &[Message]) -> Vec<Message> {
    let mut out = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        if m.role == "assistant" && !m.tool_calls.is_empty() {
            let mut lines: Vec<String> = Vec::new();
            if !m.content.is_empty() {
                lines.push(m.content.clone());
            }
            for c in &m.tool_calls {
                // the arguments text as it came back (usually exactly what the model wrote)
                let args = match serde_json::from_str::<Value>(&c.arguments) {
                    Ok(_) => c.arguments.clone(),
                    Err(_) => Value::String(c.arguments.clone()).to_string(),
                };
                let name = Value::String(c.name.clone());
                lines.push(format!(
                    "{{\"tool_call\": {{\"name\": {name}, \"arguments\": {args}}}}}"
                ));
            }
            out.push(Message::assistant(&lines.join("\n")));
        } else if m.role == "tool" {
            // the function's name, from the call this result answers
            let name = m.tool_call_id.as_ref().and_then(|id| {
                messages[..i]
                    .iter()
                    .flat_map(|p| &p.tool_calls)
                    .find(|c| c.id == *id)
                    .map(|c| c.name.clone())
            });
            let content = serde_json::from_str::<Value>(&m.content)
                .unwrap_or_else(|_| Value::String(m.content.clone()));
            let mut r = Map::new();
            if let Some(n) = name {
                r.insert("name".into(), json!(n));
            }
            r.insert("content".into(), content);
            out.push(Message::user(
                &json!({ "tool_response": Value::Object(r) }).to_string(),
            ));
        } else {
            out.push(m.clone());
        }
    }
    out
}
// ANCHOR_END: history
