//! Stage 6a · the compiled schema: a graph of value kinds the recognizer walks byte by byte.
//!
//! A JSON Schema is compiled (in `schema.rs`) into a small graph of [`Node`]s. Each node says
//! what one JSON value may look like; objects, arrays and `anyOf` point at other nodes by index,
//! so a recursive `$ref` is simply a cycle in the graph. A two-field schema becomes:
//!
//! ```text
//! {"type":"object",                        node 6  Object ─┬─ "name" (required) ──▶ node 7
//!  "properties":{"name":{"type":"string",                  └─ "age"  (optional) ──▶ node 8
//!                        "maxLength":20},  node 7  String { min 0, max 20 }
//!                "age":{"type":"integer"}}, node 8 Number { integer }
//!  "required":["name"]}
//! ```
//!
//! Nodes 0–5 are always the same: "any JSON value" and its parts (used by `json_object` mode,
//! `additionalProperties: true` and arrays without `items`).
//!
//! What the recognizer emits is a *subset* of the instances the schema accepts, chosen so that
//! every emitted text parses and validates and a model cannot pad forever: properties in schema
//! order, only declared properties unless `additionalProperties` allows more, `enum`/`const`
//! values in their compact spelling, at most [`MAX_WS`] whitespace bytes between two tokens,
//! numbers of bounded length, nesting at most [`MAX_FRAMES`] deep.

use serde_json::Value;

/// Index of a node in [`Grammar::nodes`].
pub type NodeId = u32;

/// The deepest stack of the recognizer: the root frame plus 31 nested values, keys included.
/// A recursive schema is unrolled at most this deep (alternatives that would not fit are
/// never offered, so the model cannot walk into a dead end).
pub const MAX_FRAMES: u32 = 32;
/// Most whitespace bytes between two tokens of JSON (enough for pretty-printing 9 levels deep
/// with two-space indents; llama.cpp's JSON grammars allow a newline and 20 more).
pub const MAX_WS: u8 = 20;
/// Most digits before the decimal point: what serializers write without an exponent reaches 21
/// digits (ECMAScript and ryu print integers below 1e21 in full).
pub const MAX_INT_DIGITS: u8 = 24;
/// Most digits after the decimal point: 17 significant digits after up to 6 leading zeros
/// (ECMAScript writes 1e-6 as 0.000001) is 23.
pub const MAX_FRAC_DIGITS: u8 = 24;
/// Most exponent digits: `1e99` parses everywhere, `1e999` overflows serde_json's f64.
pub const MAX_EXP_DIGITS: u8 = 2;
/// `min_frames` of a node with no finite instance.
pub const INFINITE: u32 = u32::MAX;

pub const ANY: NodeId = 0;
pub const ANY_OBJECT: NodeId = 1;
pub const ANY_ARRAY: NodeId = 2;
pub const ANY_STRING: NodeId = 3;
pub const ANY_NUMBER: NodeId = 4;
/// `false`, `null`, `true`.
pub const ANY_LITERAL: NodeId = 5;

/// A string format the recognizer checks byte by byte (RFC 3339).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// `2024-02-29`: a real calendar date, year 0001–9999.
    Date,
    /// `2024-02-29T13:45:00Z`, `…T13:45:00.25+02:00`.
    DateTime,
}

/// What one JSON value may look like.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// Any JSON value.
    Any,
    /// One of these exact texts (`enum`, `const`, `boolean`, `null`).
    Literals(Literals),
    /// A JSON number; `integer`: no fraction, no exponent.
    Number {
        integer: bool,
    },
    /// A string of `min..=max` characters (Unicode code points, as JSON Schema counts them).
    String {
        min: u32,
        max: u32,
    },
    /// A string in a fixed format.
    Formatted(Format),
    Object(Object),
    /// An array of `min..=max` items.
    Array {
        items: NodeId,
        min: u32,
        max: u32,
    },
    /// Any of these (the recognizer follows all alternatives that still fit, in parallel).
    AnyOf(Vec<NodeId>),
    /// Compile-time only: the same as another node (a `$ref`); removed by [`Builder::finish`].
    Ref(NodeId),
}

/// The exact texts a value may be, sorted and without duplicates, so that the texts sharing a
/// prefix are a contiguous range (that range is the recognizer's whole state).
#[derive(Clone, Debug, PartialEq)]
pub struct Literals(pub Vec<Vec<u8>>);

impl Literals {
    /// The compact JSON spellings of `values`.
    pub fn of(values: &[Value]) -> Literals {
        let mut lits: Vec<Vec<u8>> = values
            .iter()
            .map(|v| serde_json::to_vec(v).unwrap_or_default())
            .collect();
        lits.sort();
        lits.dedup();
        Literals(lits)
    }
}

