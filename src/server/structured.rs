//! Request fields that shape the answer: `response_format`, `tools`, `tool_choice`, and the
//! `tool_calls` of earlier assistant turns. Pure functions like the rest of `request.rs`: a
//! field of the wrong shape is a 400 naming it, and a schema the mask cannot follow is a 400
//! naming the field, the place in the schema and the keyword
//! (``tools[0].function.parameters: schema at #/properties/city: `pattern`: unsupported …``).
//!
//! ```text
//! "response_format": {"type": "text"}                                   free text
//!                    {"type": "json_object"}                            any JSON object
//!                    {"type": "json_schema", "json_schema": {"name", "schema", "strict"}}
//! "tools": [{"type": "function", "function": {"name", "description", "parameters"}}]
//! "tool_choice": "none" | "auto" | "required" | {"type": "function", "function": {"name"}}
//! ```

use serde_json::{json, Map, Value};

use super::json::{type_name, Fields};
use super::wire::ApiError;
use crate::chat::ToolCall;
use crate::constrain::compile;
use crate::tools::{Reply, Tool, ToolChoice};

/// Most tools in one request.
pub const MAX_TOOLS: usize = 128;

/// `response_format`: the schema the answer must follow, or `None` for free text.
pub fn response_format(f: &Fields) -> Result<Option<Value>, ApiError> {
    let Some(rf) = f.get("response_format") else {
        return Ok(None);
    };
    let Value::Object(m) = rf else {
        return Err(Fields::wrong("response_format", "an object", rf));
    };
    let rf = Fields(m);
    let param = "response_format.type";
    match rf.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(json!({"type": "object"}))),
        Some("json_schema") => {
            let js =
                match rf.get("json_schema") {
                    Some(Value::Object(js)) => js,
                    Some(v) => {
                        return Err(Fields::wrong("response_format.json_schema", "an object", v))
                    }
                    None => return Err(ApiError::bad_param(
                        "response_format.json_schema",
                        "`response_format.json_schema` is missing (it holds `name` and `schema`)",
                    )),
                };
            let js = Fields(js);
            let name = js
                .string("name")
                .map_err(|e| rename(e, "response_format.json_schema.name"))?;
            if let Some(n) = name {
                check_name(&n, "response_format.json_schema.name")?;
            }
            js.get("strict")
                .filter(|s| !s.is_boolean())
                .map_or(Ok(()), |s| {
                    Err(Fields::wrong(
                        "response_format.json_schema.strict",
                        "true or false",
                        s,
                    ))
                })?;
            // No schema: any JSON value (llama.cpp's reading). `strict` changes nothing here:
            // the mask always holds the answer to the schema.
            let schema = js.get("schema").cloned().unwrap_or_else(|| json!({}));
            checked_schema(schema, "response_format.json_schema.schema").map(Some)
        }
        Some(other) => Err(ApiError::bad_param(
            param,
            format!(
                "`{param}` must be \"text\", \"json_object\" or \"json_schema\", got \"{other}\""
            ),
        )),
        None => Err(ApiError::bad_param(param, format!("`{param}` is missing"))),
    }
}

/// A schema the mask can follow, or a 400 naming `param`, the path and the keyword.
fn checked_schema(schema: Value, param: &str) -> Result<Value, ApiError> {
    match compile(&schema) {
        Ok(_) => Ok(schema),
        Err(e) => Err(ApiError::bad_param(param, format!("`{param}`: {e}"))),
    }
}

fn rename(e: ApiError, param: &str) -> ApiError {
    ApiError {
        param: Some(param.to_string()),
        ..e
    }
}

/// OpenAI's rule for function and schema names: 1–64 of `a-z A-Z 0-9 _ -`.
fn check_name(name: &str, param: &str) -> Result<(), ApiError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_param(
            param,
            format!("`{param}` must be 1 to 64 letters, digits, `_` or `-`, got {name:?}"),
        ))
    }
}

// ANCHOR: tools
/// `tools`, `tool_choice` and `response_format` of a chat request.
pub fn reply(f: &Fields) -> Result<Reply, ApiError> {
    let format = response_format(f)?;
    let tools = match f.get("tools") {
        None => Vec::new(),
        Some(Value::Array(a)) if a.len() > MAX_TOOLS => {
            return Err(ApiError::bad_param(
                "tools",
                format!(
                    "`tools` may hold at most {MAX_TOOLS} tools, got {}",
                    a.len()
                ),
            ))
        }
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, t)| tool(i, t))
            .collect::<Result<Vec<_>, _>>()?,
        Some(v) => return Err(Fields::wrong("tools", "a list of tools", v)),
    };
    for (i, t) in tools.iter().enumerate() {
        if tools[..i].iter().any(|u| u.name == t.name) {
            return Err(ApiError::bad_param(
                &format!("tools[{i}].function.name"),
                format!("two tools are named \"{}\"", t.name),
            ));
        }
    }
    let choice = tool_choice(f, &tools)?;
    if let Some(v) = f.get("parallel_tool_calls") {
        if !v.is_boolean() {
            return Err(Fields::wrong("parallel_tool_calls", "true or false", v));
        }
        // Accepted either way: an answer makes at most one call (the generic format's shape).
    }
    Ok(Reply {
        format,
        tools,
        choice,
    })
}

