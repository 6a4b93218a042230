//! The schema compiler on bad input: every schema it cannot honour is an error naming the
//! keyword and where it is (a JSON pointer), never a panic, never a hang, never a keyword
//! silently ignored. And what real clients send (pydantic, OpenAI strict mode) compiles.

use glassbox::constrain::{compile, Recognizer, SchemaError};
use serde_json::{json, Value};

fn error(schema: Value) -> SchemaError {
    match compile(&schema) {
        Ok(_) => panic!("compiled, but should not: {schema}"),
        Err(e) => e,
    }
}

fn expect(schema: Value, path: &str, keyword: &str, words: &str) {
    let e = error(schema.clone());
    assert_eq!(
        (e.path.as_str(), e.keyword.as_str()),
        (path, keyword),
        "{e} for {schema}"
    );
    assert!(
        e.to_string().contains(words),
        "{e:?} should mention {words:?}"
    );
    assert!(e.to_string().contains(path));
}

#[test]
fn unsupported_keywords_are_named_with_their_path() {
    expect(
        json!({"type": "string", "pattern": "^a"}),
        "#",
        "pattern",
        "unsupported keyword",
    );
    expect(
        json!({"type": "object", "properties": {"age": {"type": "integer", "minimum": 0}}}),
        "#/properties/age",
        "minimum",
        "unsupported",
    );
    expect(
        json!({"oneOf": [{"type": "string"}]}),
        "#",
        "oneOf",
        "unsupported",
    );
    expect(
        json!({"type": "array", "uniqueItems": true}),
        "#",
        "uniqueItems",
        "unsupported",
    );
    expect(
        json!({"type": "array", "items": [{"type": "string"}]}),
        "#",
        "items",
        "tuple",
    );
    expect(
        json!({"type": "string", "format": "email"}),
        "#",
        "format",
        "\"email\" is not supported",
    );
    expect(
        json!({"type": "string", "format": "date", "maxLength": 3}),
        "#",
        "maxLength",
        "format",
    );
    expect(
        json!({"$ref": "#/$defs/A", "minLength": 1, "$defs": {"A": {}}}),
        "#",
        "minLength",
        "beside `$ref`",
    );
    expect(
        json!({"enum": ["a"], "maxLength": 3}),
        "#",
        "maxLength",
        "beside `enum`",
    );
    expect(json!({"allOf": [{}, {}]}), "#", "allOf", "exactly one");
    expect(
        json!({"type": "strin"}),
        "#",
        "type",
        "unknown type `strin`",
    );
    expect(
        json!({"type": "object", "properties": {"a/b": {"type": "thing"}}}),
        "#/properties/a~1b",
        "type",
        "unknown type",
    );
}

#[test]
fn a_schema_must_be_an_object() {
    for bad in [
        json!([]),
        json!("string"),
        json!(3),
        json!(null),
        json!(true),
    ] {
        let e = error(bad.clone());
        assert_eq!(e.path, "#");
        assert!(e.to_string().contains("must be a JSON object"), "{e}");
    }
    expect(
        json!({"properties": {"a": 5}}),
        "#/properties/a",
        "",
        "a schema must be an object or a boolean",
    );
    expect(
        json!({"properties": {"a": false}}),
        "#/properties/a",
        "",
        "accepts no value",
    );
}

#[test]
fn references_that_do_not_resolve() {
    expect(
        json!({"$ref": "#/$defs/Missing", "$defs": {}}),
        "#/$ref",
        "$ref",
        "does not resolve",
    );
    expect(
        json!({"$ref": "https://example.com/s.json"}),
        "#/$ref",
        "$ref",
        "only local references",
    );
    expect(json!({"$ref": 7}), "#/$ref", "$ref", "must be a string");
    expect(
        json!({"$ref": "#/$defs/A", "$defs": {"A": {"$ref": "#/$defs/B"}, "B": {"$ref": "#/$defs/A"}}}),
        "#",
        "$ref",
        "points to itself",
    );
}

