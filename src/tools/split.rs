//! Stage 6f · the reply, split as it streams: content, a call's name, its argument fragments.
//!
//! Under tools the model writes one JSON object (the mask guarantees it), for example
//!
//! ```text
//! {"tool_call": {"name": "get_weather", "arguments": {"city": "Paris"}}}
//!                        └──── name ───┘              └── arguments ──┘
//! {"response": "It is sunny in Paris."}
//!               └────── content ──────┘   (the string decoded: \" → ", \n → newline, \u00e9 → é)
//! ```
//!
//! and the client wants OpenAI's shapes: `content`, or `tool_calls[{id, function: {name,
//! arguments}}]` where `arguments` is the arguments' JSON *text*. [`Splitter`] reads the reply
//! a piece at a time (as the worker sends it) and hands out [`Delta`]s as soon as they are
//! known: the name once its closing quote arrives (so id and name go out first, as OpenAI
//! streams them), then each byte of the arguments as it comes, never a byte of the JSON around
//! them. A streamed answer and a collected one are the same deltas, so they cannot differ.
//!
//! It is a small JSON walker: a stack of open containers with the key each one is at, a lexer
//! state for the token being read, and the key path of the value being read compared with the
//! three paths of the [`Shape`]. It trusts its input to be JSON (what the mask produces); on
//! anything else it stops reading and hands out nothing more.

/// Where the parts of an answer sit in the reply object, as key paths.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shape {
    /// A string: the function's name.
    pub name: &'static [&'static str],
    /// Any value: its JSON text is the call's `arguments`.
    pub arguments: &'static [&'static str],
    /// A string (decoded into the content) or any other value (its JSON text is the content);
    /// `None`: the reply is always a call.
    pub response: Option<&'static [&'static str]>,
}

/// llama.cpp's "generic" format: `{"tool_call": {"name", "arguments"}}` or `{"response"}`.
pub const GENERIC: Shape = Shape {
    name: &["tool_call", "name"],
    arguments: &["tool_call", "arguments"],
    response: Some(&["response"]),
};

/// Llama 3.1/3.2's JSON tool call: `{"name": "get_weather", "parameters": {"city": "Paris"}}`.
pub const LLAMA3_JSON: Shape = Shape {
    name: &["name"],
    arguments: &["parameters"],
    response: None,
};

/// One part of the answer, in the order the reply reveals them.
#[derive(Clone, Debug, PartialEq)]
pub enum Delta {
    /// Text of the answer to the user.
    Content(String),
    /// A call begins: the function's name is complete.
    Call(String),
    /// The next fragment of the current call's arguments (JSON text).
    Arguments(String),
}

/// What the bytes of the value being read go to.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Sink {
    Nothing,
    /// Decoded string characters into the name.
    Name,
    /// Decoded string characters into the content.
    Content,
    /// The value's raw JSON text into the content.
    RawContent,
    /// The value's raw JSON text into the arguments.
    Arguments,
}

/// The lexer: where in the JSON grammar the next byte falls.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Lex {
    /// Before a value (whitespace skipped).
    Value,
    /// Inside a string; `key`: it is an object key.
    Str { key: bool, escape: Escape },
    /// Inside a number, `true`, `false` or `null`: ends at the first byte not of it.
    Scalar,
    /// After `{` or `,` in an object: a key or `}`.
    Key,
    /// After a key: `:`.
    Colon,
    /// After a value: `,` or the container's close.
    After,
    /// The reply is complete (or was not JSON): nothing more is read.
    Done,
}

/// Inside a string: after `\`, or `\u` with `n` of 4 hex digits read so far.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Escape {
    None,
    Backslash,
    Hex { n: u8, code: u32 },
}

/// The incremental splitter (see the module doc).
pub struct Splitter {
    shape: Shape,
    lex: Lex,
    /// Open containers: `Some(key)` for an object (the key being read or last read), `None`
    /// for an array.
    stack: Vec<Option<String>>,
    /// The key being read.
    key: String,
    /// Where the current value's bytes go, and the stack depth its value began at.
    sink: Sink,
    sink_depth: usize,
    /// Raw bytes captured and not yet handed out (whole characters at the end of a piece).
    raw: Vec<u8>,
    /// Bytes of a multi-byte character inside a string, until it is complete.
    utf8: Vec<u8>,
    /// The first half of a UTF-16 surrogate pair (`\ud83d`), waiting for the second.
    high: Option<u32>,
    name: String,
    out: Vec<Delta>,
}

