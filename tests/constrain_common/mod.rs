//! Shared by the constrained-decoding tests: the real SmolLM2 vocabulary, an independent
//! validator (the `jsonschema` crate, formats checked), a hand-written generator of random
//! schemas from the supported subset and of random instances valid against them, and a
//! completion helper that finishes any prefix the recognizer accepted.
#![allow(dead_code)]

use glassbox::constrain::grammar::Node;
use glassbox::constrain::recognizer::{ArrPhase, Frame, ObjPhase};
use glassbox::constrain::string::StrState;
use glassbox::constrain::{Grammar, Recognizer, Vocab};
use glassbox::sampler::Pcg32;
use glassbox::tokenizer::Tokenizer;
use serde_json::{json, Map, Value};
use std::sync::OnceLock;

/// The tokenizer of the default model (SmolLM2-135M-Instruct, fetched on first use).
pub fn smollm2_tokenizer() -> &'static Tokenizer {
    static T: OnceLock<Tokenizer> = OnceLock::new();
    T.get_or_init(|| {
        let path = glassbox::data::default_model().expect("the default model");
        Tokenizer::load(&path).expect("SmolLM2's tokenizer")
    })
}

/// Its vocabulary prepared for masks; end-of-sequence = the chat stop ids.
pub fn smollm2_vocab() -> &'static Vocab {
    static V: OnceLock<Vocab> = OnceLock::new();
    V.get_or_init(|| {
        let tok = smollm2_tokenizer();
        Vocab::new(tok, &glassbox::chat::stop_token_ids(tok))
    })
}

/// An independent validator for `schema` (jsonschema crate, Draft 2020-12, formats checked).
pub fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .unwrap_or_else(|e| panic!("jsonschema refuses the schema {schema}: {e}"))
}

/// Parse and validate `text`; the error says what is wrong.
pub fn check(v: &jsonschema::Validator, text: &str) -> Result<Value, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("does not parse: {e}"))?;
    if let Some(e) = v.iter_errors(&value).next() {
        return Err(format!("does not validate: {e} at {}", e.instance_path()));
    }
    Ok(value)
}

/// A way to finish a prefix the recognizer accepted, byte by byte: the byte that closes the
/// innermost open value soonest (read off the top frame: a string's closing quote, the next
/// byte of the declared key or literal being written, the next required key, the shallowest
/// `anyOf` alternative, …), else the first byte the recognizer takes. Every byte is checked by
/// the recognizer and the finished text by the independent validator, so this guide only needs
/// to be good, not right. `None` if no byte is taken (a dead end) or after 10,000 bytes.
pub fn try_complete(g: &Grammar, r: &Recognizer) -> Option<Vec<u8>> {
    let mut r = r.clone();
    let mut out = Vec::new();
    while !r.is_accepting(g) {
        if out.len() > 10_000 {
            return None;
        }
        let stack: Vec<Frame> = r.stacks().next()?.to_vec();
        let b = closing_bytes(g, &stack)
            .into_iter()
            .chain(0..=255u8)
            .find(|&b| r.clone().try_byte(g, b))?;
        r.try_byte(g, b);
        out.push(b);
    }
    Some(out)
}

pub fn complete(g: &Grammar, r: &Recognizer) -> Vec<u8> {
    try_complete(g, r).unwrap_or_else(|| panic!("no completion from {r:?}"))
}

/// The first bytes of a value of `node`, shallowest alternatives first.
fn value_start(g: &Grammar, node: u32) -> Vec<u8> {
    match &g.nodes[node as usize] {
        Node::String { .. } | Node::Formatted(_) => vec![b'"'],
        Node::Number { .. } | Node::Any => vec![b'0'],
        Node::Literals(l) => l.0.iter().map(|t| t[0]).collect(),
        Node::Object(_) => vec![b'{'],
        Node::Array { .. } => vec![b'['],
        Node::AnyOf(alts) => {
            let mut alts = alts.clone();
            alts.sort_by_key(|&a| g.min_frames[a as usize]);
            alts.iter().flat_map(|&a| value_start(g, a)).collect()
        }
        Node::Ref(_) => vec![],
    }
}

