//! Lesson 13: structured output. Extract an invoice from a sentence with a JSON-schema mask on
//! the logits, and watch the mask at every step: how many of the 49,152 tokens it allows, how
//! much of the model's probability those held, and where the model's own first choice was
//! forbidden. Greedy decoding, so the run is the same every time.
//!
//!     cargo run --release --example 13_structured
//!     cargo run --release --example 13_structured -- --svg book/src/img/ch13-mask.svg

use glassbox::chat::{stop_token_ids, ChatTemplate, Message};
use glassbox::constrain::{compile, JsonConstraint, TokenSet, Vocab};
use glassbox::generate::{generate, GenerateConfig, LlamaRunner};
use glassbox::model::Llama;
use glassbox::sampler::{apply_mask, argmax};
use serde_json::json;
use std::sync::Arc;

/// Tokens drawn as columns of the picture (those the vocabulary has).
const PROBES: &[&str] = &[
    "{",
    "{\"",
    "\"",
    "\"company",
    "\":",
    "\":\"",
    "\",",
    "\"}",
    "}",
    " ",
    "\n",
    "AC",
    "ME",
    " Corp",
    "Corp",
    "1",
    "2",
    ".",
    "0",
    "-",
    "EUR",
    "E",
    "US",
    ",",
    ":",
    "<|im_end|>",
];

fn main() -> glassbox::Result<()> {
    // ANCHOR: setup
    let model = Llama::load(glassbox::data::default_model()?)?;
    let tok = &model.tokenizer;
    // pydantic's schema for: class Invoice(BaseModel): company: str (≤ 40 characters);
    // amount: float; currency: Currency (an Enum); date: datetime.date
    let schema = json!({
        "$defs": {"Currency": {"enum": ["USD", "EUR", "GBP"], "title": "Currency", "type": "string"}},
        "properties": {
            "company": {"title": "Company", "type": "string", "maxLength": 40},
            "amount": {"title": "Amount", "type": "number"},
            "currency": {"$ref": "#/$defs/Currency"},
            "date": {"format": "date", "title": "Date", "type": "string"}
        },
        "required": ["company", "amount", "currency", "date"],
        "title": "Invoice",
        "type": "object"
    });
    let grammar = compile(&schema).map_err(|e| e.into_error())?;
    let vocab = Vocab::new(tok, &stop_token_ids(tok)); // once per tokenizer
    let mut constraint = JsonConstraint::new(Arc::new(grammar), Arc::new(vocab));
    // ANCHOR_END: setup

    let sentence = "ACME Corp billed us 120.50 euros on 3 March 2024 for rocket skates.";
    let template = ChatTemplate::for_model(model.chat_template.as_deref(), tok)?;
    let ask = format!("Extract the invoice in this sentence as JSON: {sentence}");
    let prompt = template.encode(tok, &[Message::user(&ask)], true)?;
    println!("sentence: {sentence}\n");

    // ANCHOR: unconstrained
    // First, asked nicely: greedy, no mask.
    let cfg = GenerateConfig {
        max_new_tokens: Some(80),
        stop_ids: stop_token_ids(tok),
        ..GenerateConfig::default()
    };
    let mut runner = LlamaRunner::new(&model, 512)?;
    let free = generate(&mut runner, tok, &prompt, &cfg, &mut |_| {})?;
    let parsed = serde_json::from_str::<serde_json::Value>(free.text.trim());
    println!(
        "without a mask:\n{}\n→ {}\n",
        free.text.trim(),
        match parsed {
            Ok(_) => "parses as JSON".to_string(),
            Err(e) => format!("not JSON: {e}"),
        }
    );
    // ANCHOR_END: unconstrained

    // ANCHOR: loop
    let mut session = model.new_session(512)?;
    let mut logits = model.forward(&mut session, &prompt)?.to_vec(); // logits: [49152]
    let mut text = String::new();
    let mut rows: Vec<(String, TokenSet, u32)> = Vec::new(); // for the picture
    println!("step | token        | allowed | p(allowed) | the model's first choice, if forbidden");
    for step in 0.. {
        let allowed = constraint.allowed()?.clone();
        // how much of the model's own probability the allowed tokens hold: Σ softmax(l)[allowed]
        let max = logits.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        let z: f64 = logits.iter().map(|&l| ((l - max) as f64).exp()).sum();
        let mass: f64 = allowed
            .iter()
            .map(|id| ((logits[id as usize] - max) as f64).exp() / z)
            .sum();
        let first = argmax(&logits);
        apply_mask(&mut logits, allowed.words()); // −∞ outside the set
        let id = argmax(&logits); // greedy over what is left
        let shown = |id: u32| {
            format!(
                "{:?}",
                String::from_utf8_lossy(tok.token_bytes(id).unwrap_or(b"?"))
            )
        };
        let forbidden = if allowed.contains(first) {
            String::new()
        } else {
            shown(first)
        };
        println!(
            "{step:>4} | {:<12} | {:>7} | {:>10.4} | {forbidden}",
            shown(id),
            allowed.count(),
            mass
        );
        rows.push((shown(id), allowed, id));
        constraint.advance(id)?;
        if constraint.is_finished() {
            break;
        }
        text.push_str(&String::from_utf8_lossy(tok.token_bytes(id).unwrap_or(b"")));
        logits = model.forward(&mut session, &[id])?.to_vec();
    }
    // ANCHOR_END: loop

    // ANCHOR: record
    let record: serde_json::Value = serde_json::from_str(&text).expect("the mask guarantees JSON");
    println!("\n{text}\n");
    for key in ["company", "amount", "currency", "date"] {
        println!("{key:>8}: {}", record[key]);
    }
    // ANCHOR_END: record

    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--svg") {
        let path = args.get(i + 1).expect("--svg PATH");
        glassbox::formats::file::write_atomic(
            std::path::Path::new(path),
            picture(&model, &rows).as_bytes(),
        )?;
        eprintln!("\nwrote {path}");
    }
    Ok(())
}

