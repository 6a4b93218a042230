//! The tool-call pieces that need no model: the generic format's schema (checked by the
//! independent `jsonschema` validator and compiled by `constrain::compile`), the history
//! rewrite, and the streaming [`Splitter`]: a reply fed in any pieces gives the same content
//! and calls as the reply read whole, the arguments are exactly the reply's bytes (so they
//! parse to the value the model wrote), and string escapes decode as `serde_json` decodes them.

mod constrain_common;

use constrain_common::validator;
use glassbox::chat::{Message, ToolCall};
use glassbox::constrain::compile;
use glassbox::tools::{self, generic, Delta, Reply, Splitter, Tool, ToolChoice, GENERIC};
use proptest::prelude::*;
use serde_json::{json, Value};

fn weather() -> Tool {
    Tool {
        name: "get_weather".into(),
        description: Some("The weather in a city now.".into()),
        parameters: json!({"type": "object", "properties": {
            "city": {"type": "string"},
            "unit": {"enum": ["celsius", "fahrenheit"]}},
            "required": ["city", "unit"], "additionalProperties": false}),
    }
}

/// A pydantic-style tool: a nested model through its own `$defs`.
fn invoice() -> Tool {
    Tool {
        name: "file_invoice".into(),
        description: None,
        parameters: json!({
            "$defs": {"Money": {"type": "object", "properties": {
                "amount": {"type": "number"}, "currency": {"type": "string"}},
                "required": ["amount", "currency"], "additionalProperties": false}},
            "type": "object",
            "properties": {"company": {"type": "string"}, "total": {"$ref": "#/$defs/Money"}},
            "required": ["company", "total"], "additionalProperties": false}),
    }
}

fn valid(schema: &Value, instance: Value) -> bool {
    validator(schema).is_valid(&instance)
}

#[test]
fn generic_schema_admits_exactly_calls_and_answers() {
    let tools = [weather(), invoice()];
    let call = json!({"tool_call": {"name": "get_weather",
                                    "arguments": {"city": "Paris", "unit": "celsius"}}});
    let nested = json!({"tool_call": {"name": "file_invoice", "arguments":
        {"company": "ACME", "total": {"amount": 12.5, "currency": "EUR"}}}});
    let answer = json!({"response": "Hello."});
    let wrong_name = json!({"tool_call": {"name": "get_time", "arguments": {}}});
    let wrong_args = json!({"tool_call": {"name": "get_weather",
                                          "arguments": {"city": "Paris", "unit": "kelvin"}}});
    // the nested model's `$ref` was moved along with it
    let wrong_nested = json!({"tool_call": {"name": "file_invoice", "arguments":
        {"company": "ACME", "total": {"amount": "12"}}}});

    let auto = generic::schema(&tools, &ToolChoice::Auto, None);
    compile(&auto).expect("the mask compiles the auto schema");
    assert!(valid(&auto, call.clone()) && valid(&auto, nested.clone()));
    assert!(valid(&auto, answer.clone()));
    for bad in [&wrong_name, &wrong_args, &wrong_nested] {
        assert!(!valid(&auto, bad.clone()), "{bad}");
    }

    let required = generic::schema(&tools, &ToolChoice::Required, None);
    compile(&required).unwrap();
    assert!(valid(&required, call.clone()) && valid(&required, nested.clone()));
    assert!(!valid(&required, answer.clone()));

    let named = generic::schema(&tools, &ToolChoice::Function("file_invoice".into()), None);
    compile(&named).unwrap();
    assert!(valid(&named, nested) && !valid(&named, call) && !valid(&named, answer));

    // auto with response_format: the answer follows that schema instead of being a string
    let format = json!({"type": "object", "properties": {"ok": {"type": "boolean"}},
                        "required": ["ok"], "additionalProperties": false});
    let s = generic::schema(&tools, &ToolChoice::Auto, Some(&format));
    compile(&s).unwrap();
    assert!(valid(&s, json!({"response": {"ok": true}})));
    assert!(!valid(&s, json!({"response": "yes"})));
}

