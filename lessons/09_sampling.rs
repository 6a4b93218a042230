//! Lesson 09: sampling — what temperature, top-k and top-p do to the next-token distribution.
//!
//! Runs SmolLM2 on "The capital of France is", prints the top tokens at T = 0.5 / 1 / 1.5 with
//! the top-k and top-p cut-offs, draws the same as an SVG bar chart on a log scale (to the path
//! given, default `target/lessons/ch09-next-token.svg`; `scripts/regenerate-book.sh` gives the
//! book's), samples a few continuations, and measures a full sort against partial selection
//! over the 49,152 logits.
//!
//!     cargo run --release --example 09_sampling [-- picture.svg]

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
        let n = keeps(p, &order);
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

    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/lessons/ch09-next-token.svg".into());
    let path = std::path::Path::new(&path);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| glassbox::Error::io(dir, e))?;
    }
    glassbox::formats::file::write_atomic(path, chart(&logits, &order, &name).as_bytes())?;
    eprintln!("wrote the chart to {}", path.display());
    Ok(())
}

/// Smallest probability the chart's log axis shows.
const FLOOR: f64 = 1e-5;

/// Three panels (T = 0.5, 1, 1.5) of the top-20 probabilities on a log axis (1 down to 10⁻⁵),
/// so the tail the filters cut stays visible; bars kept by top-k 10 and top-p 0.9 are dark, kept
/// by one light, removed by both grey and hatched; the cut-offs are dashed lines.
fn chart(logits: &[f32], order: &[usize], name: &dyn Fn(usize) -> String) -> String {
    let (w, panel_h, bar_w, left) = (820.0, 210.0, 30.0, 70.0);
    let plot_h = panel_h - 85.0; // pixels from p = 1 down to FLOOR
    let decades = -FLOOR.log10();
    let mut s = String::new();
    let h = panel_h * 3.0 + 50.0;
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11" role="img" aria-label="Next-token probabilities after 'The capital of France is' at temperatures 0.5, 1 and 1.5, top 20 tokens on a log scale from 1 to 0.00001; ' Paris' dominates and the tail rises as T grows; dashed lines mark where top-k 10 and top-p 0.9 cut"><title>Next-token probabilities at T = 0.5, 1 and 1.5 on a log scale, with the top-k 10 and top-p 0.9 cut-offs</title>"#
    );
    let _ = write!(
        s,
        r##"<rect width="100%" height="100%" fill="#fff"/><defs><pattern id="hatch" width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="4" height="4" fill="#edf2f7"/><line x1="0" y1="0" x2="0" y2="4" stroke="#a0aec0" stroke-width="1.5"/></pattern></defs><text x="{}" y="18" font-size="14" text-anchor="middle">Next token after “The capital of France is” (SmolLM2-135M), probability on a log scale</text>"##,
        w / 2.0
    );
    let right = left + TOP as f64 * bar_w;
    for (row, &t) in TEMPS.iter().enumerate() {
        let p = softmax_t(logits, t);
        let y0 = 34.0 + panel_h * row as f64;
        let top = y0 + 22.0; // where p = 1 is drawn
        let base = top + plot_h; // where p = FLOOR is drawn
        let y_of = |q: f64| top + plot_h * (-q.max(FLOOR).log10()) / decades;
        let _ = write!(
            s,
            r#"<text x="8" y="{}" font-size="13" font-weight="bold">T = {t}</text>"#,
            y0 + 12.0
        );
        // the log axis: a grid line and a label per decade
        for d in 0..=decades as i32 {
            let q = 10f64.powi(-d);
            let y = y_of(q);
            let label = if d == 0 {
                "1".to_string()
            } else {
                format!("1e-{d}")
            };
            let _ = write!(
                s,
                r##"<line x1="{left}" y1="{y:.1}" x2="{right}" y2="{y:.1}" stroke="#e2e8f0"/><text x="{}" y="{:.1}" text-anchor="end" font-size="9" fill="#555">{label}</text>"##,
                left - 4.0,
                y + 3.0
            );
        }
        let mut cum = 0.0;
        let mut p_cut = None;
        for (rank, &id) in order[..TOP].iter().enumerate() {
            let in_p = cum < TOP_P as f64;
            cum += p[id];
            let x = left + rank as f64 * bar_w + 4.0;
            let y = y_of(p[id]);
            let fill = match (rank < TOP_K, in_p) {
                (true, true) => "#2b6cb0",
                (true, false) | (false, true) => "#90cdf4",
                (false, false) => "url(#hatch)",
            };
            let _ = write!(
                s,
                r##"<rect x="{x}" y="{y:.1}" width="{}" height="{:.1}" fill="{fill}" stroke="#4a5568" stroke-width="0.5"><title>{:?}: {:.2e}</title></rect>"##,
                bar_w - 6.0,
                (base - y).max(0.5),
                name(id),
                p[id]
            );
            if p[id] >= 0.01 {
                let _ = write!(
                    s,
                    r#"<text x="{}" y="{:.1}" text-anchor="middle" font-size="9">{:.2}</text>"#,
                    x + (bar_w - 6.0) / 2.0,
                    y - 3.0,
                    p[id]
                );
            }
            let word = name(id);
            let shown = if word.trim().is_empty() {
                "␣".repeat(word.chars().count().max(1)) // a token of spaces
            } else {
                word.trim().to_string()
            };
            let _ = write!(
                s,
                r#"<text transform="translate({},{}) rotate(-50)" text-anchor="end" font-size="10">{}</text>"#,
                x + 12.0,
                base + 12.0,
                xml(&shown)
            );
            if p_cut.is_none() && cum >= TOP_P as f64 {
                p_cut = Some(x + bar_w - 2.0);
            }
        }
        // the two cut-offs: a red dashed line (top-p) and a green dotted one (top-k), named in
        // a key at the top right of the panel, so no label sits on the bars or on each other
        let key_x = right - 330.0;
        let _ = write!(
            s,
            r##"<line x1="{key_x}" y1="{ky}" x2="{}" y2="{ky}" stroke="#2f855a" stroke-width="1.5" stroke-dasharray="2 2"/><text x="{}" y="{}" fill="#2f855a" font-size="10">top-k 10</text>"##,
            key_x + 22.0,
            key_x + 26.0,
            y0 + 12.0,
            ky = y0 + 8.0
        );
        let kx = left + TOP_K as f64 * bar_w + 1.0;
        let _ = write!(
            s,
            r##"<line x1="{kx}" y1="{top}" x2="{kx}" y2="{base}" stroke="#2f855a" stroke-width="1.5" stroke-dasharray="2 2"/>"##
        );
        let p_key = match p_cut {
            Some(cx) => {
                let _ = write!(
                    s,
                    r##"<line x1="{cx}" y1="{top}" x2="{cx}" y2="{base}" stroke="#c53030" stroke-width="1.5" stroke-dasharray="5 3"/>"##
                );
                "top-p 0.9".to_string()
            }
            None => format!(
                "top-p 0.9 keeps {} tokens: its cut is far right of the chart",
                keeps(&p, order)
            ),
        };
        let _ = write!(
            s,
            r##"<line x1="{}" y1="{ky}" x2="{}" y2="{ky}" stroke="#c53030" stroke-width="1.5" stroke-dasharray="5 3"/><text x="{}" y="{}" fill="#c53030" font-size="10">{p_key}</text>"##,
            key_x + 80.0,
            key_x + 102.0,
            key_x + 106.0,
            y0 + 12.0,
            ky = y0 + 8.0
        );
    }
    let _ = write!(
        s,
        r##"<text x="{left}" y="{}" font-size="10" fill="#444">dark: kept by both top-k 10 and top-p 0.9 · light: kept by one · hatched: removed by both · labels: probabilities ≥ 0.01</text></svg>"##,
        h - 8.0
    );
    s
}

/// How many tokens top-p 0.9 keeps for probabilities `p` (largest first, as `order` lists them).
fn keeps(p: &[f64], order: &[usize]) -> usize {
    let (mut cum, mut n) = (0.0, 0);
    while cum < TOP_P as f64 && n < order.len() {
        cum += p[order[n]];
        n += 1;
    }
    n
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
