//! Lesson 12: the generation loop behind an HTTP API. Starts `glassbox serve` in-process on a
//! free port, sends one streamed chat request over a plain TCP socket and prints every byte of
//! the answer's Server-Sent Events, then measures the prefix cache: time to first token of
//! turns 1–5 of a chat, and turn 5 again after another conversation has taken the cache.
//!
//!     cargo run --release --example 12_serve

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use glassbox::server::{self, Options};
use serde_json::{json, Value};

fn main() -> glassbox::Result<()> {
    // ANCHOR: start
    let server = server::start(Options {
        port: 0, // any free port
        ctx_size: Some(2048),
        ..Options::default()
    })?;
    server.wait_ready(Duration::from_secs(300))?;
    println!(
        "serving {} at http://{}",
        server.model_name().unwrap_or_default(),
        server.addr
    );
    // ANCHOR_END: start

    // ANCHOR: raw
    let body = json!({
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "temperature": 0, "max_tokens": 8, "stream": true,
        "stream_options": {"include_usage": true}
    });
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        server.addr,
        body.to_string().len()
    );
    println!("\n--- request ---\n{}", request.replace("\r\n", "\\r\\n\n"));
    let mut conn = TcpStream::connect(server.addr).map_err(|e| glassbox::Error::io("socket", e))?;
    conn.write_all(request.as_bytes())
        .map_err(|e| glassbox::Error::io("socket", e))?;
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw)
        .map_err(|e| glassbox::Error::io("socket", e))?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0);
    println!(
        "--- response head ---\n{}",
        String::from_utf8_lossy(&raw[..split])
    );
    println!("--- response body: SSE frames, \\n shown, HTTP chunk sizes removed ---");
    for frame in String::from_utf8_lossy(&dechunk(&raw[split + 4..])).split_inclusive("\n\n") {
        println!("{}", frame.replace('\n', "\\n"));
    }
    // ANCHOR_END: raw

    // ANCHOR: turns
    println!("\n--- a five-turn chat: the prefix cache at work ---");
    let questions = [
        "What is the capital of France?",
        "And of Italy?",
        "Which one is older?",
        "Name a famous building in each.",
        "Thank you!",
    ];
    let mut messages = vec![json!({"role": "system", "content": "You are a geography tutor."})];
    let mut rows = Vec::new();
    for (turn, q) in questions.iter().enumerate() {
        messages.push(json!({"role": "user", "content": q}));
        let (answer, ttft, usage) = ask(server.addr, &messages)?;
        let (p, c) = (
            usage["prompt_tokens"].as_u64().unwrap_or(0),
            usage["prompt_tokens_details"]["cached_tokens"]
                .as_u64()
                .unwrap_or(0),
        );
        println!(
            "turn {}: prompt {p:>3} tokens, {c:>3} cached, {:>3} prefilled, TTFT {:>5.0} ms",
            turn + 1,
            p - c,
            ttft * 1e3
        );
        rows.push((turn + 1, p, c, ttft));
        messages.push(json!({"role": "assistant", "content": answer}));
    }
    // turn 5 again after another conversation took the cache: little of the prompt is shared
    let other = [
        json!({"role": "system", "content": "You are a poet."}),
        json!({"role": "user", "content": "A haiku, please."}),
    ];
    ask(server.addr, &other)?;
    let turn5 = &messages[..messages.len() - 1];
    let (_, cold, usage) = ask(server.addr, turn5)?;
    let p = usage["prompt_tokens"].as_u64().unwrap_or(0);
    println!(
        "turn 5 after another chat: prompt {p:>3} tokens, {:>3} cached, TTFT {:>5.0} ms",
        usage["prompt_tokens_details"]["cached_tokens"],
        cold * 1e3
    );
    // ANCHOR_END: turns
    let cached = usage["prompt_tokens_details"]["cached_tokens"]
        .as_u64()
        .unwrap_or(0);
    rows.push((0, p, cached, cold));
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src/img/ch12-ttft.svg");
    std::fs::write(&path, ttft_svg(&rows)).map_err(|e| glassbox::Error::io(&path, e))?;
    println!("wrote book/src/img/ch12-ttft.svg");
    server.stop()
}

