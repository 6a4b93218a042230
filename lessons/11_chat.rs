//! Lesson 11: one chat turn — the model's own template rendered and shown, the token
//! boundaries, how many tokens the template costs, then the reply streamed with its
//! inter-token latencies. The token boundaries are drawn as an SVG (to the path given, default
//! `target/lessons/ch11-chatml-tokens.svg`; `scripts/regenerate-book.sh` gives the book's).
//!
//!     cargo run --release --example 11_chat [-- picture.svg]

use glassbox::chat::{stop_token_ids, ChatTemplate, Message};
use glassbox::generate::{generate, GenerateConfig, LlamaRunner};
use glassbox::model::Llama;
use glassbox::sampler::SamplerConfig;
use std::io::Write;
use std::time::Instant;

fn main() -> glassbox::Result<()> {
    // ANCHOR: render
    let model = Llama::load(glassbox::data::default_model()?)?;
    let tok = &model.tokenizer;
    let template = ChatTemplate::for_model(model.chat_template.as_deref(), tok)?;
    let messages = [Message::user("What is the capital of France?")];
    let text = template.render(&messages, true)?;
    println!("--- rendered prompt (SmolLM2 adds its default system prompt) ---\n{text}---");
    let ids = template.encode(tok, &messages, true)?;
    // ANCHOR_END: render

    // ANCHOR: boundaries
    let pieces: Vec<String> = ids
        .iter()
        .map(|&i| String::from_utf8_lossy(tok.token_bytes(i).unwrap_or(b"?")).replace('\n', "\\n"))
        .collect();
    println!("{} ids, token by token:\n{}", ids.len(), pieces.join("|"));
    println!(
        "<|im_start|> = {:?}, <|im_end|> = {:?}",
        tok.token_id("<|im_start|>"),
        tok.token_id("<|im_end|>")
    );
    let content = tok.encode("What is the capital of France?").len();
    println!(
        "the question is {content} tokens; the template adds {} (system prompt, roles, markers)",
        ids.len() - content
    );
    // ANCHOR_END: boundaries
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/lessons/ch11-chatml-tokens.svg".into());
    let path = std::path::Path::new(&path);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| glassbox::Error::io(dir, e))?;
    }
    glassbox::formats::file::write_atomic(path, token_svg(&ids, tok).as_bytes())?;
    eprintln!("wrote the token boundaries to {}", path.display());

    // ANCHOR: reply
    let cfg = GenerateConfig {
        max_new_tokens: Some(64),
        stop_ids: stop_token_ids(tok), // stop on <|im_end|>
        sampler: SamplerConfig {
            temperature: 0.0,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut runner = LlamaRunner::new(&model, ids.len() + 64)?;
    let mut last = Instant::now();
    let mut gaps = Vec::new();
    print!("assistant: ");
    let out = generate(&mut runner, tok, &ids, &cfg, &mut |piece: &str| {
        gaps.push(last.elapsed().as_secs_f64() * 1e3);
        last = Instant::now();
        print!("{piece}");
        std::io::stdout().flush().ok();
    })?;
    println!("\nstop: {:?}; {}", out.stop_reason, out.stats.summary());
    // ANCHOR_END: reply

    // inter-token latency histogram (the first gap is the time to first token)
    let rest = &gaps[1.min(gaps.len())..];
    let max = rest.iter().copied().fold(0.0, f64::max).max(1.0);
    let bins = 8;
    let mut hist = vec![0usize; bins];
    for &g in rest {
        hist[((g / max * bins as f64) as usize).min(bins - 1)] += 1;
    }
    println!(
        "inter-token latency ({} gaps after the first piece, which came after {:.0} ms):",
        rest.len(),
        gaps.first().copied().unwrap_or(0.0)
    );
    for (i, n) in hist.iter().enumerate() {
        let lo = max * i as f64 / bins as f64;
        println!(
            "{:>6.1}–{:<6.1} ms {:>3} {}",
            lo,
            lo + max / bins as f64,
            n,
            "#".repeat(*n)
        );
    }
    Ok(())
}

/// The rendered prompt as boxes, one per token, a new row after each "\n" token; special
/// tokens dark, ordinary tokens light.
fn token_svg(ids: &[u32], tok: &glassbox::tokenizer::Tokenizer) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let (mut x, mut y, mut body, mut width) = (10.0f64, 30.0f64, String::new(), 0.0f64);
    for &id in ids {
        let text = String::from_utf8_lossy(tok.token_bytes(id).unwrap_or(b"?")).into_owned();
        let shown = text.replace('\n', "\\n").replace(' ', "\u{2423}");
        // wide enough for the token (7.2 px a character) and for its id underneath (5 px a
        // digit), so neither the boxes nor the ids of neighbours can touch
        let digits = id.to_string().len() as f64;
        let w = (8.0 + 7.2 * shown.chars().count() as f64).max(6.0 + 5.0 * digits);
        let (fill, ink) = if tok.is_special(id) {
            ("#2b6cb0", "#fff")
        } else {
            ("#ebf4ff", "#1a202c")
        };
        body += &format!(
            r##"<rect x="{x}" y="{y}" width="{w}" height="22" rx="3" fill="{fill}" stroke="#2b6cb0"/><text x="{}" y="{}" fill="{ink}" font-family="monospace" font-size="12">{}</text><text x="{}" y="{}" font-size="8" fill="#718096">{id}</text>"##,
            x + 4.0,
            y + 15.0,
            esc(&shown),
            x + 2.0,
            y + 32.0
        );
        x += w + 3.0;
        width = width.max(x);
        if text == "\n" {
            x = 10.0;
            y += 44.0;
        }
    }
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" role="img" aria-label="The ChatML prompt for one user turn, token by token: the special tokens im_start (id 1) and im_end (id 2) in dark boxes, ordinary tokens in light boxes, each id under its box"><rect width="100%" height="100%" fill="#fff"/><text x="10" y="18" font-size="13">SmolLM2's chat template, rendered and tokenized ({} ids; ␣ = space)</text>{body}</svg>"##,
        width + 10.0,
        y + 20.0,
        ids.len()
    )
}
