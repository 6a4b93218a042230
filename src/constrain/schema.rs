//! Stage 6a · compile a JSON Schema (the subset real clients send) into a [`Grammar`].
//!
//! The subset is what pydantic's `model_json_schema()` and OpenAI's strict mode produce:
//!
//! | keyword | meaning here |
//! |---|---|
//! | `type` (one or a list) | `string`, `number`, `integer`, `boolean`, `null`, `object`, `array`; a list is an `anyOf` |
//! | `properties`, `required` | emitted in schema order; optional ones may be skipped |
//! | `additionalProperties` | `false`, or absent beside `properties`: only declared keys; `true`: any other key, any value; a schema: other keys with that value; absent without `properties`: any object |
//! | `enum`, `const` | the values' compact JSON text (only `type` may stand beside them) |
//! | `items`, `minItems`, `maxItems` | one schema for every item |
//! | `minLength`, `maxLength` | counted in code points, as JSON Schema does |
//! | `format` | `date`, `date-time` (RFC 3339) |
//! | `anyOf`, `allOf` of one schema | alternatives; pydantic's wrapper around a `$ref` |
//! | `$ref`, `$defs`, `definitions` | local references only (`#`, `#/$defs/Name`, any JSON pointer in the document) |
//! | `title`, `description`, `default`, `examples`, `$comment`, `$schema` | annotations: accepted, no effect |
//!
//! Everything else (`pattern`, `minimum`, `oneOf`, `uniqueItems`, a tuple `items`, …) is an
//! error naming the keyword and where it is, never silently ignored: ignoring a constraint would
//! let the model write text that does not validate.

use super::grammar::{Builder, Format, Grammar, Literals, Node, NodeId, Object, Prop, ANY};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A schema this compiler cannot honour: where (a JSON pointer into the schema), which keyword,
/// and why.
#[derive(Clone, Debug, PartialEq)]
pub struct SchemaError {
    /// `#/properties/address/properties/zip`
    pub path: String,
    /// The keyword at fault (empty when the schema value itself is wrong).
    pub keyword: String,
    pub what: String,
}

impl std::fmt::Display for SchemaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.keyword.is_empty() {
            write!(f, "schema at {}: {}", self.path, self.what)
        } else {
            write!(
                f,
                "schema at {}: `{}`: {}",
                self.path, self.keyword, self.what
            )
        }
    }
}

impl std::error::Error for SchemaError {}

impl SchemaError {
    /// The crate's error (bad user input), its message naming the path and keyword. (No `From`
    /// impl: a second conversion into `Error` would break `?` type inference elsewhere.)
    pub fn into_error(self) -> crate::Error {
        crate::Error::invalid(self.to_string())
    }
}

type Res<T> = std::result::Result<T, SchemaError>;

/// Keywords with no effect on what is valid.
const ANNOTATIONS: &[&str] = &[
    "title",
    "description",
    "default",
    "examples",
    "$comment",
    "$schema",
];
/// Keywords that hold schemas for `$ref` to point into.
const CONTAINERS: &[&str] = &["$defs", "definitions"];
const OBJECT_KW: &[&str] = &["properties", "required", "additionalProperties"];
const ARRAY_KW: &[&str] = &["items", "minItems", "maxItems"];
const STRING_KW: &[&str] = &["minLength", "maxLength", "format"];
const OTHER_KW: &[&str] = &["type", "enum", "const", "anyOf", "allOf", "$ref"];
const TYPES: &[&str] = &[
    "string", "number", "integer", "boolean", "null", "object", "array",
];
/// Deepest chain of nested schemas (and `$ref`s) the compiler follows.
const MAX_SCHEMA_DEPTH: usize = 256;
/// Most declared properties in one object (the recognizer stores indices in 16 bits).
const MAX_PROPERTIES: usize = 4096;

/// Compile `schema` into a grammar.
pub fn compile(schema: &Value) -> Res<Grammar> {
    if !schema.is_object() {
        return Err(SchemaError {
            path: "#".into(),
            keyword: String::new(),
            what: format!("a schema must be a JSON object, found {}", kind_of(schema)),
        });
    }
    let mut c = Compiler {
        root: schema,
        b: Builder::new(),
        refs: HashMap::new(),
        depth: 0,
    };
    let root = c.node(schema, "#")?;
    c.b.finish(root).map_err(|what| SchemaError {
        path: "#".into(),
        keyword: "$ref".into(),
        what,
    })
}