/// One declared property.
#[derive(Clone, Debug, PartialEq)]
pub struct Prop {
    pub name: String,
    /// The key as JSON text, quotes included: `"name"`.
    pub key: Vec<u8>,
    pub node: NodeId,
    pub required: bool,
}

/// An object: declared properties (emitted in this order, optional ones may be skipped), then
/// possibly other keys whose values follow `additional`.
#[derive(Clone, Debug, PartialEq)]
pub struct Object {
    pub props: Vec<Prop>,
    pub additional: Option<NodeId>,
    /// `req_from[i]`: the first required property at index ≥ i (`props.len()` if none).
    pub req_from: Vec<u16>,
}

impl Object {
    pub fn new(props: Vec<Prop>, additional: Option<NodeId>) -> Object {
        let n = props.len();
        let mut req_from = vec![n as u16; n + 1];
        for i in (0..n).rev() {
            req_from[i] = if props[i].required {
                i as u16
            } else {
                req_from[i + 1]
            };
        }
        Object {
            props,
            additional,
            req_from,
        }
    }

    /// The properties that may come next when `next` is the first not yet passed: up to and
    /// including the next required one (the optional ones before it may be skipped).
    pub fn window(&self, next: usize) -> std::ops::Range<usize> {
        let n = self.props.len();
        let last = self.req_from[next.min(n)] as usize;
        next.min(n)..(last + 1).min(n)
    }

    /// The object may close once no required property is left.
    pub fn can_close(&self, next: usize) -> bool {
        self.req_from[next.min(self.props.len())] as usize == self.props.len()
    }
}

/// A compiled schema.
#[derive(Clone, Debug)]
pub struct Grammar {
    pub nodes: Vec<Node>,
    pub root: NodeId,
    /// Where each node came from in the schema (`#/properties/name`), for messages.
    pub paths: Vec<String>,
    /// `min_frames[n]`: stack frames the shallowest instance of node `n` needs (1 for a
    /// scalar, 1 + the deepest required child for a container); [`INFINITE`] if none is finite.
    pub min_frames: Vec<u32>,
}

impl Grammar {
    /// `json_object` mode: any JSON object.
    pub fn json_object() -> Grammar {
        Builder::new()
            .finish(ANY_OBJECT)
            .expect("the built-in nodes are finite")
    }

    /// Whether a value of `node` whose frame sits at stack index `depth` can be finished
    /// without exceeding [`MAX_FRAMES`].
    #[inline]
    pub fn fits(&self, node: NodeId, depth: usize) -> bool {
        let m = self.min_frames[node as usize];
        m != INFINITE && depth as u64 + m as u64 <= MAX_FRAMES as u64
    }

    pub fn object(&self, node: NodeId) -> &Object {
        match &self.nodes[node as usize] {
            Node::Object(o) => o,
            other => unreachable!("node {node} is not an object: {other:?}"),
        }
    }

    pub fn literals(&self, node: NodeId) -> &[Vec<u8>] {
        match &self.nodes[node as usize] {
            Node::Literals(l) => &l.0,
            other => unreachable!("node {node} is not a literal set: {other:?}"),
        }
    }

    /// The longest text (in bytes) any instance can have, whitespace included, or `None` when
    /// it is unbounded (an unbounded string or array, recursion, any value). A generation of
    /// that many tokens always finishes: every token is at least one byte.
    pub fn max_bytes(&self) -> Option<u64> {
        self.max_bytes_of(self.root, &mut vec![false; self.nodes.len()])
            .map(|b| b + MAX_WS as u64)
    }

    fn max_bytes_of(&self, n: NodeId, open: &mut Vec<bool>) -> Option<u64> {
        if open[n as usize] {
            return None; // recursion
        }
        open[n as usize] = true;
        let ws = MAX_WS as u64;
        let r = match &self.nodes[n as usize] {
            Node::Any | Node::Ref(_) => None,
            Node::Literals(l) => l.0.iter().map(|t| t.len() as u64).max(),
            Node::Number { .. } => {
                Some(2 + (MAX_INT_DIGITS + MAX_FRAC_DIGITS + MAX_EXP_DIGITS) as u64 + 2)
            }
            // a character is at most 6 bytes (`\u00e9`)
            Node::String { max, .. } if *max < u32::MAX => Some(2 + 6 * *max as u64),
            Node::String { .. } => None,
            Node::Formatted(_) => Some(2 + 35),
            Node::Object(o) if o.additional.is_none() => {
                let mut total = 2 + ws;
                for p in &o.props {
                    total += p.key.len() as u64 + 2 + 3 * ws + self.max_bytes_of(p.node, open)?;
                }
                Some(total)
            }
            Node::Object(_) => None,
            Node::Array { items, max, .. } if *max < u32::MAX => {
                Some(2 + ws + *max as u64 * (1 + 2 * ws + self.max_bytes_of(*items, open)?))
            }
            Node::Array { .. } => None,
            Node::AnyOf(alts) => alts
                .iter()
                .map(|&a| self.max_bytes_of(a, open))
                .collect::<Option<Vec<_>>>()
                .and_then(|v| v.into_iter().max()),
        };
        open[n as usize] = false;
        r
    }
}

