//! Stage 6e · a template's own tool syntax: Llama 3.1/3.2's JSON tool calls.
//!
//! A template that reads `tools` ([`crate::chat::template_reads_tools`]) lists the tools itself
//! and was trained on its own call syntax, so glassbox hands it what Hugging Face's
//! `apply_chat_template(tools=...)` hands it, and constrains the reply to that syntax:
//!
//! ```text
//! template context  tools = [{"type": "function", "function": {"name", "description",
//!                                                               "parameters"}}, …]   tools_json
//! messages          as they came: the template writes an assistant turn's tool_calls and a
//!                   `tool` message its own way (Llama 3.1: `{"name": …, "parameters": …}`
//!                   and an `ipython` turn)
//! the reply         {"name": "get_weather", "parameters": {"city": "Paris"}}        schema
//!                   {"$defs": {"tool_0": <get_weather's parameters>, …},
//!                    "anyOf": [{"type": "object", "required": ["name", "parameters"],
//!                               "properties": {"name": {"const": "get_weather"},
//!                                              "parameters": {"$ref": "#/$defs/tool_0"}}}, …]}
//!                   split with the shape LLAMA3_JSON (name, then parameters' text)
//! ```
//!
//! This is the format Meta's Llama 3.1 and 3.2 templates teach ("Respond in the format
//! {"name": function name, "parameters": dictionary of argument name and its value}"), and the
//! one llama.cpp's `llama_3_x` chat format parses.

use super::generic::calls;
use super::{Tool, ToolChoice};
use serde_json::{json, Map, Value};

/// OpenAI's `tools` list, rebuilt from the parsed request: what the template's `tools` is.
pub fn tools_json(tools: &[Tool]) -> Value {
    let list = tools
        .iter()
        .map(|t| {
            let mut f = Map::new();
            f.insert("name".into(), json!(t.name));
            if let Some(d) = &t.description {
                f.insert("description".into(), json!(d));
            }
            f.insert("parameters".into(), t.parameters.clone());
            json!({"type": "function", "function": Value::Object(f)})
        })
        .collect();
    Value::Array(list)
}

// ANCHOR: schema
/// The schema of a call (see the module doc): one of the tools (only the named one under a
/// named `tool_choice`), with that tool's parameters.
pub fn schema(tools: &[Tool], choice: &ToolChoice) -> Value {
    let (defs, root) = calls(tools, choice, "parameters");
    let mut out = Map::new();
    out.insert("$defs".into(), Value::Object(defs));
    if let Value::Object(m) = root {
        out.extend(m);
    }
    Value::Object(out)
}
// ANCHOR_END: schema