struct Compiler<'s> {
    root: &'s Value,
    b: Builder,
    /// `$ref` string → its node (reserved before the target is compiled, so recursion ends).
    refs: HashMap<String, NodeId>,
    depth: usize,
}

fn err<T>(path: &str, keyword: &str, what: impl Into<String>) -> Res<T> {
    Err(SchemaError {
        path: path.to_string(),
        keyword: keyword.to_string(),
        what: what.into(),
    })
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// JSON pointer escaping of one path segment (`~` → `~0`, `/` → `~1`).
fn seg(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// A non-negative integer keyword (`minLength`, `maxItems`, …), capped at `u32::MAX - 1`.
fn count(m: &Map<String, Value>, key: &str, path: &str) -> Res<Option<u32>> {
    match m.get(key) {
        None => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) => Ok(Some(n.min(u32::MAX as u64 - 1) as u32)),
            None if v.as_f64().is_some_and(|f| f >= 0.0 && f.fract() == 0.0) => Ok(Some(
                (v.as_f64().unwrap_or(0.0) as u64).min(u32::MAX as u64 - 1) as u32,
            )),
            None => err(
                path,
                key,
                format!("must be a non-negative integer, found {v}"),
            ),
        },
    }
}

/// Whether `v` is an instance of the JSON type `t`.
fn has_type(v: &Value, t: &str) -> bool {
    match t {
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        _ => false,
    }
}