impl Splitter {
    pub fn new(shape: Shape) -> Splitter {
        Splitter {
            shape,
            lex: Lex::Value,
            stack: Vec::new(),
            key: String::new(),
            sink: Sink::Nothing,
            sink_depth: 0,
            raw: Vec::new(),
            utf8: Vec::new(),
            high: None,
            name: String::new(),
            out: Vec::new(),
        }
    }

    // ANCHOR: push
    /// Read the next piece of the reply (whole characters); the deltas it completes, neighbours
    /// of one kind merged.
    pub fn push(&mut self, piece: &str) -> Vec<Delta> {
        for &b in piece.as_bytes() {
            self.byte(b);
        }
        self.flush_raw();
        std::mem::take(&mut self.out)
    }
    // ANCHOR_END: push

    /// Split a whole reply at once: the content and the calls `(name, arguments)`.
    pub fn split(shape: Shape, reply: &str) -> (String, Vec<(String, String)>) {
        let (mut content, mut calls) = (String::new(), Vec::<(String, String)>::new());
        for d in Splitter::new(shape).push(reply) {
            match d {
                Delta::Content(t) => content.push_str(&t),
                Delta::Call(name) => calls.push((name, String::new())),
                Delta::Arguments(a) => {
                    if let Some(c) = calls.last_mut() {
                        c.1.push_str(&a);
                    }
                }
            }
        }
        (content, calls)
    }

    /// Whether a value starting now sits at `path`: the keys of the open objects.
    fn path_is(&self, path: &[&str]) -> bool {
        self.stack.len() == path.len()
            && self
                .stack
                .iter()
                .zip(path)
                .all(|(k, p)| k.as_deref() == Some(*p))
    }

    /// Append to the last delta if it is of the same kind, else start a new one.
    fn emit(&mut self, d: Delta) {
        match (self.out.last_mut(), d) {
            (Some(Delta::Content(a)), Delta::Content(b)) => a.push_str(&b),
            (Some(Delta::Arguments(a)), Delta::Arguments(b)) => a.push_str(&b),
            (_, d) => self.out.push(d),
        }
    }

