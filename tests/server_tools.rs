//! Structured output and tool calls through `glassbox serve`: `response_format` answers that
//! parse and validate (checked by the independent `jsonschema` validator), tool calls in
//! OpenAI's shape, streamed as tool-call deltas that reassemble to the non-streamed call, the
//! history of a tool loop rendered into the next prompt, and bad schemas as 400s naming the
//! field, the place in the schema and the keyword. The tiny random model shows that the mask
//! alone makes any model's output valid (`response_format`); tool requests use SmolLM2, as
//! the tools' description does not fit the tiny model's 256 positions. Schemas are kept to
//! enums, booleans and bounded strings so every answer is complete within `max_tokens`.

mod constrain_common;
mod server_common;

use constrain_common::validator;
use glassbox::chat::{ChatTemplate, Message};
use glassbox::model::Llama;
use glassbox::server::Running;
use glassbox::tools::{self, Reply, Tool, ToolChoice};
use serde_json::{json, Value};
use server_common::*;

fn weather_tool() -> Value {
    json!({"type": "function", "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"enum": ["Paris", "Oslo"]},
            "unit": {"enum": ["celsius", "fahrenheit"]}},
            "required": ["city", "unit"], "additionalProperties": false}}})
}

fn time_tool() -> Value {
    json!({"type": "function", "function": {"name": "get_time",
        "parameters": {"type": "object", "properties": {"utc": {"type": "boolean"}},
                       "required": ["utc"], "additionalProperties": false}}})
}

/// The `tools[i].function.parameters` whose name is `name`.
fn parameters(tools: &[Value], name: &str) -> Value {
    tools
        .iter()
        .find(|t| t["function"]["name"] == name)
        .map(|t| t["function"]["parameters"].clone())
        .unwrap_or_else(|| panic!("no tool named {name}"))
}

/// The tool calls of a stream, reassembled as the `openai` client does: by `index`, the id,
/// type and name from the first delta, the arguments concatenated. Checks the delta shapes.
fn streamed_calls(d: &[Value]) -> Vec<(String, String, String)> {
    let mut calls: Vec<(String, String, String)> = Vec::new();
    for c in d {
        let Some(tc) = c["choices"][0]["delta"].get("tool_calls") else {
            continue;
        };
        for t in tc.as_array().unwrap() {
            let i = t["index"].as_u64().unwrap() as usize;
            if let Some(id) = t.get("id") {
                assert_eq!(i, calls.len(), "a new call takes the next index");
                assert_eq!(t["type"], "function");
                assert_eq!(
                    t["function"]["arguments"], "",
                    "the name comes first, alone"
                );
                let name = t["function"]["name"].as_str().unwrap();
                calls.push((id.as_str().unwrap().into(), name.into(), String::new()));
            } else {
                assert!(t["function"].get("name").is_none(), "{t}");
                calls[i].2 += t["function"]["arguments"].as_str().unwrap();
            }
        }
    }
    calls
}

/// SmolLM2 with room for the tools' description.
fn start_smollm2() -> Running {
    start(None, |o| o.ctx_size = Some(1024))
}