/// Collects nodes while a schema is compiled.
pub struct Builder {
    nodes: Vec<Node>,
    paths: Vec<String>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// A builder holding the six built-in nodes (any value and its parts).
    pub fn new() -> Builder {
        let mut b = Builder {
            nodes: Vec::new(),
            paths: Vec::new(),
        };
        let lits = [Value::Bool(false), Value::Null, Value::Bool(true)];
        b.push(Node::Any, "(any value)");
        b.push(
            Node::Object(Object::new(Vec::new(), Some(ANY))),
            "(any object)",
        );
        b.push(
            Node::Array {
                items: ANY,
                min: 0,
                max: u32::MAX,
            },
            "(any array)",
        );
        b.push(
            Node::String {
                min: 0,
                max: u32::MAX,
            },
            "(any string)",
        );
        b.push(Node::Number { integer: false }, "(any number)");
        b.push(Node::Literals(Literals::of(&lits)), "(true, false, null)");
        b
    }

    pub fn push(&mut self, node: Node, path: &str) -> NodeId {
        self.nodes.push(node);
        self.paths.push(path.to_string());
        (self.nodes.len() - 1) as NodeId
    }

    /// Replace a node reserved earlier (a `$ref` target compiled after its first use).
    pub fn set(&mut self, id: NodeId, node: Node) {
        self.nodes[id as usize] = node;
    }

    /// Resolve `$ref` aliases, compute `min_frames`, check that the root has a finite instance.
    pub fn finish(mut self, root: NodeId) -> Result<Grammar, String> {
        // 1. every reference to an alias points at the alias's final target
        let n = self.nodes.len();
        let mut target: Vec<NodeId> = (0..n as NodeId).collect();
        for start in 0..n {
            let (mut t, mut steps) = (start as NodeId, 0);
            while let Node::Ref(next) = self.nodes[t as usize] {
                t = next;
                steps += 1;
                if steps > n {
                    return Err(format!(
                        "{}: `$ref` points to itself through other `$ref`s only, with no schema in between",
                        self.paths[start]
                    ));
                }
            }
            target[start] = t;
        }
        let fix = |id: &mut NodeId| *id = target[*id as usize];
        for node in &mut self.nodes {
            match node {
                Node::Object(o) => {
                    o.props.iter_mut().for_each(|p| fix(&mut p.node));
                    if let Some(a) = &mut o.additional {
                        fix(a);
                    }
                }
                Node::Array { items, .. } => fix(items),
                Node::AnyOf(alts) => alts.iter_mut().for_each(fix),
                _ => {}
            }
        }
        let root = target[root as usize];

        // 2. min_frames by fixpoint iteration (a recursive schema converges from above)
        let mut mf = vec![INFINITE; n];
        let add1 = |x: u32| if x == INFINITE { INFINITE } else { x + 1 };
        loop {
            let mut changed = false;
            for i in 0..n {
                let m = match &self.nodes[i] {
                    Node::Ref(_) => INFINITE,
                    Node::Object(o) => add1(
                        o.props
                            .iter()
                            .filter(|p| p.required)
                            .map(|p| mf[p.node as usize])
                            .max()
                            .unwrap_or(0),
                    ),
                    Node::Array { items, min, .. } => {
                        add1(if *min > 0 { mf[*items as usize] } else { 0 })
                    }
                    Node::AnyOf(alts) => alts
                        .iter()
                        .map(|&a| mf[a as usize])
                        .min()
                        .unwrap_or(INFINITE),
                    _ => 1,
                };
                if m < mf[i] {
                    mf[i] = m;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let g = Grammar {
            nodes: self.nodes,
            root,
            paths: self.paths,
            min_frames: mf,
        };
        // The root's frame sits at index 1, above the recognizer's root frame.
        if !g.fits(root, 1) {
            return Err(format!(
                "{}: no instance of this schema is finite and less than {} levels deep \
                 (a `$ref` that recurses through required properties never ends)",
                g.paths[root as usize], MAX_FRAMES
            ));
        }
        Ok(g)
    }
}
