//! Lesson 09: sampling — what temperature, top-k and top-p do to the next-token distribution.
//!
//! Runs SmolLM2 on "The capital of France is", prints the top tokens at T = 0.5 / 1 / 1.5 with
//! the top-k and top-p cut-offs, draws the same as an SVG bar chart
//! (book/src/img/ch09-next-token.svg), samples a few continuations, and measures a full sort
//! against partial selection over the 49,152 logits.
//!
//!     cargo run --release --example 09_sampling

use glassbox::model::Llama;
use glassbox::sampler::{self, Sampler, SamplerConfig};
use std::fmt::Write as _;
use std::time::Instant;

const TOP: usize = 20;
const TEMPS: [f32; 3] = [0.5, 1.0, 1.5];
const TOP_K: usize = 10;
const TOP_P: f32 = 0.9;

fn softmax_t(logits: &[f32], t: f32) -> Vec<f64> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f64> = logits
        .iter()
        .map(|&l| (((l - max) / t) as f64).exp())
        .collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|x| x / s).collect()
}

fn main() -> glassbox::Result<()> {
    // ANCHOR: logits
    let model = Llama::load(glassbox::data::default_model()?)?;
    let tok = &model.tokenizer;
    let prompt = tok.encode("The capital of France is");
    let mut session = model.new_session(prompt.len())?;
    let logits = model.forward(&mut session, &prompt)?.to_vec(); // logits: [49152]
                                                                 // ANCHOR_END: logits

    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    let top = &order[..TOP];
    let name = |id: usize| {
        String::from_utf8_lossy(tok.token_bytes(id as u32).unwrap_or(b"?")).replace('\n', "\\n")
    };

    // ANCHOR: table
    println!(
        "next token after {:?}, {} candidates; top {TOP}:",
        "The capital of France is",
        logits.len()
    );
    println!(
        "{:>4} {:>7} {:<12} {:>8} {:>8} {:>8}",
        "rank", "id", "token", "T=0.5", "T=1", "T=1.5"
    );
    let probs: Vec<Vec<f64>> = TEMPS.iter().map(|&t| softmax_t(&logits, t)).collect();
    for (rank, &id) in top.iter().enumerate() {
        print!(
            "{:>4} {:>7} {:<12}",
            rank + 1,
            id,
            format!("{:?}", name(id))
        );
        for p in &probs {
            print!(" {:>8.4}", p[id]);
        }
        println!();
    }
    // where top-p 0.9 cuts at each temperature (how many tokens it keeps)
    for (t, p) in TEMPS.iter().zip(&probs) {
        let (mut cum, mut n) = (0.0, 0);
        while cum < TOP_P as f64 {
            cum += p[order[n]];
            n += 1;
        }
        println!(
            "T = {t}: top-p {TOP_P} keeps {n} tokens; top-k {TOP_K} keeps {:.1}% of the mass",
            100.0 * order[..TOP_K].iter().map(|&i| p[i]).sum::<f64>()
        );
    }
    // ANCHOR_END: table

    // ANCHOR: sample
    for (t, k, p) in [(0.0, 0, 1.0), (0.7, 40, 0.95), (1.5, 0, 1.0)] {
        let mut s = Sampler::new(SamplerConfig {
            temperature: t,
            top_k: k,
            top_p: p,
            seed: 1,
            ..Default::default()
        })?;
        let ids: Vec<u32> = (0..10)
            .map(|_| s.sample(&mut logits.clone(), &prompt))
            .collect();
        let words: Vec<String> = ids.iter().map(|&i| name(i as usize)).collect();
        println!("T={t:<3} top-k={k:<2} top-p={p:<4}: 10 draws → {words:?}");
    }
    // ANCHOR_END: sample

    // Measure: full sort vs partial selection (select_nth_unstable) for top-k = 40.
    let cands = sampler::candidates(&logits);
    let reps = 200;
    let t0 = Instant::now();
    for _ in 0..reps {
        let mut c = cands.clone();
        c.sort_by(|a, b| b.logit.total_cmp(&a.logit));
        c.truncate(40);
        std::hint::black_box(&c);
    }
    let full = t0.elapsed().as_secs_f64() / reps as f64;
    let t0 = Instant::now();
    for _ in 0..reps {
        let mut c = cands.clone();
        sampler::top_k(&mut c, 40);
        std::hint::black_box(&c);
    }
    let partial = t0.elapsed().as_secs_f64() / reps as f64;
    println!(
        "top-40 of {}: full sort {:.0} µs, partial selection {:.0} µs ({:.1}× faster)",
        cands.len(),
        full * 1e6,
        partial * 1e6,
        full / partial
    );

    let svg = chart(&logits, &order, &name);
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src/img/ch09-next-token.svg");
    std::fs::write(&path, svg).map_err(|e| glassbox::Error::io(&path, e))?;
    println!(
        "wrote book/src/img/{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("")
    );
    Ok(())
}