fn is_call_id(id: &str) -> bool {
    id.strip_prefix("call_")
        .is_some_and(|h| h.len() == 24 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[test]
fn response_format_answers_parse_and_validate() {
    let s = start_tiny(|_| {});
    // a random model pads every gap with the most whitespace allowed (20 bytes): two fields
    // fit in 200 tokens whatever it does
    let schema = json!({"type": "object", "properties": {
        "colour": {"enum": ["red", "green", "blue"]},
        "ok": {"type": "boolean"}},
        "required": ["colour", "ok"], "additionalProperties": false});
    let v = validator(&schema);
    let rf = json!({"type": "json_schema",
                    "json_schema": {"name": "pick", "schema": schema, "strict": true}});
    for seed in 0..6 {
        let body = chat_body(
            "Pick a colour.",
            json!({"temperature": 1.0, "seed": seed, "max_tokens": 200, "response_format": rf}),
        );
        let r = post(s.addr, "/v1/chat/completions", &body);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let c = &r.json()["choices"][0];
        assert_eq!(c["finish_reason"], "stop", "the mask ends the answer: {c}");
        let text = c["message"]["content"].as_str().unwrap();
        let value: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert!(v.is_valid(&value), "seed {seed}: {text}");
        // streamed with the same seed: the same text
        let mut sb = body.clone();
        sb["stream"] = json!(true);
        let f = frames(&post(s.addr, "/v1/chat/completions", &sb).body);
        assert_eq!(streamed_text(&f), text);
    }
    // the completions API honours it too
    let r = post(
        s.addr,
        "/v1/completions",
        &json!({"prompt": "x", "max_tokens": 200, "seed": 1, "temperature": 1.0,
                "response_format": rf}),
    );
    let text = r.json()["choices"][0]["text"].as_str().unwrap().to_string();
    assert!(v.is_valid(&serde_json::from_str(&text).unwrap()), "{text}");
    s.stop().unwrap();
}

#[test]
fn tool_calls_in_openais_shape_streamed_or_not() {
    let s = start_smollm2();
    let tools = [weather_tool(), time_tool()];
    for (choice, seed) in [
        (json!("required"), 1),
        (json!("required"), 2),
        (
            json!({"type": "function", "function": {"name": "get_time"}}),
            3,
        ),
        (json!("auto"), 4),
        (json!("auto"), 5),
    ] {
        let body = chat_body(
            "Weather in Paris?",
            json!({"tools": tools, "tool_choice": choice, "seed": seed,
                   "temperature": 1.0, "max_tokens": 64}),
        );
        let r = post(s.addr, "/v1/chat/completions", &body);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let c = r.json()["choices"][0].clone();
        let msg = &c["message"];
        let mut sb = body.clone();
        sb["stream"] = json!(true);
        let f = frames(&post(s.addr, "/v1/chat/completions", &sb).body);
        let d = data(&f);
        assert_eq!(d[0]["choices"][0]["delta"]["role"], "assistant");
        let last = d.last().unwrap()["choices"][0].clone();
        assert_eq!(last["finish_reason"], c["finish_reason"], "{choice}");

        let Some(calls) = msg["tool_calls"].as_array() else {
            // auto may answer in words: then the content, streamed the same
            assert_eq!(choice, "auto", "{c}");
            assert!(c["finish_reason"] == "stop" || c["finish_reason"] == "length");
            assert_eq!(
                streamed_text(&f),
                msg["content"].as_str().expect("an answer has content")
            );
            assert!(streamed_calls(&d).is_empty());
            continue;
        };
        assert_eq!(c["finish_reason"], "tool_calls", "{c}");
        assert_eq!(msg["content"], Value::Null);
        assert_eq!(calls.len(), 1);
        let call = &calls[0];
        assert_eq!(call["type"], "function");
        assert!(is_call_id(call["id"].as_str().unwrap()), "{call}");
        let name = call["function"]["name"].as_str().unwrap();
        if choice.is_object() {
            assert_eq!(name, "get_time");
        }
        let args = call["function"]["arguments"].as_str().unwrap();
        let parsed: Value = serde_json::from_str(args).unwrap_or_else(|e| panic!("{e}: {args}"));
        assert!(
            validator(&parameters(&tools, name)).is_valid(&parsed),
            "{name}({args})"
        );
        // the stream: the same call, id and name first, then argument fragments
        let sc = streamed_calls(&d);
        assert_eq!(sc.len(), 1);
        assert!(is_call_id(&sc[0].0));
        assert_eq!((sc[0].1.as_str(), sc[0].2.as_str()), (name, args));
        assert_eq!(streamed_text(&f), "", "no content around a call");
    }
    s.stop().unwrap();
}

#[test]
fn a_tool_loop_renders_into_the_next_prompt() {
    let s = start_smollm2();
    let tools = [weather_tool()];
    let user = json!({"role": "user", "content": "Weather in Oslo?"});
    let r = post(
        s.addr,
        "/v1/chat/completions",
        &json!({"messages": [user], "tools": tools, "tool_choice": "required",
                "temperature": 0, "max_tokens": 64}),
    );
    let msg = r.json()["choices"][0]["message"].clone();
    let call = msg["tool_calls"][0].clone();
    // the client sends the call back with its result
    let messages = json!([user, msg,
        {"role": "tool", "tool_call_id": call["id"], "content": "{\"temp\": -3}"}]);
    let body = json!({"messages": messages, "tools": tools, "max_tokens": 8, "seed": 8});
    let r = post(s.addr, "/v1/chat/completions", &body);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();

    // the prompt is the template on the generic history: the call as the model wrote it,
    // the result as a user turn naming the function
    let m = Llama::load(glassbox::data::default_model().unwrap()).unwrap();
    let t = ChatTemplate::for_model(m.chat_template.as_deref(), &m.tokenizer).unwrap();
    let mut said = Message::assistant("");
    said.tool_calls = vec![glassbox::chat::ToolCall {
        id: call["id"].as_str().unwrap().into(),
        name: call["function"]["name"].as_str().unwrap().into(),
        arguments: call["function"]["arguments"].as_str().unwrap().into(),
    }];
    let mut result = Message::new("tool", "{\"temp\": -3}");
    result.tool_call_id = said.tool_calls[0].id.clone().into();
    let reply = Reply {
        format: None,
        tools: vec![Tool {
            name: "get_weather".into(),
            description: Some("Current weather in a city.".into()),
            parameters: tools[0]["function"]["parameters"].clone(),
        }],
        choice: ToolChoice::Auto,
    };
    let plan = tools::plan(
        &reply,
        &[Message::user("Weather in Oslo?"), said, result],
        t.reads_tools(),
    );
    assert!(
        !t.reads_tools(),
        "SmolLM2's template has no tool syntax: generic mode"
    );
    let rendered = t.render(&plan.messages, true).unwrap();
    assert!(rendered.contains(&format!(
        "{{\"tool_call\": {{\"name\": \"get_weather\", \"arguments\": {}}}}}",
        call["function"]["arguments"].as_str().unwrap()
    )));
    assert!(rendered.contains(r#"{"tool_response":{"name":"get_weather","content":{"temp":-3}}}"#));
    let ids = t.encode(&m.tokenizer, &plan.messages, true).unwrap();
    assert_eq!(v["usage"]["prompt_tokens"], ids.len());
    // the first turn's prompt and call are a prefix of this one: reused from the cache
    assert!(
        v["usage"]["prompt_tokens_details"]["cached_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
    s.stop().unwrap();
}

#[test]
fn bad_schemas_are_400s_naming_where() {
    let s = start_tiny(|_| {});
    let rf = |schema: Value| {
        json!({"response_format": {"type": "json_schema",
                                   "json_schema": {"name": "x", "schema": schema}}})
    };
    let tool = |params: Value| {
        json!({"tools": [{"type": "function",
                          "function": {"name": "f", "parameters": params}}]})
    };
    let obj = |p: Value| json!({"type": "object", "properties": {"a": p}});
    // (request fields, param, words the message must hold)
    let cases = [
        (
            rf(obj(json!({"type": "string", "pattern": "^a+$"}))),
            "response_format.json_schema.schema",
            vec!["#/properties/a", "pattern"],
        ),
        (
            rf(json!(5)),
            "response_format.json_schema.schema",
            vec!["object"],
        ),
        (
            rf(obj(json!({"$ref": "#/$defs/Missing"}))),
            "response_format.json_schema.schema",
            vec!["$ref", "#/$defs/Missing"],
        ),
        (
            rf(obj(json!({"enum": []}))),
            "response_format.json_schema.schema",
            vec!["#/properties/a", "enum"],
        ),
        (
            tool(obj(json!({"type": "string", "format": "email"}))),
            "tools[0].function.parameters",
            vec!["#/properties/a", "format"],
        ),
        (
            json!({"response_format": {"type": "xml"}}),
            "response_format.type",
            vec!["json_schema"],
        ),
        (
            json!({"tools": [weather_tool(), weather_tool()]}),
            "tools[1].function.name",
            vec!["get_weather"],
        ),
        (
            json!({"tools": [weather_tool()],
                   "tool_choice": {"type": "function", "function": {"name": "nope"}}}),
            "tool_choice",
            vec!["nope", "get_weather"],
        ),
        (
            json!({"tool_choice": "required"}),
            "tool_choice",
            vec!["empty"],
        ),
        (
            json!({"messages": [{"role": "assistant", "content": "",
                                 "tool_calls": [{"id": "c", "function": {}}]}]}),
            "messages[0].tool_calls[0]",
            vec!["function.name"],
        ),
    ];
    for (extra, param, words) in cases {
        let r = post(
            s.addr,
            "/v1/chat/completions",
            &chat_body("hi", extra.clone()),
        );
        assert_eq!(r.status, 400, "{extra}");
        let e = r.error();
        assert_eq!(e["param"], param, "{e}");
        let msg = e["message"].as_str().unwrap();
        for w in words {
            assert!(msg.contains(w), "{msg:?} lacks {w:?}");
        }
    }
    // a recursive schema is followed (the mask bounds the depth), never a hang
    let tree = json!({"$defs": {"Node": {"type": "object", "properties": {
        "kids": {"type": "array", "items": {"$ref": "#/$defs/Node"}, "maxItems": 2}},
        "required": ["kids"], "additionalProperties": false}}, "$ref": "#/$defs/Node"});
    let r = post(
        s.addr,
        "/v1/chat/completions",
        &chat_body("hi", {
            let mut e = rf(tree);
            e["max_tokens"] = json!(40);
            e
        }),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    s.stop().unwrap();
}

/// SmolLM2 with a tool whose parameter is an `enum`: asked about Paris in Celsius, it calls
/// the tool (greedy), and the arguments hold an allowed unit.
#[test]
fn smollm2_calls_a_tool_with_an_enum_parameter() {
    let s = start_smollm2();
    let tool = json!({"type": "function", "function": {
        "name": "get_weather", "description": "Get the current weather in a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "maxLength": 40},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city", "unit"], "additionalProperties": false}}});
    let body = chat_body(
        "What is the weather in Paris, in celsius?",
        json!({"tools": [tool], "tool_choice": "required", "temperature": 0, "max_tokens": 48}),
    );
    let v = post(s.addr, "/v1/chat/completions", &body).json();
    let c = &v["choices"][0];
    assert_eq!(c["finish_reason"], "tool_calls", "{c}");
    let f = &c["message"]["tool_calls"][0]["function"];
    assert_eq!(f["name"], "get_weather");
    let args: Value = serde_json::from_str(f["arguments"].as_str().unwrap()).unwrap();
    println!("SmolLM2 calls get_weather({args})");
    assert!(validator(&tool["function"]["parameters"]).is_valid(&args));
    assert!(args["city"].as_str().unwrap().contains("Paris"), "{args}");
    s.stop().unwrap();
}