    /// Hand out the raw bytes captured so far (whole characters: called at the end of a
    /// piece, and when a capture ends, always on an ASCII byte).
    fn flush_raw(&mut self) {
        if self.raw.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.raw).into_owned();
        self.raw.clear();
        match self.sink {
            Sink::Arguments => self.emit(Delta::Arguments(text)),
            _ => self.emit(Delta::Content(text)),
        }
    }

    /// A byte of the value being read: kept if that value is captured as raw text.
    fn raw(&mut self, b: u8) {
        if matches!(self.sink, Sink::Arguments | Sink::RawContent) {
            self.raw.push(b);
        }
    }

    /// A decoded character of a string.
    fn char(&mut self, c: char, key: bool) {
        if key {
            self.key.push(c);
            return;
        }
        match self.sink {
            Sink::Name => self.name.push(c),
            Sink::Content => self.emit(Delta::Content(c.to_string())),
            _ => {}
        }
    }

    /// A value begins with byte `b`: if no capture is running, is this value one of the parts?
    fn begin_value(&mut self, b: u8) {
        if self.sink != Sink::Nothing {
            return; // a value inside a captured one
        }
        let s = self.shape;
        let response = s.response.is_some_and(|r| self.path_is(r));
        self.sink = if self.path_is(s.arguments) {
            Sink::Arguments
        } else if self.path_is(s.name) && b == b'"' {
            Sink::Name
        } else if response && b == b'"' {
            Sink::Content
        } else if response {
            Sink::RawContent
        } else {
            Sink::Nothing
        };
        self.sink_depth = self.stack.len();
    }

    /// The value being read is complete; if it is the captured one, the capture ends.
    fn end_value(&mut self) {
        if self.sink != Sink::Nothing && self.stack.len() == self.sink_depth {
            self.flush_raw();
            if self.sink == Sink::Name {
                let name = std::mem::take(&mut self.name);
                self.emit(Delta::Call(name));
            }
            self.sink = Sink::Nothing;
        }
        self.lex = if self.stack.is_empty() {
            Lex::Done
        } else {
            Lex::After
        };
    }

    /// The innermost container closes (its closing byte already captured).
    fn close(&mut self) {
        self.stack.pop();
        self.end_value();
    }

    fn byte(&mut self, b: u8) {
        let ws = matches!(b, b' ' | b'\t' | b'\n' | b'\r');
        match self.lex {
            Lex::Done => {}
            Lex::Value if ws => self.raw(b),
            Lex::Value if b == b']' && self.stack.last() == Some(&None) => {
                self.raw(b); // `[]`
                self.close();
            }
            Lex::Value => {
                self.begin_value(b);
                self.raw(b);
                self.lex = match b {
                    b'{' => {
                        self.stack.push(Some(String::new()));
                        Lex::Key
                    }
                    b'[' => {
                        self.stack.push(None);
                        Lex::Value
                    }
                    b'"' => Lex::Str {
                        key: false,
                        escape: Escape::None,
                    },
                    b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => Lex::Scalar,
                    _ => Lex::Done,
                };
            }
            Lex::Scalar if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-') => {
                self.raw(b)
            }
            Lex::Scalar => {
                self.end_value();
                self.byte(b); // the delimiter belongs to what follows
            }
            Lex::Str { key, escape } => {
                self.raw(b);
                self.string_byte(b, key, escape);
            }
            Lex::Key | Lex::Colon | Lex::After if ws => self.raw(b),
            Lex::Key if b == b'"' => {
                self.raw(b);
                self.key.clear();
                self.lex = Lex::Str {
                    key: true,
                    escape: Escape::None,
                };
            }
            Lex::Key if b == b'}' => {
                self.raw(b); // `{}`
                self.close();
            }
            Lex::Colon if b == b':' => {
                self.raw(b);
                self.lex = Lex::Value;
            }
            Lex::After => match (b, self.stack.last()) {
                (b',', Some(Some(_))) => {
                    self.raw(b);
                    self.lex = Lex::Key;
                }
                (b',', Some(None)) => {
                    self.raw(b);
                    self.lex = Lex::Value;
                }
                (b'}', Some(Some(_))) | (b']', Some(None)) => {
                    self.raw(b);
                    self.close();
                }
                _ => self.lex = Lex::Done,
            },
            Lex::Key | Lex::Colon => self.lex = Lex::Done,
        }
    }

    /// One byte inside a string (already captured if raw): decode it.
    fn string_byte(&mut self, b: u8, key: bool, escape: Escape) {
        let next = match (escape, b) {
            (Escape::None, b'"') if key => {
                let k = std::mem::take(&mut self.key);
                if let Some(top) = self.stack.last_mut() {
                    *top = Some(k);
                }
                self.lex = Lex::Colon;
                return;
            }
            (Escape::None, b'"') => {
                self.end_value();
                return;
            }
            (Escape::None, b'\\') => Escape::Backslash,
            (Escape::None, _) if b < 0x80 => {
                self.char(b as char, key);
                Escape::None
            }
            (Escape::None, _) => {
                // a multi-byte character arrives a byte at a time: decode it once whole
                self.utf8.push(b);
                if let Ok(s) = std::str::from_utf8(&self.utf8) {
                    let c = s.chars().next().unwrap_or('\u{FFFD}');
                    self.utf8.clear();
                    self.char(c, key);
                } else if self.utf8.len() >= 4 {
                    self.utf8.clear();
                    self.char('\u{FFFD}', key);
                }
                Escape::None
            }
            (Escape::Backslash, b'u') => Escape::Hex { n: 0, code: 0 },
            (Escape::Backslash, _) => {
                let c = match b {
                    b'n' => '\n',
                    b't' => '\t',
                    b'r' => '\r',
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    other => other as char, // \" \\ \/
                };
                self.char(c, key);
                Escape::None
            }
            (Escape::Hex { n, code }, _) => {
                let code = code << 4 | (b as char).to_digit(16).unwrap_or(0);
                if n < 3 {
                    Escape::Hex { n: n + 1, code }
                } else {
                    // \ud83d\ude00: two UTF-16 halves make one character
                    match (self.high.take(), code) {
                        (None, 0xD800..=0xDBFF) => self.high = Some(code),
                        (Some(h), 0xDC00..=0xDFFF) => {
                            let c = 0x10000 + ((h - 0xD800) << 10) + (code - 0xDC00);
                            self.char(char::from_u32(c).unwrap_or('\u{FFFD}'), key);
                        }
                        (_, c) => self.char(char::from_u32(c).unwrap_or('\u{FFFD}'), key),
                    }
                    Escape::None
                }
            }
        };
        self.lex = Lex::Str { key, escape: next };
    }
}
