//! Load on the real binary (`glassbox serve` as a child process on 127.0.0.1, port 0):
//! 16 concurrent clients × 10 requests against a queue of 4 with the tiny model, some of them
//! hanging up mid-stream; then a short round with SmolLM2. Every request gets its full answer
//! (equal to the one it gets alone, at temperature 0) or a 503; none hangs (a 60 s read
//! timeout would fail the test); the server's memory returns to its idle level.

mod server_common;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use server_common::*;

const CLIENTS: usize = 16;
const REQUESTS: usize = 10;

/// `glassbox serve` on a free port; returns the child and its address once /health is 200.
fn spawn_server(args: &[&str]) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_glassbox"))
        .args(["serve", "--port", "0", "--keepalive", "0.05"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start glassbox serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: SocketAddr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("the first line names the address: {line:?}"))
        .parse()
        .unwrap();
    let t = Instant::now();
    while get(addr, "/health").status != 200 {
        assert!(t.elapsed() < Duration::from_secs(120), "the model loads");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, addr)
}

/// Resident memory of a process in KiB (Linux /proc).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse().ok())
        .unwrap_or(0)
}

fn body(prompt: usize, stream: bool, max_tokens: usize) -> Value {
    let q = [
        "Hello",
        "What is 2+2?",
        "Name a colour.",
        "Tell a joke.",
        "Why is the sky blue?",
        "Count to five.",
        "Say hi in French.",
        "What is Rust?",
    ];
    json!({"messages": [{"role": "user", "content": q[prompt % q.len()]}],
           "temperature": 0, "max_tokens": max_tokens, "stream": stream})
}

/// The answer text, or None for a 503; panics on anything else.
fn ask(addr: SocketAddr, b: &Value) -> Option<String> {
    let r = post(addr, "/v1/chat/completions", b);
    match r.status {
        200 if b["stream"] == true => {
            let f = frames(&r.body);
            assert_eq!(f.last(), Some(&Frame::Done), "a complete stream");
            Some(streamed_text(&f))
        }
        200 => Some(
            r.json()["choices"][0]["message"]["content"]
                .as_str()
                .unwrap()
                .to_string(),
        ),
        503 => {
            assert_eq!(r.header("retry-after"), Some("1"));
            None
        }
        s => panic!("status {s}: {}", String::from_utf8_lossy(&r.body)),
    }
}

/// `CLIENTS` threads × `REQUESTS` requests; every 4th client hangs up on its 5th (streamed)
/// request after the first frame. Returns (answers checked, 503s).
fn load(
    addr: SocketAddr,
    expected: Arc<Vec<String>>,
    max_tokens: usize,
    clients: usize,
    requests: usize,
) -> (usize, usize) {
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let expected = expected.clone();
            std::thread::spawn(move || {
                let (mut ok, mut busy) = (0, 0);
                for r in 0..requests {
                    let prompt = (c + r) % expected.len();
                    let stream = (c + r) % 2 == 0;
                    if c % 4 == 3 && r == 4 {
                        let b = body(prompt, true, max_tokens);
                        let mut s = send(
                            addr,
                            "POST",
                            "/v1/chat/completions",
                            &[],
                            b.to_string().as_bytes(),
                        );
                        let mut buf = [0u8; 256];
                        let _ = s.read(&mut buf); // status line or a first frame, then hang up
                        continue;
                    }
                    match ask(addr, &body(prompt, stream, max_tokens)) {
                        Some(text) => {
                            assert_eq!(
                                text, expected[prompt],
                                "client {c} request {r}: not cut, not mixed"
                            );
                            ok += 1;
                        }
                        None => {
                            busy += 1;
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                }
                (ok, busy)
            })
        })
        .collect();
    threads
        .into_iter()
        .map(|t| t.join().expect("a client thread"))
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
}

#[test]
fn sixteen_clients_against_a_queue_of_four() {
    let tiny = tiny_path();
    let (mut child, addr) = spawn_server(&["--model", tiny.to_str().unwrap(), "--queue", "4"]);
    let pid = child.id();
    // each prompt's answer when it is alone
    let expected: Arc<Vec<String>> = Arc::new(
        (0..8)
            .map(|p| ask(addr, &body(p, false, 24)).unwrap())
            .collect(),
    );
    // warm up (allocator arenas, the runtime's threads), then measure the idle level
    load(addr, expected.clone(), 24, CLIENTS, 1);
    std::thread::sleep(Duration::from_millis(200));
    let idle = rss_kib(pid);
    let t = Instant::now();
    let (ok, busy) = load(addr, expected.clone(), 24, CLIENTS, REQUESTS);
    let took = t.elapsed();
    std::thread::sleep(Duration::from_millis(300));
    let after = rss_kib(pid);
    println!(
        "tiny: {ok} answers, {busy} × 503, {} hang-ups in {took:?}; RSS idle {idle} KiB, after {after} KiB",
        CLIENTS / 4
    );
    assert_eq!(ok + busy, CLIENTS * REQUESTS - CLIENTS / 4);
    assert!(
        ok >= CLIENTS,
        "most requests are served, not refused ({ok} served)"
    );
    // the server still answers, exactly as before
    assert_eq!(ask(addr, &body(1, true, 24)).unwrap(), expected[1]);
    // Memory: the KV-cache and buffers are allocated once; per-request memory is freed. 8 MiB
    // of slack covers the allocator keeping some freed pages.
    assert!(
        after <= idle + 8 * 1024,
        "RSS went from {idle} KiB to {after} KiB"
    );
    child.kill().ok();
    child.wait().ok();
}

#[test]
fn smollm2_short_round() {
    let (mut child, addr) = spawn_server(&["--queue", "4", "--ctx-size", "512"]);
    let expected: Arc<Vec<String>> = Arc::new(
        (0..4)
            .map(|p| ask(addr, &body(p, false, 8)).unwrap())
            .collect(),
    );
    let (ok, busy) = load(addr, expected, 8, 4, 2);
    println!("SmolLM2: {ok} answers, {busy} × 503");
    assert_eq!(ok + busy, 8);
    child.kill().ok();
    child.wait().ok();
}

/// `glassbox serve --help` states the request limits, and they are the parser's.
#[test]
fn help_states_the_limits() {
    use glassbox::server::request::*;
    let out = Command::new(env!("CARGO_BIN_EXE_glassbox"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap().replace('\n', " ");
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for want in [
        format!("at most {} MiB", MAX_BODY_BYTES >> 20),
        format!("nested at most {MAX_JSON_DEPTH} levels"),
        format!("at most {MAX_MESSAGES} messages"),
        format!("{MAX_STOP} stop strings"),
        format!("{MAX_LOGIT_BIAS} logit_bias entries"),
        format!("top_logprobs 0-{MAX_TOP_LOGPROBS}"),
        "n = 1".to_string(),
    ] {
        assert!(help.contains(&want), "--help says {want:?}: {help}");
    }
}