/// Bars of time to first token per turn (turn 0 = turn 5 after another chat), each labelled
/// with the prompt tokens the prefill ran.
fn ttft_svg(rows: &[(usize, u64, u64, f64)]) -> String {
    let max = rows.iter().map(|r| r.3).fold(1e-9, f64::max);
    let bar = 70.0;
    let mut s = String::from(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"260\" font-family=\"system-ui, sans-serif\" font-size=\"12\">\n\
         <title>Time to first token per chat turn with the prefix cache, and turn 5 after another chat took the cache</title>\n\
         <rect width=\"640\" height=\"260\" fill=\"#fff\"/>\n",
    );
    for (i, &(turn, prompt, cached, ttft)) in rows.iter().enumerate() {
        let x = 30.0 + i as f64 * (bar + 30.0);
        let (cx, bh) = (x + bar / 2.0, 170.0 * ttft / max);
        let (label, colour) = match turn {
            0 => ("turn 5, evicted".to_string(), "#d9534f"),
            t => (format!("turn {t}"), "#4f7cff"),
        };
        s += &format!(
            "<rect x=\"{x}\" y=\"{:.1}\" width=\"{bar}\" height=\"{bh:.1}\" fill=\"{colour}\"/>\n\
             <text x=\"{cx}\" y=\"{:.1}\" text-anchor=\"middle\">{:.0} ms</text>\n\
             <text x=\"{cx}\" y=\"228\" text-anchor=\"middle\">{label}</text>\n\
             <text x=\"{cx}\" y=\"244\" text-anchor=\"middle\" fill=\"#6b7280\">{} of {prompt} run</text>\n",
            210.0 - bh,
            204.0 - bh,
            ttft * 1e3,
            prompt - cached
        );
    }
    s + "<line x1=\"20\" y1=\"210\" x2=\"630\" y2=\"210\" stroke=\"#1d2330\"/>\n</svg>\n"
}

/// One streamed chat turn: (answer text, seconds to the first content frame, usage).
fn ask(addr: SocketAddr, messages: &[Value]) -> glassbox::Result<(String, f64, Value)> {
    let body = json!({"messages": messages, "temperature": 0, "max_tokens": 32, "stream": true,
                      "stream_options": {"include_usage": true}})
    .to_string();
    let head = format!("POST /v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    let io = |e| glassbox::Error::io("socket", e);
    let start = Instant::now();
    let mut conn = TcpStream::connect(addr).map_err(io)?;
    conn.write_all((head + &body).as_bytes()).map_err(io)?;
    let (mut raw, mut buf, mut ttft) = (Vec::new(), [0u8; 4096], None);
    loop {
        let n = conn.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if ttft.is_none()
            && raw.windows(11).any(|w| w == b"\"content\":\"")
            && raw.windows(6).filter(|w| w == b"data: ").count() >= 2
        {
            ttft = Some(start.elapsed().as_secs_f64());
        }
    }
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0);
    let (mut text, mut usage) = (String::new(), Value::Null);
    for line in String::from_utf8_lossy(&dechunk(&raw[split + 4..])).lines() {
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            continue;
        };
        if let Some(t) = v["choices"][0]["delta"]["content"].as_str() {
            text.push_str(t);
        }
        if !v["usage"].is_null() {
            usage = v["usage"].clone();
        }
    }
    Ok((text, ttft.unwrap_or(0.0), usage))
}

/// HTTP/1.1 chunked transfer coding → the body bytes.
fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(nl) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..nl]).trim(), 16).unwrap_or(0);
        if size == 0 || b.len() < nl + 2 + size {
            break;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + size]);
        b = &b[(nl + 4 + size).min(b.len())..];
    }
    out
}
