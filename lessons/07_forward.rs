//! Lesson 7: the whole forward pass on a real prompt.
//!
//! Runs "The capital of France is" through SmolLM2-135M-Instruct, follows the last token's
//! hidden state through the 30 layers (its norm and first values after each), prints the top-5
//! next tokens, then measures the latency of a forward pass over 1, 16 and 128 tokens and the
//! process's peak memory. The norms are drawn as a bar chart (to the path given, default
//! `target/lessons/ch07-layers.svg`; `scripts/regenerate-book.sh` gives the book's).
//!
//! Run: `cargo run --release --example 07_forward [-- picture.svg]`

use std::fmt::Write as _;
use std::time::Instant;

use glassbox::data;
use glassbox::model::Llama;

fn norm(x: &[f32]) -> f32 {
    x.iter().map(|v| v * v).sum::<f32>().sqrt()
}

/// Peak resident memory of this process (Linux `VmHWM`), in MB; `None` elsewhere.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() -> glassbox::Result<()> {
    let model = Llama::load(data::default_model()?)?;
    let prompt = "The capital of France is";

    // ANCHOR: run
    let ids = model.tokenizer.encode_with_special(prompt);
    let mut session = model.new_session(256)?;
    session.set_capture(model.config.num_hidden_layers, true);
    let logits = model.forward(&mut session, &ids)?.to_vec();
    // ANCHOR_END: run

    let pieces: Vec<String> = ids
        .iter()
        .map(|&id| {
            String::from_utf8_lossy(model.tokenizer.token_bytes(id).unwrap_or(b"?")).into_owned()
        })
        .collect();
    println!("{prompt:?} → ids {ids:?} = {pieces:?}");
    println!(
        "x: [{}, {}] → 30 blocks → logits: [{}]\n",
        ids.len(),
        model.config.hidden_size,
        logits.len()
    );

    // ANCHOR: layers
    let states = session.captured().expect("capture is on");
    let n = model.config.num_hidden_layers;
    println!("the last token's hidden state (‖x‖ and its first 4 values):");
    for (i, x) in states.iter().enumerate() {
        let label = match i {
            0 => "embedding".to_string(),
            i if i == n + 1 => "final norm".to_string(),
            i => format!("after layer {:2}", i - 1),
        };
        if i <= 3 || i >= n - 2 || i % 5 == 0 {
            println!("  {label:15} ‖x‖ = {:8.2}   {:.3?}", norm(x), &x[..4]);
        }
    }
    // ANCHOR_END: layers
    let norms: Vec<f32> = states.iter().map(|x| norm(x)).collect(); // for the chart

    // ANCHOR: top5
    let max = logits.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    let z: f32 = logits.iter().map(|&l| (l - max).exp()).sum();
    let top = glassbox::sampler::largest(&logits, 5);
    println!("\ntop-5 next tokens:");
    for glassbox::sampler::Candidate { id, logit: l } in top {
        let text =
            String::from_utf8_lossy(model.tokenizer.token_bytes(id).unwrap_or(b"?")).into_owned();
        println!(
            "  {id:6} {text:12?} logit {l:7.3}  p = {:.3}",
            (l - max).exp() / z
        );
    }
    // ANCHOR_END: top5

    // Latency of one forward pass over n tokens (best of 3, from an empty cache).
    println!(
        "\nlatency of a forward pass ({} rayon threads):",
        rayon::current_num_threads()
    );
    let long: Vec<u32> = ids.iter().copied().cycle().take(128).collect();
    for len in [1usize, 16, 128] {
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            session.reset();
            let t = Instant::now();
            model.forward(&mut session, &long[..len])?;
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!("  {len:4} tokens: {:7.1} ms", best * 1e3);
    }
    if let Some(mb) = peak_rss_mb() {
        println!("peak resident memory: {mb:.0} MB (weights are mapped, so the file's pages count once touched)");
    }

    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/lessons/ch07-layers.svg".into());
    let path = std::path::Path::new(&path);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| glassbox::Error::io(dir, e))?;
    }
    glassbox::formats::file::write_atomic(path, chart(&norms).as_bytes())?;
    eprintln!("wrote the chart to {}", path.display());
    Ok(())
}

/// ‖x‖ of the last position after the embedding, after each layer and after the final norm,
/// one bar each, every fifth labelled with its value.
fn chart(norms: &[f32]) -> String {
    let n = norms.len(); // n_layers + 2
    let (w, h, left, base, top) = (900.0, 400.0, 60.0, 320.0, 70.0);
    let step = (w - left - 20.0) / n as f64;
    let max = norms.iter().fold(1.0f32, |a, &b| a.max(b)) as f64;
    let scale = (base - top) / max;
    let label = |i: usize| match i {
        0 => "emb".to_string(),
        i if i == n - 1 => "norm".to_string(),
        i => (i - 1).to_string(),
    };
    let values: Vec<String> = norms.iter().map(|v| format!("{v:.0}")).collect();
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-family="sans-serif" role="img" aria-label="Bar chart of the norm of the last token's hidden state for 'The capital of France is', after the embedding, after each of the {} layers and after the final RMSNorm: {}"><title>The last token's hidden state, layer by layer: ‖x‖ = {}</title><rect width="100%" height="100%" fill="#fff"/><text x="{}" y="24" text-anchor="middle" font-size="15" font-weight="bold">"The capital of France is": the last token's ‖x‖, layer by layer</text><text x="{}" y="44" text-anchor="middle" font-size="11" fill="#555">emb = after the embedding · 0–{} = after that layer · norm = after the final RMSNorm (what the head reads)</text>"##,
        n - 2,
        values.join(", "),
        values.join(", "),
        w / 2.0,
        w / 2.0,
        n - 3
    );
    for tick in [0.0, max / 2.0, max] {
        let y = base - tick * scale;
        let _ = write!(
            s,
            r##"<line x1="{left}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#e2e8f0"/><text x="{}" y="{:.1}" text-anchor="end" font-size="10">{tick:.0}</text>"##,
            w - 20.0,
            left - 4.0,
            y + 3.0
        );
    }
    for (i, &v) in norms.iter().enumerate() {
        let x = left + i as f64 * step + 2.0;
        let bh = (v as f64 * scale).max(1.0);
        let fill = if i == n - 1 { "#68b36b" } else { "#6baed6" };
        let _ = write!(
            s,
            r#"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}" fill="{fill}"><title>{}: {v:.2}</title></rect><text x="{:.1}" y="{}" text-anchor="middle" font-size="9">{}</text>"#,
            base - bh,
            step - 4.0,
            label(i),
            x + (step - 4.0) / 2.0,
            base + 13.0,
            label(i)
        );
        if i % 5 == 0 || i >= n - 3 {
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="9">{v:.0}</text>"#,
                x + (step - 4.0) / 2.0,
                base - bh - 4.0
            );
        }
    }
    let _ = write!(
        s,
        r##"<text x="{left}" y="{}" font-size="11">Each block adds its two branches to the stream, so ‖x‖ grows; the final RMSNorm rescales it for the head.</text></svg>"##,
        h - 30.0
    );
    s
}
