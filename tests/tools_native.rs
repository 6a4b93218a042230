//! A template that renders tools itself: Meta's Llama 3.1 template (the text of its
//! `chat_template`, stored in tests/fixtures/tools/), checked against Hugging Face.
//!
//! * the rule: the Llama 3.1 template reads `tools`; SmolLM2's, ChatML and Gemma's do not;
//! * the prompt: [`tools::plan`] + `render_with_tools` give byte-for-byte what transformers'
//!   `apply_chat_template(messages, tools=TOOLS, add_generation_prompt=True)` renders
//!   (golden strings from scripts/fixtures_tools.py), for a first turn, a first turn without a
//!   system message, a whole call → result loop, and the same loop without tools;
//! * the mask: the call schema takes a Llama-style call (checked by the recognizer and by the
//!   independent `jsonschema` validator) and refuses the generic `{"tool_call": …}` shape,
//!   another tool's name, and bad arguments, at the byte where they go wrong;
//! * the split: the reply becomes OpenAI's `(name, arguments text)`, the same whether it is
//!   read whole or a byte at a time;
//! * through the server: SmolLM2's weights served with this template
//!   (`--chat-template-file`) answer `required` and named calls in OpenAI's shape, streamed
//!   the same, from a prompt that is exactly the template's rendering with tools; the result
//!   of the call goes back as the template's `ipython` turn.

mod constrain_common;
mod server_common;

use constrain_common::{smollm2_tokenizer, validator};
use glassbox::chat::{ChatTemplate, Message, ToolCall, CHATML_TEMPLATE, GEMMA_TEMPLATE};
use glassbox::constrain::{compile, Grammar, Recognizer};
use glassbox::tools::{self, llama, Delta, Reply, Splitter, Tool, ToolChoice, LLAMA3_JSON};
use serde_json::{json, Value};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tools/");

fn golden() -> Value {
    let text = std::fs::read_to_string(format!("{FIXTURES}llama31_tools.json"))
        .expect("run scripts/fixtures_tools.py");
    serde_json::from_str(&text).unwrap()
}

fn llama31() -> ChatTemplate {
    let g = golden();
    let source = std::fs::read_to_string(format!("{FIXTURES}llama31_chat_template.jinja")).unwrap();
    ChatTemplate::new(
        &source,
        g["bos_token"].as_str().unwrap(),
        g["eos_token"].as_str().unwrap(),
    )
    .unwrap()
}

/// The request's tools as the server parses them from OpenAI's list.
fn parsed_tools(list: &Value) -> Vec<Tool> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|t| Tool {
            name: t["function"]["name"].as_str().unwrap().into(),
            description: t["function"]["description"].as_str().map(String::from),
            parameters: t["function"]["parameters"].clone(),
        })
        .collect()
}

#[test]
fn the_rule_llama31_reads_tools_chatml_smollm2_gemma_do_not() {
    assert!(llama31().reads_tools());
    // SmolLM2-135M-Instruct's own template (ChatML with a default system prompt)
    let smollm2 = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
    for source in [smollm2, CHATML_TEMPLATE, GEMMA_TEMPLATE] {
        assert!(!ChatTemplate::new(source, "<s>", "</s>")
            .unwrap()
            .reads_tools());
    }
    // the word in the text, or a variable of its own named so, is not reading the caller's
    let own = "{% set tools = ['x'] %}{{ 'tools: ' ~ tools | join(',') }}";
    assert!(!ChatTemplate::new(own, "", "").unwrap().reads_tools());
    // reading `tools` and teaching Llama 3's call: native; another call syntax (Qwen 2.5 /
    // Hermes `<tool_call>` tags): the generic mode
    let llama_like = r#"{% if tools %}{{ tools | length }} Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.{% endif %}"#;
    assert!(ChatTemplate::new(llama_like, "", "").unwrap().reads_tools());
    let qwen_like = "{% if tools %}{{ tools | length }} return a json object within <tool_call></tool_call> XML tags{% endif %}";
    assert!(!ChatTemplate::new(qwen_like, "", "").unwrap().reads_tools());
}

#[test]
fn prompt_with_tools_equals_transformers_apply_chat_template() {
    let g = golden();
    let t = llama31();
    let tools = parsed_tools(&g["tools"]);
    for case in g["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let messages: Vec<Message> = serde_json::from_value(case["messages"].clone()).unwrap();
        let choice = if case["no_tools"] == true {
            ToolChoice::None // the tools are not rendered: the template's plain path
        } else {
            ToolChoice::Required
        };
        let reply = Reply {
            format: None,
            tools: tools.clone(),
            choice,
        };
        let plan = tools::plan(&reply, &messages, t.reads_tools());
        assert_eq!(
            plan.messages, messages,
            "{name}: the messages go through as they came"
        );
        if case["no_tools"] != true {
            assert_eq!(plan.tools.as_ref(), Some(&g["tools"]), "{name}");
            assert_eq!(plan.shape, Some(LLAMA3_JSON), "{name}");
        }
        let prompt = t
            .render_with_tools(&plan.messages, plan.tools.as_ref(), true)
            .unwrap();
        assert_eq!(prompt, case["prompt"].as_str().unwrap(), "case {name}");
    }
}