fn closing_bytes(g: &Grammar, stack: &[Frame]) -> Vec<u8> {
    let n = stack.len();
    match stack[n - 1] {
        Frame::Root { .. } => value_start(g, g.root),
        Frame::Object {
            node,
            phase,
            next,
            cur,
            ..
        } => {
            let o = g.object(node);
            let required_left =
                (o.req_from[(next as usize).min(o.props.len())] as usize) < o.props.len();
            match phase {
                ObjPhase::Open | ObjPhase::AfterValue if !required_left => vec![b'}'],
                ObjPhase::Open | ObjPhase::AfterComma => vec![b'"'],
                ObjPhase::AfterValue => vec![b','],
                ObjPhase::AfterKey => vec![b':'],
                ObjPhase::AfterColon if cur == u16::MAX => {
                    value_start(g, o.additional.unwrap_or(0))
                }
                ObjPhase::AfterColon => value_start(g, o.props[cur as usize].node),
                ObjPhase::Key | ObjPhase::Value => vec![],
            }
        }
        Frame::Key { rep, pos, .. } => match stack[n - 2] {
            Frame::Object { node, .. } if rep != u16::MAX => {
                vec![g.object(node).props[rep as usize].key[pos as usize]]
            }
            _ => b"\"x".to_vec(),
        },
        Frame::Array {
            node, phase, count, ..
        } => {
            let Node::Array { items, min, .. } = g.nodes[node as usize] else {
                return vec![];
            };
            match phase {
                ArrPhase::Open | ArrPhase::AfterValue if count >= min => vec![b']'],
                ArrPhase::AfterValue => vec![b','],
                _ => value_start(g, items),
            }
        }
        Frame::String { node, len, sub } => match (sub, &g.nodes[node as usize]) {
            (StrState::Idle, Node::String { min, .. }) if len >= *min => vec![b'"'],
            (StrState::Idle, _) => vec![b'a'],
            (StrState::Escape, _) => vec![b'n'],
            (StrState::Hex(_) | StrState::HexD, _) => vec![b'0'],
            _ => vec![0x80, 0x90, 0xa0],
        },
        Frame::Formatted { pos, .. } => {
            let template = b"2000-01-01T00:00:00Z";
            let mut v: Vec<u8> = template.get(pos as usize).copied().into_iter().collect();
            v.extend_from_slice(b"0123456789Z:\"");
            v
        }
        Frame::Number { .. } => b"0}],".to_vec(),
        Frame::Literal { node, lo, pos, .. } => vec![g.literals(node)[lo as usize][pos as usize]],
    }
}

/// Random schemas of the supported subset and instances valid against them.
pub struct Gen {
    pub rng: Pcg32,
    defs: Map<String, Value>,
}

const NAMES: &[&str] = &[
    "name", "age", "id", "tags", "a", "ab", "b", "city", "na\"me", "é", "x y", "n",
];
const EXTRA_NAMES: &[&str] = &["extra", "zz", "k1", "ü", "a b"];
const STRINGS: &[&str] = &[
    "red",
    "re",
    "",
    "a\"b",
    "é",
    "中文",
    "😀",
    "back\\slash",
    "new\nline",
];

impl Gen {
    pub fn new(seed: u64) -> Gen {
        Gen {
            rng: Pcg32::new(seed),
            defs: Map::new(),
        }
    }