impl Compiler<'_> {
    /// Compile one schema (an object or a boolean) found at `path`.
    fn node(&mut self, s: &Value, path: &str) -> Res<NodeId> {
        self.depth += 1;
        if self.depth > MAX_SCHEMA_DEPTH {
            return err(
                path,
                "",
                format!("schemas nest more than {MAX_SCHEMA_DEPTH} levels deep"),
            );
        }
        let r = match s {
            Value::Bool(true) => Ok(ANY),
            Value::Bool(false) => err(path, "", "the schema `false` accepts no value"),
            Value::Object(m) => self.object_schema(m, path),
            other => err(
                path,
                "",
                format!(
                    "a schema must be an object or a boolean, found {}",
                    kind_of(other)
                ),
            ),
        };
        self.depth -= 1;
        r
    }

    fn object_schema(&mut self, m: &Map<String, Value>, path: &str) -> Res<NodeId> {
        // 1. every keyword must be one we honour
        for k in m.keys() {
            let known = [
                ANNOTATIONS,
                CONTAINERS,
                OBJECT_KW,
                ARRAY_KW,
                STRING_KW,
                OTHER_KW,
            ]
            .iter()
            .any(|list| list.contains(&k.as_str()));
            if !known {
                return err(
                    path,
                    k,
                    "unsupported keyword (supported: type, properties, required, \
                     additionalProperties, enum, const, items, minItems, maxItems, minLength, \
                     maxLength, format, anyOf, $ref, $defs; annotations are ignored)",
                );
            }
        }
        // 2. the keywords that stand alone: $ref, allOf, anyOf (annotations beside them are fine)
        let rest = |skip: &str| {
            m.keys()
                .find(|k| {
                    k.as_str() != skip
                        && !ANNOTATIONS.contains(&k.as_str())
                        && !CONTAINERS.contains(&k.as_str())
                })
                .cloned()
        };
        for solo in ["$ref", "allOf", "anyOf"] {
            if m.contains_key(solo) {
                if let Some(other) = rest(solo) {
                    return err(
                        path,
                        &other,
                        format!("not supported beside `{solo}` (wrap them in one schema)"),
                    );
                }
            }
        }
        if let Some(r) = m.get("$ref") {
            return self.reference(r, &format!("{path}/$ref"));
        }
        if let Some(a) = m.get("allOf") {
            return match a.as_array().map(|v| v.as_slice()) {
                Some([one]) => self.node(one, &format!("{path}/allOf/0")),
                _ => err(
                    path,
                    "allOf",
                    "only `allOf` with exactly one schema is supported",
                ),
            };
        }
        if let Some(a) = m.get("anyOf") {
            let Some(list) = a.as_array().filter(|l| !l.is_empty()) else {
                return err(path, "anyOf", "must be a non-empty array of schemas");
            };
            let mut alts = Vec::new();
            for (i, s) in list.iter().enumerate() {
                alts.push(self.node(s, &format!("{path}/anyOf/{i}"))?);
            }
            return Ok(self.b.push(Node::AnyOf(alts), path));
        }
        // 3. the types this schema allows
        let types: Option<Vec<String>> = match m.get("type") {
            None => None,
            Some(Value::String(t)) => Some(vec![t.clone()]),
            Some(Value::Array(ts)) if !ts.is_empty() => {
                let mut v = Vec::new();
                for t in ts {
                    match t.as_str() {
                        Some(s) => v.push(s.to_string()),
                        None => return err(path, "type", format!("{t} is not a type name")),
                    }
                }
                Some(v)
            }
            Some(other) => {
                return err(
                    path,
                    "type",
                    format!("must be a type name or a non-empty list of them, found {other}"),
                )
            }
        };
        if let Some(ts) = &types {
            if let Some(bad) = ts.iter().find(|t| !TYPES.contains(&t.as_str())) {
                return err(
                    path,
                    "type",
                    format!("unknown type `{bad}` (one of {})", TYPES.join(", ")),
                );
            }
        }
        // 4. enum / const: a set of exact values (of the allowed types)
        if m.contains_key("enum") || m.contains_key("const") {
            return self.literals(m, types.as_deref(), path);
        }
        // 5. one node per type; a list of types is an anyOf
        let types = match types {
            Some(ts) => ts,
            None => match infer_type(m, path)? {
                None => return Ok(ANY),
                Some(t) => vec![t.to_string()],
            },
        };
        let mut alts = Vec::new();
        for t in &types {
            alts.push(self.typed(m, t, path)?);
        }
        Ok(if alts.len() == 1 {
            alts[0]
        } else {
            self.b.push(Node::AnyOf(alts), path)
        })
    }

    /// A local `$ref`: compiled once, reserved before its target so that recursion ends.
    fn reference(&mut self, r: &Value, path: &str) -> Res<NodeId> {
        let Some(r) = r.as_str() else {
            return err(path, "$ref", format!("must be a string, found {r}"));
        };
        if let Some(&id) = self.refs.get(r) {
            return Ok(id);
        }
        let Some(pointer) = r.strip_prefix('#') else {
            return err(
                path,
                "$ref",
                format!("`{r}`: only local references (starting with `#`) are supported"),
            );
        };
        let Some(target) = self.root.pointer(pointer) else {
            return err(
                path,
                "$ref",
                format!("`{r}` does not resolve in this schema"),
            );
        };
        let id = self.b.push(Node::Ref(ANY), r);
        self.refs.insert(r.to_string(), id);
        let t = self.node(target, r)?;
        self.b.set(id, Node::Ref(t));
        Ok(id)
    }

    fn literals(
        &mut self,
        m: &Map<String, Value>,
        types: Option<&[String]>,
        path: &str,
    ) -> Res<NodeId> {
        let (kw, values) = match (m.get("enum"), m.get("const")) {
            (Some(_), Some(_)) => return err(path, "const", "give `enum` or `const`, not both"),
            (Some(Value::Array(vs)), None) => ("enum", vs.clone()),
            (Some(other), None) => {
                return err(
                    path,
                    "enum",
                    format!("must be an array, found {}", kind_of(other)),
                )
            }
            (None, Some(v)) => ("const", vec![v.clone()]),
            (None, None) => unreachable!("called only with enum or const"),
        };
        if let Some(k) = m.keys().find(|k| {
            !["enum", "const", "type"].contains(&k.as_str())
                && !ANNOTATIONS.contains(&k.as_str())
                && !CONTAINERS.contains(&k.as_str())
        }) {
            return err(
                path,
                k,
                format!("not supported beside `{kw}` (only `type` is)"),
            );
        }
        if values.is_empty() {
            return err(path, kw, "an empty `enum` allows no value at all");
        }
        let kept: Vec<Value> = values
            .into_iter()
            .filter(|v| types.is_none_or(|ts| ts.iter().any(|t| has_type(v, t))))
            .collect();
        if kept.is_empty() {
            return err(path, kw, "no value is of the schema's `type`");
        }
        Ok(self.b.push(Node::Literals(Literals::of(&kept)), path))
    }

    /// The node for one type, using the keywords that apply to it.
    fn typed(&mut self, m: &Map<String, Value>, t: &str, path: &str) -> Res<NodeId> {
        let node = match t {
            "null" => Node::Literals(Literals::of(&[Value::Null])),
            "boolean" => Node::Literals(Literals::of(&[Value::Bool(false), Value::Bool(true)])),
            "number" => Node::Number { integer: false },
            "integer" => Node::Number { integer: true },
            "string" => self.string(m, path)?,
            "array" => {
                let items = match m.get("items") {
                    None => ANY,
                    Some(Value::Array(_)) => {
                        return err(
                            path,
                            "items",
                            "a list of item schemas (tuple) is not supported",
                        )
                    }
                    Some(s) => self.node(s, &format!("{path}/items"))?,
                };
                let min = count(m, "minItems", path)?.unwrap_or(0);
                let max = count(m, "maxItems", path)?.unwrap_or(u32::MAX);
                if min > max {
                    return err(
                        path,
                        "minItems",
                        format!("{min} > maxItems {max}: no array fits"),
                    );
                }
                Node::Array { items, min, max }
            }
            "object" => self.object(m, path)?,
            _ => unreachable!("types were checked"),
        };
        Ok(self.b.push(node, path))
    }

    fn string(&mut self, m: &Map<String, Value>, path: &str) -> Res<Node> {
        let min = count(m, "minLength", path)?;
        let max = count(m, "maxLength", path)?;
        if let Some(f) = m.get("format") {
            let format = match f.as_str() {
                Some("date") => Format::Date,
                Some("date-time") => Format::DateTime,
                _ => {
                    return err(
                        path,
                        "format",
                        format!("{f} is not supported (supported: \"date\", \"date-time\")"),
                    )
                }
            };
            if min.is_some() || max.is_some() {
                let k = if min.is_some() {
                    "minLength"
                } else {
                    "maxLength"
                };
                return err(path, k, "not supported together with `format`");
            }
            return Ok(Node::Formatted(format));
        }
        let (min, max) = (min.unwrap_or(0), max.unwrap_or(u32::MAX));
        if min > max {
            return err(
                path,
                "minLength",
                format!("{min} > maxLength {max}: no string fits"),
            );
        }
        Ok(Node::String { min, max })
    }

    fn object(&mut self, m: &Map<String, Value>, path: &str) -> Res<Node> {
        let empty = Map::new();
        let props_v = match m.get("properties") {
            None => &empty,
            Some(Value::Object(p)) => p,
            Some(other) => {
                return err(
                    path,
                    "properties",
                    format!("must be an object, found {}", kind_of(other)),
                )
            }
        };
        if props_v.len() > MAX_PROPERTIES {
            return err(
                path,
                "properties",
                format!("more than {MAX_PROPERTIES} properties"),
            );
        }
        let mut required: Vec<&str> = Vec::new();
        match m.get("required") {
            None => {}
            Some(Value::Array(r)) => {
                for name in r {
                    let Some(n) = name.as_str() else {
                        return err(path, "required", format!("{name} is not a property name"));
                    };
                    if !props_v.contains_key(n) {
                        return err(
                            path,
                            "required",
                            format!("\"{n}\" is required but not declared in `properties`"),
                        );
                    }
                    required.push(n);
                }
            }
            Some(other) => {
                return err(
                    path,
                    "required",
                    format!("must be an array of names, found {}", kind_of(other)),
                )
            }
        }
        let mut props = Vec::new();
        for (name, s) in props_v {
            let node = self.node(s, &format!("{path}/properties/{}", seg(name)))?;
            props.push(Prop {
                name: name.clone(),
                key: serde_json::to_vec(&Value::String(name.clone())).unwrap_or_default(),
                node,
                required: required.contains(&name.as_str()),
            });
        }
        let additional = match m.get("additionalProperties") {
            // `{"type": "object"}` alone: any object
            None if !m.contains_key("properties") => Some(ANY),
            None | Some(Value::Bool(false)) => None,
            Some(s) => Some(self.node(s, &format!("{path}/additionalProperties"))?),
        };
        Ok(Node::Object(Object::new(props, additional)))
    }
}

/// The type a schema without `type` describes, from its keywords; any value if none says.
fn infer_type(m: &Map<String, Value>, path: &str) -> Res<Option<&'static str>> {
    let has = |kws: &[&str]| kws.iter().any(|k| m.contains_key(*k));
    match (has(OBJECT_KW), has(ARRAY_KW), has(STRING_KW)) {
        (false, false, false) => Ok(None),
        (true, false, false) => Ok(Some("object")),
        (false, true, false) => Ok(Some("array")),
        (false, false, true) => Ok(Some("string")),
        _ => err(
            path,
            "type",
            "keywords of several types without a `type`: say which type is meant",
        ),
    }
}
