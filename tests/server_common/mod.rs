//! Shared by the server tests: start a server in-process on 127.0.0.1 port 0, a raw HTTP/1.1
//! client over `TcpStream` (no HTTP library between the test and the bytes), and a strict SSE
//! frame reader that fails on any byte out of place.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use glassbox::server::{self, Options, Running};
use serde_json::Value;

/// The tiny random Llama of `tests/fixtures/tiny/` (vocab 320, context 256, ChatML template).
pub fn tiny_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny/tiny.gguf")
}

/// A server for `model` (None: the default SmolLM2) with the given changes to the options,
/// started and loaded.
pub fn start(model: Option<PathBuf>, change: impl FnOnce(&mut Options)) -> Running {
    let mut opts = Options {
        model,
        port: 0,
        keepalive: Duration::from_millis(50),
        ..Options::default()
    };
    change(&mut opts);
    let s = server::start(opts).expect("start the server");
    s.wait_ready(Duration::from_secs(120))
        .expect("the model loads");
    s
}

pub fn start_tiny(change: impl FnOnce(&mut Options)) -> Running {
    start(Some(tiny_path()), change)
}

/// One HTTP response, body de-chunked.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The error object of an error response, checked to have OpenAI's four fields.
    pub fn error(&self) -> Value {
        let e = self.json()["error"].clone();
        for k in ["message", "type", "param", "code"] {
            assert!(e.get(k).is_some(), "error body lacks `{k}`: {e}");
        }
        e
    }
}

/// Write a request; the connection is closed by the server after the response.
pub fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        head.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    s
}

pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut s = send(addr, method, path, headers, body);
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read the response");
    parse_response(&raw)
}

pub fn post(addr: SocketAddr, path: &str, body: &Value) -> Response {
    request(addr, "POST", path, &[], body.to_string().as_bytes())
}

pub fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path, &[], b"")
}

/// Status line, headers, and the body (de-chunked when `Transfer-Encoding: chunked`).
pub fn parse_response(raw: &[u8]) -> Response {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header block ended by CRLF CRLF");
    let head = std::str::from_utf8(&raw[..end]).expect("ASCII headers");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (k, v) = l.split_once(':').expect("header: value");
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    Response {
        status,
        headers,
        body,
    }
}

/// HTTP/1.1 chunked transfer coding: `<hex size>\r\n<bytes>\r\n` … `0\r\n\r\n`.
pub fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(nl) = b.windows(2).position(|w| w == b"\r\n") else {
            return out; // the connection was cut mid-body (a disconnect test)
        };
        let size = usize::from_str_radix(std::str::from_utf8(&b[..nl]).unwrap().trim(), 16)
            .expect("a hex chunk size");
        if size == 0 {
            return out;
        }
        let data = &b[nl + 2..];
        if data.len() < size {
            out.extend_from_slice(data);
            return out;
        }
        out.extend_from_slice(&data[..size]);
        b = &data[size..];
        assert!(b.starts_with(b"\r\n"), "a chunk ends with CRLF");
        b = &b[2..];
    }
}

/// One SSE event as this server writes it.
#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    /// `data: {json}\n\n`
    Data(Value),
    /// `data: [DONE]\n\n`
    Done,
    /// `: text\n\n`
    Comment(String),
}

/// Read an SSE body byte by byte: every event must be exactly one `data: …` line or one
/// `: …` comment line, then a blank line; anything else panics with the offending bytes.
pub fn frames(body: &[u8]) -> Vec<Frame> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let end = rest
            .windows(2)
            .position(|w| w == b"\n\n")
            .unwrap_or_else(|| {
                panic!(
                    "an event not ended by a blank line: {:?}",
                    String::from_utf8_lossy(rest)
                )
            });
        let line = std::str::from_utf8(&rest[..end]).expect("UTF-8 event");
        assert!(!line.contains('\n'), "an event of one line only: {line:?}");
        assert!(!line.contains('\r'), "no CR in an event: {line:?}");
        if let Some(c) = line.strip_prefix(':') {
            out.push(Frame::Comment(c.trim().to_string()));
        } else if let Some(d) = line.strip_prefix("data: ") {
            if d == "[DONE]" {
                out.push(Frame::Done);
            } else {
                out.push(Frame::Data(
                    serde_json::from_str(d).unwrap_or_else(|e| panic!("data is JSON ({e}): {d}")),
                ));
            }
        } else {
            panic!("an event that is neither `data: ` nor a comment: {line:?}");
        }
        rest = &rest[end + 2..];
    }
    out
}

/// The data frames' JSON (comments and [DONE] left out).
pub fn data(frames: &[Frame]) -> Vec<Value> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::Data(v) => Some(v.clone()),
            _ => None,
        })
        .collect()
}

/// The concatenated `delta.content` (chat) or `text` (completions) of a stream.
pub fn streamed_text(frames: &[Frame]) -> String {
    data(frames)
        .iter()
        .filter_map(|v| v["choices"].get(0).cloned())
        .filter_map(|c| {
            c["delta"]["content"]
                .as_str()
                .or(c["text"].as_str())
                .map(String::from)
        })
        .collect()
}

/// A chat request body.
pub fn chat_body(user: &str, extra: Value) -> Value {
    let mut v = serde_json::json!({"messages": [{"role": "user", "content": user}]});
    if let (Some(m), Value::Object(e)) = (v.as_object_mut(), extra) {
        m.extend(e);
    }
    v
}
