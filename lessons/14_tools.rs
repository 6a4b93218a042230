//! Lesson 14: a tool loop with SmolLM2-135M. Starts `glassbox serve` in-process, offers the
//! model one function (`get_weather(city, unit)`, `unit` an enum), and prints each step: what
//! the template sees (the tools described in the system prompt), the schema the mask follows,
//! the streamed tool-call deltas, the function run here, the result sent back, and the final
//! answer. `scripts/regenerate-book.sh` writes what it prints to
//! `book/src/ch13b-lesson-output.txt`, which the book includes.
//!
//!     cargo run --release --example 14_tools

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use glassbox::chat::{ChatTemplate, Message};
use glassbox::server::{self, Options};
use glassbox::tools::{self, Reply, Tool, ToolChoice};
use serde_json::{json, Value};

fn main() -> glassbox::Result<()> {
    let mut out = String::new();
    let server = server::start(Options {
        port: 0,
        ctx_size: Some(2048),
        ..Options::default()
    })?;
    server.wait_ready(Duration::from_secs(300))?;

    // ANCHOR: request
    let tool = json!({"type": "function", "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "maxLength": 40},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city", "unit"], "additionalProperties": false}}});
    let mut messages = vec![json!({"role": "user",
                                   "content": "What is the weather in Oslo, in celsius?"})];
    // ANCHOR_END: request

    // What the server does with it, shown with the same library calls (tools::plan).
    let reply = Reply {
        format: None,
        tools: vec![Tool {
            name: "get_weather".into(),
            description: Some("Get the current weather in a city.".into()),
            parameters: tool["function"]["parameters"].clone(),
        }],
        choice: ToolChoice::Auto,
    };
    let model = glassbox::model::Llama::load(glassbox::data::default_model()?)?;
    let template = ChatTemplate::for_model(model.chat_template.as_deref(), &model.tokenizer)?;
    drop(model);
    // SmolLM2's template does not read `tools`: the generic format
    let plan = tools::plan(
        &reply,
        &[Message::user("What is the weather in Oslo, in celsius?")],
        template.reads_tools(),
    );
    let _ = writeln!(
        out,
        "=== 1. the prompt the model sees (tools in the system prompt) ==="
    );
    let prompt = template.render_with_tools(&plan.messages, plan.tools.as_ref(), true)?;
    let _ = writeln!(out, "{prompt}");
    let _ = writeln!(
        out,
        "=== 2. the schema the mask follows (tool_choice: auto) ==="
    );
    let _ = writeln!(out, "{}", plan.schema.unwrap_or_default());

    // Under "auto" the model's first letter decides between a call and an answer in words.
    let body = json!({"messages": messages, "tools": [tool], "temperature": 0,
                      "max_tokens": 48, "stream": true});
    let frames = post(server.addr, &body)?;
    let text: String = frames
        .iter()
        .filter_map(|f| f["choices"][0]["delta"]["content"].as_str())
        .collect();
    let called = frames
        .iter()
        .any(|f| f["choices"][0]["delta"].get("tool_calls").is_some());
    let choice = if called {
        "it calls"
    } else {
        "it answers in words"
    };
    let _ = writeln!(out, "\n=== 3. tool_choice auto: {choice} ===\n{text}");

    // ANCHOR: call
    let body = json!({"messages": messages, "tools": [tool], "tool_choice": "required",
                      "temperature": 0, "max_tokens": 48, "stream": true});
    let frames = post(server.addr, &body)?;
    let _ = writeln!(
        out,
        "\n=== 4. tool_choice required: the streamed tool-call deltas ==="
    );
    let mut call = (String::new(), String::new(), String::new()); // id, name, arguments
    for f in &frames {
        let delta = &f["choices"][0]["delta"];
        if let Some(tc) = delta["tool_calls"].get(0) {
            let _ = writeln!(out, "delta {}", json!({"tool_calls": [tc]}));
            if let Some(id) = tc["id"].as_str() {
                call.0 = id.to_string();
                call.1 = tc["function"]["name"].as_str().unwrap_or("").to_string();
            }
            call.2 += tc["function"]["arguments"].as_str().unwrap_or("");
        } else if let Some(r) = f["choices"][0]["finish_reason"].as_str() {
            let _ = writeln!(out, "finish_reason {r}");
        }
    }
    // ANCHOR_END: call
    if call.1.is_empty() {
        return Err(glassbox::Error::invalid(
            "no tool call in the answer, though tool_choice was \"required\"",
        ));
    }

    // ANCHOR: result
    let args: Value = serde_json::from_str(&call.2).unwrap_or_default();
    let result = get_weather(
        args["city"].as_str().unwrap_or(""),
        args["unit"].as_str().unwrap_or(""),
    );
    let _ = writeln!(
        out,
        "\n=== 5. run it here: {}({}) = {result} ===",
        call.1, call.2
    );
    messages.push(json!({"role": "assistant", "content": null, "tool_calls": [
        {"id": call.0, "type": "function", "function": {"name": call.1, "arguments": call.2}}]}));
    messages.push(json!({"role": "tool", "tool_call_id": call.0, "content": result.to_string()}));
    let body = json!({"messages": messages, "tools": [tool], "tool_choice": "none",
                      "temperature": 0, "max_tokens": 48, "stream": true,
                      "stream_options": {"include_usage": true}});
    let frames = post(server.addr, &body)?;
    // ANCHOR_END: result
    let text: String = frames
        .iter()
        .filter_map(|f| f["choices"][0]["delta"]["content"].as_str())
        .collect();
    let usage = frames
        .last()
        .map(|f| f["usage"].clone())
        .unwrap_or_default();
    let _ = writeln!(out, "\n=== 6. the final answer ===\n{text}");
    let _ = writeln!(
        out,
        "(prompt {} tokens, {} of them reused from the first call's cache)",
        usage["prompt_tokens"], usage["prompt_tokens_details"]["cached_tokens"]
    );
    print!("{out}");
    server.stop()
}

/// The function the model asks for: a fixed table (the lesson shows the loop, not the sky).
fn get_weather(city: &str, unit: &str) -> Value {
    let c = match city.to_lowercase().as_str() {
        "oslo" => -3.0,
        "paris" => 18.0,
        _ => 10.0,
    };
    let t = if unit == "fahrenheit" {
        c * 9.0 / 5.0 + 32.0
    } else {
        c
    };
    json!({"city": city, "temperature": t, "unit": unit, "sky": "snow"})
}

/// POST a streamed chat request; the JSON of its data frames.
fn post(addr: SocketAddr, body: &Value) -> glassbox::Result<Vec<Value>> {
    let body = body.to_string();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    let io = |e| glassbox::Error::io("socket", e);
    let mut conn = TcpStream::connect(addr).map_err(io)?;
    conn.write_all((head + &body).as_bytes()).map_err(io)?;
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).map_err(io)?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0);
    Ok(String::from_utf8_lossy(&dechunk(&raw[split + 4..]))
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str(d).ok())
        .collect())
}

/// The body of a `Transfer-Encoding: chunked` response.
fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(nl) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..nl]).trim(), 16).unwrap_or(0);
        if size == 0 || b.len() < nl + 2 + size {
            break;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + size]);
        b = &b[(nl + 4 + size).min(b.len())..];
    }
    out
}