#[test]
fn auto_keeps_the_generic_format_even_here() {
    // a mask cannot say "free text or a call" yet: auto uses the format that can
    let g = golden();
    let reply = Reply {
        format: None,
        tools: parsed_tools(&g["tools"]),
        choice: ToolChoice::Auto,
    };
    let p = tools::plan(&reply, &[Message::user("Hi")], true);
    assert_eq!((p.tools, p.shape), (None, Some(tools::GENERIC)));
    assert!(p.messages[0].content.contains("You can call these tools"));
}

/// Feed `text`; `Ok(accepting)` if every byte was taken, `Err(i)` at the first refused byte.
fn read(g: &Grammar, text: &str) -> Result<bool, usize> {
    let mut r = Recognizer::new();
    for (i, &b) in text.as_bytes().iter().enumerate() {
        if !r.try_byte(g, b) {
            return Err(i);
        }
    }
    Ok(r.is_accepting(g))
}

#[test]
fn the_mask_takes_a_llama_call_and_refuses_the_generic_shape() {
    let g = golden();
    let tools = parsed_tools(&g["tools"]);
    let schema = llama::schema(&tools, &ToolChoice::Required);
    let grammar = compile(&schema).unwrap();
    let v = validator(&schema);
    let good = [
        r#"{"name": "get_weather", "parameters": {"city": "Paris", "unit": "celsius"}}"#,
        r#"{"name":"add","parameters":{"a":1,"b":2.5}}"#,
    ];
    for text in good {
        assert_eq!(read(&grammar, text), Ok(true), "{text}");
        assert!(v.is_valid(&serde_json::from_str(text).unwrap()), "{text}");
    }
    // (text, the byte where it goes wrong)
    let bad = [
        (
            r#"{"tool_call": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}"#,
            2,
        ),
        (r#"{"name": "get_time", "parameters": {}}"#, 14), // `get_` could still be get_weather
        (
            r#"{"name": "get_weather", "parameters": {"city": "Paris", "unit": "kelvin"}}"#,
            65,
        ),
        (r#"{"name": "add", "arguments": {"a": 1, "b": 2}}"#, 17),
    ];
    for (text, at) in bad {
        assert_eq!(read(&grammar, text), Err(at), "{text}");
        assert!(!v.is_valid(&serde_json::from_str(text).unwrap()), "{text}");
    }
    // a named tool_choice keeps one tool
    let named = compile(&llama::schema(&tools, &ToolChoice::Function("add".into()))).unwrap();
    assert_eq!(read(&named, good[1]), Ok(true));
    assert_eq!(read(&named, good[0]), Err(10));
}

#[test]
fn the_split_gives_openai_tool_calls_whole_or_streamed() {
    let reply = r#"{"name": "get_weather", "parameters": {"city": "Zürich \"Kreis 1\"", "unit": "celsius"}}"#;
    let (content, calls) = Splitter::split(LLAMA3_JSON, reply);
    assert_eq!(content, "");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].0, "get_weather");
    let args: Value = serde_json::from_str(&calls[0].1).unwrap();
    assert_eq!(
        args,
        json!({"city": "Zürich \"Kreis 1\"", "unit": "celsius"})
    );
    // streamed a character at a time: the name first, then the arguments' text
    let mut s = Splitter::new(LLAMA3_JSON);
    let mut deltas: Vec<Delta> = Vec::new();
    for c in reply.chars() {
        deltas.extend(s.push(&c.to_string()));
    }
    assert_eq!(deltas.first(), Some(&Delta::Call("get_weather".into())));
    let streamed: String = deltas
        .iter()
        .filter_map(|d| match d {
            Delta::Arguments(a) => Some(a.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(streamed, calls[0].1);
    assert!(!deltas.iter().any(|d| matches!(d, Delta::Content(_))));
}

/// OpenAI's tool calls of a stream, reassembled as the `openai` client does (by `index`; id
/// and name from the first delta, which carries no arguments; arguments concatenated).
fn streamed_calls(frames: &[Value]) -> Vec<(String, String, String)> {
    let mut calls: Vec<(String, String, String)> = Vec::new();
    for f in frames {
        let Some(tc) = f["choices"][0]["delta"].get("tool_calls") else {
            continue;
        };
        for t in tc.as_array().unwrap() {
            let i = t["index"].as_u64().unwrap() as usize;
            if let Some(id) = t.get("id") {
                assert_eq!((i, &t["function"]["arguments"]), (calls.len(), &json!("")));
                let name = t["function"]["name"].as_str().unwrap();
                calls.push((id.as_str().unwrap().into(), name.into(), String::new()));
            } else {
                calls[i].2 += t["function"]["arguments"].as_str().unwrap();
            }
        }
    }
    calls
}

#[test]
fn smollm2_served_with_the_llama31_template_calls_in_llamas_format() {
    use server_common::*;
    let path = std::path::PathBuf::from(format!("{FIXTURES}llama31_chat_template.jinja"));
    let s = start(None, |o| {
        o.ctx_size = Some(1024);
        o.chat_template = Some(path.clone());
    });
    // the template the server uses, with SmolLM2's BOS/EOS texts, to count the prompt
    let source = std::fs::read_to_string(&path).unwrap();
    let tok = smollm2_tokenizer();
    let t = ChatTemplate::for_model(Some(&source), tok).unwrap();
    let tools_list = json!([
        {"type": "function", "function": {"name": "get_weather",
            "description": "Current weather in a city.",
            "parameters": {"type": "object", "properties": {
                "city": {"enum": ["Paris", "Oslo"]},
                "unit": {"enum": ["celsius", "fahrenheit"]}},
                "required": ["city", "unit"], "additionalProperties": false}}},
        {"type": "function", "function": {"name": "get_time",
            "parameters": {"type": "object", "properties": {"utc": {"type": "boolean"}},
                "required": ["utc"], "additionalProperties": false}}}
    ]);
    let tools = parsed_tools(&tools_list);
    let user = Message::user("Weather in Paris?");
    for (choice, wire, seed) in [
        (ToolChoice::Required, json!("required"), 1),
        (ToolChoice::Required, json!("required"), 2),
        (
            ToolChoice::Function("get_time".into()),
            json!({"type": "function", "function": {"name": "get_time"}}),
            3,
        ),
    ] {
        let body = server_common::chat_body(
            "Weather in Paris?",
            json!({"tools": tools_list, "tool_choice": wire, "seed": seed,
                   "temperature": 1.0, "max_tokens": 64}),
        );
        let r = post(s.addr, "/v1/chat/completions", &body);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let v = r.json();
        // the prompt is the template's own rendering of the tools
        let reply = Reply {
            format: None,
            tools: tools.clone(),
            choice,
        };
        let plan = tools::plan(&reply, std::slice::from_ref(&user), t.reads_tools());
        let text = t
            .render_with_tools(&plan.messages, plan.tools.as_ref(), true)
            .unwrap();
        assert!(text.contains("Given the following functions") && text.contains("\"get_time\""));
        let ids = t
            .encode_with_tools(tok, &plan.messages, plan.tools.as_ref(), true)
            .unwrap();
        assert_eq!(v["usage"]["prompt_tokens"], ids.len());
        let c = &v["choices"][0];
        assert_eq!(c["finish_reason"], "tool_calls", "{c}");
        assert_eq!(c["message"]["content"], Value::Null);
        let calls = c["message"]["tool_calls"].as_array().unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0]["type"], "function");
        assert!(calls[0]["id"].as_str().unwrap().starts_with("call_"));
        let name = calls[0]["function"]["name"].as_str().unwrap();
        if seed == 3 {
            assert_eq!(name, "get_time");
        }
        let args = calls[0]["function"]["arguments"].as_str().unwrap();
        let parsed: Value = serde_json::from_str(args).unwrap_or_else(|e| panic!("{e}: {args}"));
        let params = &tools.iter().find(|t| t.name == name).unwrap().parameters;
        assert!(validator(params).is_valid(&parsed), "{name}({args})");
        // streamed: the same call, id and name first, then the arguments
        let mut sb = body.clone();
        sb["stream"] = json!(true);
        let f = frames(&post(s.addr, "/v1/chat/completions", &sb).body);
        let sc = streamed_calls(&data(&f));
        assert_eq!(sc.len(), 1);
        assert_eq!((sc[0].1.as_str(), sc[0].2.as_str()), (name, args));
        assert_eq!(streamed_text(&f), "");
    }
    // the loop: the call and its result go back; the template writes them its own way
    let call = json!({"id": "call_1", "type": "function",
                      "function": {"name": "get_weather",
                                   "arguments": "{\"city\": \"Paris\", \"unit\": \"celsius\"}"}});
    let body = json!({"messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": null, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\": 21}"}],
        "tools": tools_list, "tool_choice": "none", "max_tokens": 8, "seed": 1});
    let r = post(s.addr, "/v1/chat/completions", &body);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    assert!(v["choices"][0]["message"]["content"].is_string());
    let mut said = Message::assistant("");
    said.tool_calls = vec![ToolCall {
        id: "call_1".into(),
        name: "get_weather".into(),
        arguments: call["function"]["arguments"].as_str().unwrap().into(),
    }];
    let messages = [user, said, Message::tool("{\"temp\": 21}", "call_1")];
    let text = t.render(&messages, true).unwrap();
    assert!(text.contains(
        "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}<|eot_id|>\
         <|start_header_id|>ipython<|end_header_id|>\n\n\"{\\\"temp\\\": 21}\"<|eot_id|>"
    ), "{text}");
    assert_eq!(
        v["usage"]["prompt_tokens"],
        t.encode(tok, &messages, true).unwrap().len()
    );
    s.stop().unwrap();
}