/// Steps down, probe tokens across: green allowed, grey forbidden, a dark box on the one chosen.
fn picture(model: &Llama, rows: &[(String, TokenSet, u32)]) -> String {
    let tok = &model.tokenizer;
    let probes: Vec<(String, u32)> = PROBES
        .iter()
        .filter_map(|p| tok.token_id(p).map(|id| (p.to_string(), id)))
        .collect();
    let (cell, left, top) = (18, 150, 90);
    let (w, h) = (
        left + cell * probes.len() + 70,
        top + cell * rows.len() + 30,
    );
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"monospace\" font-size=\"11\">\n\
         <title>The token mask at each step of the invoice extraction</title>\n\
         <desc>Rows are generation steps, columns are tokens; green cells are allowed, grey forbidden, the boxed cell is the token chosen.</desc>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    let esc = |t: &str| {
        t.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    for (j, (p, _)) in probes.iter().enumerate() {
        let x = left + j * cell + cell / 2;
        let label = esc(&format!(
            "{:?}",
            String::from_utf8_lossy(tok.token_bytes(tok.token_id(p).unwrap_or(0)).unwrap_or(b""))
        ));
        s += &format!(
            "<text transform=\"translate({x},{}) rotate(-60)\">{label}</text>\n",
            top - 4
        );
    }
    for (i, (shown, allowed, chosen)) in rows.iter().enumerate() {
        let y = top + i * cell;
        s += &format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{} {}</text>\n",
            left - 6,
            y + 13,
            i,
            esc(shown)
        );
        for (j, (_, id)) in probes.iter().enumerate() {
            let fill = if allowed.contains(*id) {
                "#4caf50"
            } else {
                "#e0e0e0"
            };
            let stroke = if id == chosen {
                " stroke=\"#000\" stroke-width=\"2\""
            } else {
                " stroke=\"#fff\""
            };
            s += &format!("<rect x=\"{}\" y=\"{y}\" width=\"{cell}\" height=\"{cell}\" fill=\"{fill}\"{stroke}/>\n", left + j * cell);
        }
    }
    s += &format!(
        "<text x=\"{left}\" y=\"{}\">green: allowed · grey: forbidden · boxed: chosen (greedy)</text>\n</svg>\n",
        top + cell * rows.len() + 20
    );
    s
}