/// Three panels (T = 0.5, 1, 1.5) of the top-20 probabilities; bars kept by top-k 10 and
/// top-p 0.9 are dark, the rest light; the top-p cut is a dashed line.
fn chart(logits: &[f32], order: &[usize], name: &dyn Fn(usize) -> String) -> String {
    let (w, panel_h, bar_w, left) = (760.0, 190.0, 30.0, 60.0);
    let mut s = String::new();
    let h = panel_h * 3.0 + 40.0;
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11" role="img" aria-label="Next-token probabilities after 'The capital of France is' at temperatures 0.5, 1 and 1.5; ' Paris' dominates and flattens as T grows">"#
    );
    let _ = write!(
        s,
        r##"<rect width="100%" height="100%" fill="#fff"/><text x="{}" y="18" font-size="14" text-anchor="middle">Next token after “The capital of France is” (SmolLM2-135M)</text>"##,
        w / 2.0
    );
    for (row, &t) in TEMPS.iter().enumerate() {
        let p = softmax_t(logits, t);
        let y0 = 30.0 + panel_h * row as f64;
        let base = y0 + panel_h - 55.0;
        let scale = panel_h - 75.0; // pixels for p = 1
        let _ = write!(
            s,
            r#"<text x="8" y="{}" font-size="13">T = {t}</text>"#,
            y0 + 20.0
        );
        let _ = write!(
            s,
            r##"<line x1="{left}" y1="{base}" x2="{}" y2="{base}" stroke="#444"/>"##,
            left + TOP as f64 * bar_w + 10.0
        );
        let mut cum = 0.0;
        let mut cut_drawn = false;
        for (rank, &id) in order[..TOP].iter().enumerate() {
            let in_p = cum < TOP_P as f64;
            cum += p[id];
            let x = left + rank as f64 * bar_w + 4.0;
            let bh = (p[id] * scale).max(0.5);
            let colour = if rank < TOP_K && in_p {
                "#2b6cb0"
            } else if rank < TOP_K || in_p {
                "#90cdf4"
            } else {
                "#e2e8f0"
            };
            let _ = write!(
                s,
                r#"<rect x="{x}" y="{}" width="{}" height="{bh}" fill="{colour}"><title>{:?}: {:.4}</title></rect>"#,
                base - bh,
                bar_w - 6.0,
                name(id),
                p[id]
            );
            if p[id] > 0.02 {
                let _ = write!(
                    s,
                    r#"<text x="{}" y="{}" text-anchor="middle" font-size="9">{:.2}</text>"#,
                    x + (bar_w - 6.0) / 2.0,
                    base - bh - 3.0,
                    p[id]
                );
            }
            let label = xml(&name(id));
            let _ = write!(
                s,
                r#"<text transform="translate({},{}) rotate(-50)" text-anchor="end" font-size="10">{label}</text>"#,
                x + 12.0,
                base + 12.0
            );
            if !cut_drawn && cum >= TOP_P as f64 {
                let cx = x + bar_w - 2.0;
                let _ = write!(
                    s,
                    r##"<line x1="{cx}" y1="{}" x2="{cx}" y2="{base}" stroke="#c53030" stroke-dasharray="4 3"/><text x="{}" y="{}" fill="#c53030" font-size="10">top-p 0.9</text>"##,
                    y0 + 10.0,
                    cx + 3.0,
                    y0 + 20.0
                );
                cut_drawn = true;
            }
        }
        let kx = left + TOP_K as f64 * bar_w + 1.0;
        let _ = write!(
            s,
            r##"<line x1="{kx}" y1="{}" x2="{kx}" y2="{base}" stroke="#2f855a" stroke-dasharray="2 2"/><text x="{}" y="{}" fill="#2f855a" font-size="10">top-k 10</text>"##,
            y0 + 30.0,
            kx + 3.0,
            y0 + 40.0
        );
    }
    let _ = write!(
        s,
        r##"<text x="{left}" y="{}" font-size="10" fill="#444">dark: kept by both top-k 10 and top-p 0.9 · light blue: kept by one · grey: removed by both</text></svg>"##,
        h - 8.0
    );
    s
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