#[test]
fn recursion_is_bounded_or_refused() {
    // always required: no finite instance
    expect(
        json!({"type": "object", "properties": {"child": {"$ref": "#"}}, "required": ["child"]}),
        "#",
        "$ref",
        "never ends",
    );
    // optional: compiles, and a depth-limited instance is accepted
    let g = compile(&json!({"type": "object", "properties": {"child": {"$ref": "#"}}})).unwrap();
    let mut r = Recognizer::new();
    assert!(r.try_bytes(&g, br#"{"child":{"child":{}}}"#));
    assert!(r.is_accepting(&g));
    // a deep chain of $defs is refused, not a stack overflow
    let mut defs = serde_json::Map::new();
    for i in 0..400 {
        defs.insert(
            format!("D{i}"),
            json!({"type": "array", "items": {"$ref": format!("#/$defs/D{}", i + 1)}}),
        );
    }
    defs.insert("D400".into(), json!({"type": "integer"}));
    let e = error(json!({"$ref": "#/$defs/D0", "$defs": defs}));
    assert!(e.to_string().contains("nest more than"), "{e}");
}

#[test]
fn empty_or_impossible_values() {
    expect(json!({"enum": []}), "#", "enum", "empty `enum`");
    expect(
        json!({"type": "integer", "enum": ["a", true]}),
        "#",
        "enum",
        "no value is of the schema's `type`",
    );
    expect(json!({"enum": "a"}), "#", "enum", "must be an array");
    expect(
        json!({"type": "string", "minLength": 5, "maxLength": 2}),
        "#",
        "minLength",
        "no string fits",
    );
    expect(
        json!({"type": "array", "minItems": 3, "maxItems": 1}),
        "#",
        "minItems",
        "no array fits",
    );
    expect(
        json!({"type": "string", "maxLength": -1}),
        "#",
        "maxLength",
        "non-negative integer",
    );
    expect(json!({"anyOf": []}), "#", "anyOf", "non-empty");
    expect(
        json!({"type": "object", "properties": {"a": {}}, "required": ["b"]}),
        "#",
        "required",
        "\"b\" is required but not declared",
    );
    expect(
        json!({"minLength": 1, "minItems": 1}),
        "#",
        "type",
        "several types",
    );
}

#[test]
fn what_clients_send_compiles() {
    // pydantic v2: `class Item(BaseModel): name: str; tags: list[str] = []; price: Optional[float] = None`
    // plus a nested model through $defs and an Enum
    let pydantic = json!({
        "$defs": {
            "Color": {"enum": ["red", "green"], "title": "Color", "type": "string"},
            "Maker": {"properties": {"name": {"title": "Name", "type": "string"}}, "required": ["name"], "title": "Maker", "type": "object"}
        },
        "properties": {
            "name": {"title": "Name", "type": "string"},
            "tags": {"default": [], "items": {"type": "string"}, "title": "Tags", "type": "array"},
            "price": {"anyOf": [{"type": "number"}, {"type": "null"}], "default": null, "title": "Price"},
            "color": {"$ref": "#/$defs/Color"},
            "maker": {"allOf": [{"$ref": "#/$defs/Maker"}], "description": "who made it"},
            "when": {"format": "date-time", "title": "When", "type": "string"}
        },
        "required": ["name", "color", "maker", "when"],
        "title": "Item",
        "type": "object"
    });
    let g = compile(&pydantic).unwrap();
    let mut r = Recognizer::new();
    let text = r#"{"name":"pen","price":null,"color":"red","maker":{"name":"Ink & Co"},"when":"2024-05-01T10:00:00Z"}"#;
    assert!(r.try_bytes(&g, text.as_bytes()) && r.is_accepting(&g));
    // OpenAI strict mode: every property required, additionalProperties false, nullable by type list
    let strict = json!({
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": ["string", "null"], "enum": ["c", "f", null]}},
        "required": ["city", "unit"],
        "additionalProperties": false,
        "$schema": "https://json-schema.org/draft/2020-12/schema"
    });
    let g = compile(&strict).unwrap();
    let mut r = Recognizer::new();
    assert!(r.try_bytes(&g, br#"{"city":"Paris","unit":null}"#) && r.is_accepting(&g));
}