/// One `{"type": "function", "function": {"name", "description", "parameters"}}`.
fn tool(i: usize, v: &Value) -> Result<Tool, ApiError> {
    let at = format!("tools[{i}]");
    let Value::Object(m) = v else {
        return Err(Fields::wrong(&at, "an object", v));
    };
    let t = Fields(m);
    match t.get("type").and_then(Value::as_str) {
        Some("function") => {}
        _ => {
            return Err(ApiError::bad_param(
                &format!("{at}.type"),
                format!("`{at}.type` must be \"function\" (the only kind of tool)"),
            ))
        }
    }
    let func = match t.get("function") {
        Some(Value::Object(func)) => Fields(func),
        Some(v) => return Err(Fields::wrong(&format!("{at}.function"), "an object", v)),
        None => {
            return Err(ApiError::bad_param(
                &format!("{at}.function"),
                format!("`{at}.function` is missing"),
            ))
        }
    };
    let p = |field: &str| format!("{at}.function.{field}");
    let name = func
        .string("name")
        .map_err(|e| rename(e, &p("name")))?
        .ok_or_else(|| ApiError::bad_param(&p("name"), format!("`{}` is missing", p("name"))))?;
    check_name(&name, &p("name"))?;
    let description = func
        .string("description")
        .map_err(|e| rename(e, &p("description")))?;
    // No parameters: a function of no arguments, `{}`.
    let parameters = func
        .get("parameters")
        .cloned()
        .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
    let parameters = checked_schema(parameters, &p("parameters"))?;
    Ok(Tool {
        name,
        description,
        parameters,
    })
}

/// `"none"`, `"auto"`, `"required"` or `{"type": "function", "function": {"name": …}}`;
/// the default is `auto` (OpenAI's, when tools are given).
fn tool_choice(f: &Fields, tools: &[Tool]) -> Result<ToolChoice, ApiError> {
    let want =
        "\"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": …}}";
    let choice = match f.get("tool_choice") {
        None => ToolChoice::Auto,
        Some(Value::String(s)) => match s.as_str() {
            "none" => ToolChoice::None,
            "auto" => ToolChoice::Auto,
            "required" => ToolChoice::Required,
            other => {
                return Err(ApiError::bad_param(
                    "tool_choice",
                    format!("`tool_choice` must be {want}, got \"{other}\""),
                ))
            }
        },
        Some(Value::Object(m)) => {
            let name = m
                .get("function")
                .and_then(|func| func.get("name"))
                .and_then(Value::as_str);
            match (m.get("type").and_then(Value::as_str), name) {
                (Some("function"), Some(n)) => ToolChoice::Function(n.to_string()),
                _ => {
                    return Err(ApiError::bad_param(
                        "tool_choice",
                        format!("`tool_choice` must be {want}"),
                    ))
                }
            }
        }
        Some(v) => return Err(Fields::wrong("tool_choice", want, v)),
    };
    match &choice {
        ToolChoice::Required if tools.is_empty() => Err(ApiError::bad_param(
            "tool_choice",
            "`tool_choice` is \"required\" but `tools` is empty: there is nothing to call",
        )),
        ToolChoice::Function(n) if !tools.iter().any(|t| t.name == *n) => {
            let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
            Err(ApiError::bad_param(
                "tool_choice",
                format!(
                    "`tool_choice` names the function \"{n}\", which is not in `tools` ({})",
                    if names.is_empty() {
                        "none given".to_string()
                    } else {
                        names.join(", ")
                    }
                ),
            ))
        }
        _ => Ok(choice),
    }
}
// ANCHOR_END: tools

/// `messages[i].tool_calls`: `[{"id", "type": "function", "function": {"name", "arguments"}}]`,
/// `arguments` a JSON string (OpenAI's shape) or an object (some clients send one).
pub fn tool_calls(i: usize, v: &Value) -> Result<Vec<ToolCall>, ApiError> {
    let at = format!("messages[{i}].tool_calls");
    let Value::Array(a) = v else {
        return Err(Fields::wrong(&at, "a list of tool calls", v));
    };
    let mut out = Vec::with_capacity(a.len());
    for (j, c) in a.iter().enumerate() {
        let here = format!("{at}[{j}]");
        let bad = |what: &str| ApiError::bad_param(&here, format!("`{here}` {what}"));
        let empty = Map::new();
        let m = c
            .as_object()
            .ok_or_else(|| bad(&format!("must be an object, got {}", type_name(c))))?;
        let func = m
            .get("function")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let name = func
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("needs `function.name` (a string)"))?;
        let arguments = match func.get("arguments") {
            Some(Value::String(s)) => s.clone(),
            Some(v @ Value::Object(_)) => v.to_string(),
            None | Some(Value::Null) => "{}".to_string(),
            Some(_) => return Err(bad("needs `function.arguments` as a JSON string")),
        };
        out.push(ToolCall {
            id: m
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            name: name.to_string(),
            arguments,
        });
    }
    Ok(out)
}