#[test]
fn plan_keeps_the_choice_in_one_place() {
    let msgs = [
        Message::system("Be brief."),
        Message::user("Weather in Paris?"),
    ];
    let with = |choice| Reply {
        format: None,
        tools: vec![weather()],
        choice,
    };
    // none: no mask, no split; the tools are still described, as not callable now
    let p = tools::plan(&with(ToolChoice::None), &msgs, false);
    assert_eq!((&p.schema, p.shape), (&None, None));
    assert!(p.messages[0].content.contains("get_weather"));
    assert!(p.messages[0]
        .content
        .ends_with("answer the user directly, in plain words."));
    assert_eq!(p.messages[1], msgs[1]);
    // no tools: the messages as they came
    let p = tools::plan(&Reply::default(), &msgs, false);
    assert_eq!(
        (p.messages.as_slice(), &p.schema, p.shape),
        (&msgs[..], &None, None)
    );
    // auto: the tools are described at the end of the system message
    let p = tools::plan(&with(ToolChoice::Auto), &msgs, false);
    assert_eq!(p.messages.len(), 2);
    let sys = &p.messages[0].content;
    assert!(
        sys.starts_with("Be brief.\n\nYou can call these tools:\n"),
        "{sys}"
    );
    assert!(sys.contains(r#"{"name":"get_weather","description":"The weather in a city now.""#));
    assert!(sys.contains(r#"{"response": "<your answer>"}"#));
    assert_eq!(p.shape, Some(GENERIC));
    // no system message: one is added first
    let p = tools::plan(&with(ToolChoice::Required), &msgs[1..], false);
    assert_eq!(p.messages[0].role, "system");
    assert!(!p.messages[0].content.contains("\"response\""));
    // response_format alone: its schema, no split
    let r = Reply {
        format: Some(json!({"type": "object"})),
        ..Reply::default()
    };
    let p = tools::plan(&r, &msgs, false);
    assert_eq!((p.schema, p.shape), (Some(json!({"type": "object"})), None));
}

#[test]
fn history_reads_as_the_model_wrote_it() {
    let mut call = Message::assistant("");
    call.tool_calls = vec![ToolCall {
        id: "call_1".into(),
        name: "get_weather".into(),
        arguments: r#"{"city": "Paris", "unit": "celsius"}"#.into(),
    }];
    let mut result = Message::new("tool", r#"{"temp": 21}"#);
    result.tool_call_id = Some("call_1".into());
    let mut plain = Message::new("tool", "sunny");
    plain.tool_call_id = Some("call_unknown".into());
    let h = generic::history(&[Message::user("Weather?"), call, result, plain]);
    assert_eq!(h[0], Message::user("Weather?"));
    let said = r#"{"tool_call": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}"#;
    assert_eq!(h[1], Message::assistant(said));
    // and the splitter reads it back as the same call
    let (content, calls) = Splitter::split(GENERIC, said);
    assert_eq!(content, "");
    assert_eq!(
        calls,
        vec![(
            "get_weather".to_string(),
            r#"{"city": "Paris", "unit": "celsius"}"#.to_string()
        )]
    );
    assert_eq!(
        h[2],
        Message::user(r#"{"tool_response":{"name":"get_weather","content":{"temp":21}}}"#)
    );
    // a result that is not JSON stays a string; a call id that matches nothing: no name
    assert_eq!(
        h[3],
        Message::user(r#"{"tool_response":{"content":"sunny"}}"#)
    );
}

/// Content and calls from deltas, as a client reassembles a stream.
fn reassemble(deltas: impl IntoIterator<Item = Delta>) -> (String, Vec<(String, String)>) {
    let (mut content, mut calls) = (String::new(), Vec::<(String, String)>::new());
    for d in deltas {
        match d {
            Delta::Content(t) => content.push_str(&t),
            Delta::Call(n) => calls.push((n, String::new())),
            Delta::Arguments(a) => calls
                .last_mut()
                .expect("arguments after a name")
                .1
                .push_str(&a),
        }
    }
    (content, calls)
}

/// Feed `reply` cut at the char boundaries `cuts`; the deltas in order.
fn streamed(reply: &str, cuts: &[usize]) -> Vec<Delta> {
    let mut s = Splitter::new(GENERIC);
    let mut out = Vec::new();
    let mut at = 0;
    for &c in cuts.iter().chain([reply.len()].iter()) {
        out.extend(s.push(&reply[at..c]));
        at = c;
    }
    out
}

#[test]
fn escapes_decode_like_serde_json() {
    let reply = r#"{"response": "a\"b\\c\/d\ne\tf\u00e9\ud83d\ude00 \u4e2d é"}"#;
    let want: Value = serde_json::from_str(reply).unwrap();
    let (content, calls) = Splitter::split(GENERIC, reply);
    assert_eq!(content, want["response"].as_str().unwrap());
    assert!(calls.is_empty());
    // one character at a time: the same text, and the call's name only once it is whole
    let cuts: Vec<usize> = reply.char_indices().map(|(i, _)| i).skip(1).collect();
    assert_eq!(reassemble(streamed(reply, &cuts)).0, content);
    let call = r#"{"tool_call": {"name": "get_weather", "arguments": {"city": "Z\u00fcrich"}}}"#;
    let cuts: Vec<usize> = (1..call.len()).collect();
    let d = streamed(call, &cuts);
    assert_eq!(d[0], Delta::Call("get_weather".into()), "{d:?}");
    assert_eq!(
        reassemble(d).1,
        vec![("get_weather".into(), r#"{"city": "Z\u00fcrich"}"#.into())]
    );
    // a response that is not a string (auto with response_format): its JSON text
    let (content, _) = Splitter::split(GENERIC, r#"{"response": {"ok": [true, 1.5e3]}}"#);
    assert_eq!(content, r#"{"ok": [true, 1.5e3]}"#);
}

/// Random JSON values: nested objects and arrays, strings with escapes and non-ASCII.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e6f64..1e6).prop_map(|x| json!(x)),
        "[a-z\"\\\\/\n\té中😀 ]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z\"é]{1,5}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Any arguments, compact or pretty, cut anywhere: the call's arguments are the exact
    /// bytes written, they parse back to the value, and pieces change nothing.
    #[test]
    fn any_cut_gives_the_same_call(args in any_json(), text in "[a-zé\"\\\\\n]{0,12}",
                                   pretty in any::<bool>(), seed in any::<u64>()) {
        let obj = json!({"tool_call": {"name": "f_1", "arguments": args}});
        let reply = if pretty { serde_json::to_string_pretty(&obj) } else { serde_json::to_string(&obj) }.unwrap();
        let (content, calls) = Splitter::split(GENERIC, &reply);
        prop_assert_eq!(&content, "");
        prop_assert_eq!(calls.len(), 1);
        prop_assert_eq!(&calls[0].0, "f_1");
        let back: Value = serde_json::from_str(&calls[0].1).unwrap();
        prop_assert_eq!(&back, &obj["tool_call"]["arguments"]);
        prop_assert!(reply.contains(&calls[0].1));

        // pieces at random char boundaries (a token's text is whole characters)
        let bounds: Vec<usize> = reply.char_indices().map(|(i, _)| i).skip(1).collect();
        let mut cuts: Vec<usize> = bounds.iter().copied()
            .filter(|i| (seed.wrapping_mul(*i as u64 | 1) >> 7) % 3 == 0).collect();
        cuts.sort();
        prop_assert_eq!(reassemble(streamed(&reply, &cuts)), (content, calls));

        // a plain answer
        let answer = serde_json::to_string(&json!({"response": text})).unwrap();
        let every: Vec<usize> = answer.char_indices().map(|(i, _)| i).skip(1).collect();
        prop_assert_eq!(reassemble(streamed(&answer, &every)), (text, vec![]));
    }
}
