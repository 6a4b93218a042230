//! The recognizer on worked examples: which texts a schema's recognizer reads to the end, where
//! it refuses the first bad byte, and when end-of-sequence is allowed.

use glassbox::constrain::{compile, Grammar, Recognizer};
use serde_json::json;

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

fn person() -> Grammar {
    compile(&json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 5},
            "age": {"type": "integer"},
            "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2}
        },
        "required": ["name"]
    }))
    .unwrap()
}

#[test]
fn two_field_object() {
    let g = person();
    assert_eq!(read(&g, r#"{"name":"Al","age":42}"#), Ok(true));
    assert_eq!(read(&g, r#"{"name":"Al"}"#), Ok(true));
    assert_eq!(
        read(&g, r#"{ "name" : "Al" , "tags" : [ "a" , "b" ] }"#),
        Ok(true)
    );
    assert_eq!(
        read(&g, "{\n  \"name\": \"Al\",\n  \"age\": -0\n}"),
        Ok(true)
    );
    // incomplete: readable, not accepting
    assert_eq!(read(&g, r#"{"name":"Al","age":4"#), Ok(false));
    assert_eq!(read(&g, r#"{"na"#), Ok(false));
    // the first bad byte
    assert_eq!(read(&g, r#"{"age":1}"#), Err(2), "name is required first");
    assert_eq!(read(&g, r#"{"name":"Alfred"}"#), Err(14), "maxLength 5");
    assert_eq!(
        read(&g, r#"{"name":"Al","age":1.5}"#),
        Err(20),
        "integer: no fraction"
    );
    assert_eq!(
        read(&g, r#"{"name":"Al","age":01}"#),
        Err(20),
        "no leading zero"
    );
    assert_eq!(
        read(&g, r#"{"name":"Al","tags":["a","b","a"]}"#),
        Err(28),
        "maxItems 2"
    );
    assert_eq!(read(&g, r#"{"name":"Al","tags":["c"]}"#), Err(22), "enum");
    assert_eq!(
        read(&g, r#"{"name":"Al","age":1,"name":"B"}"#),
        Err(22),
        "no repeats"
    );
    assert_eq!(
        read(&g, r#"{"name":"Al"} "#),
        Err(13),
        "nothing after the value"
    );
    assert_eq!(
        read(&g, r#"{"name":"A\u00e9"}"#),
        Ok(true),
        "an escape is one character"
    );
    assert_eq!(
        read(&g, r#"{"name":"A\ud83d"}"#),
        Err(13),
        "no escaped surrogates"
    );
    assert_eq!(read(&g, "{\"name\":\"A\u{e9}\u{1F600}\"}"), Ok(true));
    assert_eq!(read(&g, "{\"name\":\"A\x01\"}"), Err(10), "control byte");
}

#[test]
fn utf8_is_checked_byte_by_byte() {
    let g = compile(&json!({"type": "string"})).unwrap();
    let mut r = Recognizer::new();
    assert!(r.try_bytes(&g, b"\"\xc3"));
    assert!(
        !r.clone().try_byte(&g, b'"'),
        "a split character cannot be closed"
    );
    assert!(r.try_byte(&g, 0xa9));
    assert!(
        !Recognizer::new().try_bytes(&g, b"\"\xed\xa0\x80\""),
        "UTF-8 surrogate"
    );
    assert!(
        !Recognizer::new().try_bytes(&g, b"\"\xc0\x80\""),
        "overlong"
    );
    assert!(
        !Recognizer::new().try_bytes(&g, b"\"\xf4\x90\x80\x80\""),
        "above U+10FFFF"
    );
}

#[test]
fn numbers_end_where_the_parent_continues() {
    let g = compile(&json!({"type": "array", "items": {"type": "number"}})).unwrap();
    assert_eq!(read(&g, "[1,-0.5,2e10,3E-2,0]"), Ok(true));
    assert_eq!(read(&g, "[1.]"), Err(3));
    assert_eq!(read(&g, "[-]"), Err(2));
    assert_eq!(read(&g, "[1e]"), Err(3));
    assert_eq!(read(&g, "[1e100]"), Err(5), "at most two exponent digits");
    let root = compile(&json!({"type": "integer"})).unwrap();
    assert_eq!(
        read(&root, "12"),
        Ok(true),
        "a root number may end at end-of-sequence"
    );
    assert_eq!(read(&root, "-"), Ok(false));
}

#[test]
fn any_of_follows_alternatives_in_parallel() {
    let g = compile(&json!({"anyOf": [{"type": "integer"}, {"type": "number"}, {"type": "null"}]}))
        .unwrap();
    assert_eq!(read(&g, "12"), Ok(true));
    assert_eq!(read(&g, "12.5"), Ok(true));
    assert_eq!(read(&g, "null"), Ok(true));
    assert_eq!(read(&g, "nul"), Ok(false));
    let g = compile(&json!({"type": ["string", "null"], "maxLength": 2})).unwrap();
    assert_eq!(read(&g, "\"ab\""), Ok(true));
    assert_eq!(read(&g, "\"abc\""), Err(3));
    assert_eq!(read(&g, "null"), Ok(true));
}

#[test]
fn enum_literals_share_prefixes() {
    let g = compile(&json!({"enum": [1, 12, "red", "re", true, null]})).unwrap();
    for ok in ["1", "12", "\"red\"", "\"re\"", "true", "null"] {
        assert_eq!(read(&g, ok), Ok(true), "{ok}");
    }
    assert_eq!(read(&g, "123"), Err(2));
    assert_eq!(read(&g, "\"r\""), Err(2));
    assert_eq!(read(&g, "false"), Err(0));
}

#[test]
fn dates_are_real_calendar_days() {
    let g = compile(&json!({"type": "string", "format": "date"})).unwrap();
    assert_eq!(read(&g, "\"2024-02-29\""), Ok(true), "leap year");
    assert_eq!(read(&g, "\"2023-02-29\""), Err(10));
    assert_eq!(read(&g, "\"2023-04-31\""), Err(10));
    assert_eq!(read(&g, "\"2023-13-01\""), Err(7));
    assert_eq!(read(&g, "\"0000-01-01\""), Err(4));
    let g = compile(&json!({"type": "string", "format": "date-time"})).unwrap();
    for ok in [
        "2024-01-31T23:59:59Z",
        "2024-01-31T00:00:00.123+05:30",
        "1999-12-31T12:00:00-08:00",
    ] {
        assert_eq!(read(&g, &format!("\"{ok}\"")), Ok(true), "{ok}");
    }
    assert_eq!(read(&g, "\"2024-01-31T24:00:00Z\""), Err(13));
    assert_eq!(
        read(&g, "\"2024-01-31T23:00:00\""),
        Err(20),
        "an offset is required"
    );
}

#[test]
fn additional_properties() {
    let g = compile(&json!({
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["b"],
        "additionalProperties": {"type": "boolean"}
    }))
    .unwrap();
    assert_eq!(read(&g, r#"{"x":true,"b":1}"#), Ok(true));
    assert_eq!(read(&g, r#"{"b":1,"ab":false}"#), Ok(true));
    assert_eq!(
        read(&g, r#"{"b":1,"a":false}"#),
        Err(9),
        "a declared name is not an extra key"
    );
    assert_eq!(
        read(&g, r#"{"b":1,"x":1}"#),
        Err(11),
        "extra values follow additionalProperties"
    );
    let any = Grammar::json_object();
    assert_eq!(read(&any, r#"{"k":[1,{"z":null}],"\u00e9":"x"}"#), Ok(true));
    assert_eq!(read(&any, "[1]"), Err(0), "json_object mode: an object");
}

#[test]
fn recursion_is_bounded_and_never_a_dead_end() {
    let g = compile(&json!({
        "type": "object",
        "properties": {"v": {"type": "integer"}, "next": {"anyOf": [{"$ref": "#"}, {"type": "null"}]}},
        "required": ["v", "next"]
    }))
    .unwrap();
    assert_eq!(read(&g, r#"{"v":1,"next":{"v":2,"next":null}}"#), Ok(true));
    // nest as deep as allowed: the innermost level must choose null
    let mut text = String::new();
    let mut depth = 0;
    let mut r = Recognizer::new();
    loop {
        let open = r#"{"v":1,"next":{"#;
        let mut probe = r.clone();
        if !probe.try_bytes(&g, open.as_bytes()) {
            break;
        }
        r.try_bytes(&g, br#"{"v":1,"next":"#);
        text.push_str(r#"{"v":1,"next":"#);
        depth += 1;
    }
    assert!(depth > 5 && depth < 32, "depth {depth}");
    assert!(r.try_bytes(&g, b"null"));
    for _ in 0..depth {
        assert!(r.try_byte(&g, b'}'));
    }
    assert!(r.is_accepting(&g));
}