    pub fn below(&mut self, n: u32) -> u32 {
        self.rng.next_u32() % n
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.next_f64() < p
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u32) as usize]
    }

    // ---- schemas ----

    /// A root schema: an object most of the time (that is what applications ask for), with
    /// `$defs` when references were made, sometimes recursive through an optional property.
    pub fn root_schema(&mut self) -> Value {
        self.defs.clear();
        let mut s = if self.chance(0.8) {
            self.object(2)
        } else {
            self.schema(2)
        };
        if !s.is_object() {
            s = json!({}); // a schema document is an object: `{}` is any value
        }
        if let Some(m) = s.as_object_mut() {
            if m.contains_key("properties") && self.chance(0.2) {
                let props = m["properties"].as_object_mut().unwrap();
                props.insert(
                    "next".into(),
                    json!({"anyOf": [{"$ref": "#"}, {"type": "null"}]}),
                );
            }
            if !self.defs.is_empty() {
                m.insert("$defs".into(), Value::Object(self.defs.clone()));
            }
        }
        s
    }

    fn annotate(&mut self, mut s: Value) -> Value {
        if !s.is_object() {
            return s;
        }
        if self.chance(0.2) {
            s["description"] = json!("a field");
        }
        if self.chance(0.1) {
            s["title"] = json!("T");
        }
        s
    }

    pub fn schema(&mut self, depth: u32) -> Value {
        let kinds = if depth == 0 { 9 } else { 15 };
        let s = match self.below(kinds) {
            0 => {
                let mut s = json!({"type": "string"});
                if self.chance(0.4) {
                    s["minLength"] = json!(self.below(3));
                }
                if self.chance(0.5) {
                    s["maxLength"] = json!(3 + self.below(10));
                }
                s
            }
            1 => json!({"type": "integer"}),
            2 => json!({"type": "number"}),
            3 => json!({"type": "boolean"}),
            4 => json!({"type": "null"}),
            5 => {
                let n = 1 + self.below(5);
                let vals: Vec<Value> = (0..n).map(|_| self.scalar()).collect();
                json!({ "enum": vals })
            }
            6 => json!({ "const": self.scalar() }),
            7 => json!({"type": "string", "format": *self.pick(&["date", "date-time"])}),
            8 => {
                let types = [
                    json!(["string", "null"]),
                    json!(["integer", "string"]),
                    json!(["number", "null", "boolean"]),
                ];
                json!({ "type": self.pick(&types).clone(), "maxLength": 8 })
            }
            9 | 10 => self.object(depth - 1),
            11 => {
                let mut s = json!({"type": "array", "items": self.schema(depth - 1)});
                if self.chance(0.3) {
                    s.as_object_mut().unwrap().remove("items");
                }
                let min = self.below(3);
                if self.chance(0.5) {
                    s["minItems"] = json!(min);
                }
                if self.chance(0.5) {
                    s["maxItems"] = json!(min + self.below(4));
                }
                s
            }
            12 => json!({"anyOf": [self.schema(depth - 1), self.schema(depth - 1)]}),
            13 => {
                let name = format!("D{}", self.defs.len());
                self.defs.insert(name.clone(), json!(true)); // reserve the name
                let target = self.schema(depth - 1);
                self.defs.insert(name.clone(), target);
                if self.chance(0.5) {
                    json!({ "$ref": format!("#/$defs/{name}") })
                } else {
                    json!({ "allOf": [{ "$ref": format!("#/$defs/{name}") }] })
                }
            }
            _ => json!(true),
        };
        self.annotate(s)
    }

    fn scalar(&mut self) -> Value {
        match self.below(6) {
            0 | 1 => json!(*self.pick(STRINGS)),
            2 => json!(self.below(200) as i64 - 100),
            3 => json!([0.5, -1.25, 1e20, 3.0][self.below(4) as usize]),
            4 => json!(self.chance(0.5)),
            _ => Value::Null,
        }
    }

    fn object(&mut self, depth: u32) -> Value {
        let n = self.below(5) as usize;
        let mut names: Vec<&str> = NAMES.to_vec();
        let mut props = Map::new();
        let mut required = Vec::new();
        for _ in 0..n {
            let i = self.below(names.len() as u32) as usize;
            let name = names.remove(i);
            props.insert(name.to_string(), self.schema(depth));
            if self.chance(0.6) {
                required.push(json!(name));
            }
        }
        let mut s = json!({"type": "object"});
        if n > 0 || self.chance(0.5) {
            s["properties"] = Value::Object(props);
            s["required"] = Value::Array(required);
        }
        match self.below(5) {
            0 => s["additionalProperties"] = json!(false),
            1 => s["additionalProperties"] = json!(true),
            2 => s["additionalProperties"] = json!({"type": "integer"}),
            _ => {}
        }
        s
    }

    // ---- instances ----

    /// A random instance of `s` (`root` resolves `$ref`s), written the way the recognizer
    /// writes: declared properties in schema order.
    pub fn instance(&mut self, s: &Value, root: &Value, depth: u32) -> Value {
        let Some(m) = s.as_object() else {
            return self.any_value(depth.max(2)); // `true`
        };
        if let Some(r) = m.get("$ref").and_then(|r| r.as_str()) {
            let target = root
                .pointer(&r[1..])
                .expect("generated refs resolve")
                .clone();
            return self.instance(&target, root, depth + 1);
        }
        if let Some(a) = m.get("allOf") {
            return self.instance(&a[0], root, depth);
        }
        if let Some(alts) = m.get("anyOf").and_then(|a| a.as_array()) {
            // deep down, take the last alternative (the recursive one ends with null)
            let i = if depth > 3 {
                alts.len() - 1
            } else {
                self.below(alts.len() as u32) as usize
            };
            return self.instance(&alts[i], root, depth);
        }
        if let Some(vals) = m.get("enum").and_then(|v| v.as_array()) {
            return self.pick(vals).clone();
        }
        if let Some(c) = m.get("const") {
            return c.clone();
        }
        let t = match m.get("type") {
            Some(Value::Array(ts)) => self.pick(ts).as_str().unwrap().to_string(),
            Some(t) => t.as_str().unwrap().to_string(),
            None => return self.any_value(depth),
        };
        match t.as_str() {
            "null" => Value::Null,
            "boolean" => json!(self.chance(0.5)),
            "integer" => json!(self.integer()),
            "number" => self.number(),
            "string" => match m.get("format").and_then(|f| f.as_str()) {
                Some("date") => json!(self.date()),
                Some("date-time") => {
                    let d = self.date();
                    json!(self.date_time(&d))
                }
                _ => {
                    let min = m.get("minLength").and_then(|v| v.as_u64()).unwrap_or(0) as u32;
                    let max = m.get("maxLength").and_then(|v| v.as_u64()).unwrap_or(40) as u32;
                    json!(self.string(min, max.min(min + 8)))
                }
            },
            "array" => {
                let min = m.get("minItems").and_then(|v| v.as_u64()).unwrap_or(0) as u32;
                let max = m
                    .get("maxItems")
                    .and_then(|v| v.as_u64())
                    .unwrap_or(u64::MAX) as u32;
                let n = min + self.below(max.min(min + 3) - min + 1);
                let items = m.get("items").cloned().unwrap_or(json!(true));
                Value::Array(
                    (0..n)
                        .map(|_| self.instance(&items, root, depth + 1))
                        .collect(),
                )
            }
            "object" => self.object_instance(m, root, depth),
            other => panic!("generator: unknown type {other}"),
        }
    }

    fn object_instance(&mut self, m: &Map<String, Value>, root: &Value, depth: u32) -> Value {
        let empty = Map::new();
        let props = m
            .get("properties")
            .and_then(|p| p.as_object())
            .unwrap_or(&empty);
        let required: Vec<&str> = m
            .get("required")
            .and_then(|r| r.as_array())
            .map(|r| r.iter().filter_map(|x| x.as_str()).collect())
            .unwrap_or_default();
        let mut entries: Vec<(String, Value)> = Vec::new();
        for (name, s) in props {
            let needed = required.contains(&name.as_str());
            if needed || (depth <= 3 && self.chance(0.6)) {
                entries.push((name.clone(), self.instance(s, root, depth + 1)));
            }
        }
        let extra_schema = match m.get("additionalProperties") {
            None if !m.contains_key("properties") => Some(json!(true)),
            None | Some(Value::Bool(false)) => None,
            Some(s) => Some(s.clone()),
        };
        if let Some(es) = extra_schema {
            for _ in 0..self.below(3) {
                let name = *self.pick(EXTRA_NAMES);
                if props.contains_key(name) || entries.iter().any(|(k, _)| k == name) {
                    continue;
                }
                let v = self.instance(&es, root, depth + 1);
                let at = self.below(entries.len() as u32 + 1) as usize;
                entries.insert(at, (name.to_string(), v));
            }
        }
        Value::Object(entries.into_iter().collect())
    }

    pub fn any_value(&mut self, depth: u32) -> Value {
        match self.below(if depth >= 4 { 5 } else { 7 }) {
            0 => Value::Null,
            1 => json!(self.chance(0.5)),
            2 => self.number(),
            3 | 4 => json!(self.string(0, 6)),
            5 => Value::Array(
                (0..self.below(3))
                    .map(|_| self.any_value(depth + 1))
                    .collect(),
            ),
            _ => {
                let mut m = Map::new();
                for _ in 0..self.below(3) {
                    let k = self.string(0, 4);
                    m.insert(k, self.any_value(depth + 1));
                }
                Value::Object(m)
            }
        }
    }

    pub fn integer(&mut self) -> i64 {
        match self.below(4) {
            0 => self.below(10) as i64,
            1 => self.below(100_000) as i64 - 50_000,
            2 => (self.rng.next_u32() as i64) << 20,
            _ => i64::MIN + self.below(1000) as i64,
        }
    }

    pub fn number(&mut self) -> Value {
        match self.below(4) {
            0 => json!(self.integer()),
            1 => json!((self.rng.next_f64() - 0.5) * 1000.0),
            2 => json!((0.1 + 0.9 * self.rng.next_f64()) * 10f64.powi(self.below(180) as i32 - 90)),
            _ => json!(-(self.below(100) as f64) / 8.0),
        }
    }

    /// `min..=max` characters from a mix of ASCII, escapes, 2-, 3- and 4-byte UTF-8.
    pub fn string(&mut self, min: u32, max: u32) -> String {
        const CHARS: &[&str] = &[
            "a", "Z", " ", "\"", "\\", "/", "\n", "\u{1}", "é", "中", "😀", "\u{7f}", "t",
        ];
        let n = min + self.below(max - min + 1);
        (0..n).map(|_| *self.pick(CHARS)).collect()
    }

    pub fn date(&mut self) -> String {
        let y = 1 + self.below(9999);
        let mo = 1 + self.below(12);
        let leap = y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400));
        let dim = match mo {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        let d = 1 + self.below(dim);
        format!("{y:04}-{mo:02}-{d:02}")
    }

    pub fn date_time(&mut self, date: &str) -> String {
        let (h, mi, s) = (self.below(24), self.below(60), self.below(60));
        let frac = if self.chance(0.3) {
            format!(".{}", self.below(1000))
        } else {
            String::new()
        };
        let off = match self.below(3) {
            0 => "Z".to_string(),
            1 => format!("+{:02}:{:02}", self.below(24), self.below(60)),
            _ => format!("-{:02}:30", self.below(13)),
        };
        format!("{date}T{h:02}:{mi:02}:{s:02}{frac}{off}")
    }
}
