//! Lesson 15: sentence embeddings — an encoder built from the decoder's parts.
//!
//! WordPiece next to byte-level BPE on one sentence; the similarity matrix of eight sentences
//! (printed, and drawn as an SVG); a query and three documents ranked by cosine; and the same
//! paraphrase test run on SmolLM2's mean-pooled hidden states, to measure why a decoder's states
//! make poor sentence embeddings; then embeddings per second at batch sizes 1, 8 and 64.
//!
//!     cargo run --release --example 15_embeddings [SVG]
//!
//! SVG defaults to `target/lessons/ch14-similarity.svg`; `scripts/regenerate-book.sh` passes
//! book/src/img/ch14-similarity.svg.

use std::fmt::Write as _;
use std::time::Instant;

use glassbox::model::bert::{cosine, l2_normalize};
use glassbox::model::{Bert, Llama};

/// Eight sentences: four pairs that mean the same thing, four subjects.
const SENTENCES: [&str; 8] = [
    "The capital of France is Paris.",
    "Paris is the capital city of France.",
    "How do I reset my password?",
    "I forgot my password and cannot log in.",
    "A man is playing the guitar.",
    "Someone is strumming a guitar.",
    "The stock market fell sharply on Monday.",
    "Share prices dropped steeply at the start of the week.",
];

/// Near misses: each shares most of its words with one sentence above, not its meaning.
const TRAPS: [&str; 4] = [
    "The capital of Peru is Lima.",
    "How do I reset my router?",
    "A man is playing football.",
    "The stock market museum opened on Monday.",
];

fn main() -> glassbox::Result<()> {
    // ANCHOR: load
    let bert = Bert::load(glassbox::data::default_embedder()?)?;
    let c = &bert.config;
    // parameters: the three embedding tables and their norm, then per layer four d×d and two
    // d×ffn matrices with their biases and two norms (the checkpoint's unused pooler not counted)
    let (d, ffn) = (c.hidden_size, c.intermediate_size);
    let per_layer = 4 * (d * d + d) + (ffn * d + ffn) + (d * ffn + d) + 2 * 2 * d;
    let params = (c.vocab_size + c.max_position_embeddings + c.type_vocab_size) * d
        + 2 * d
        + c.num_hidden_layers * per_layer;
    println!(
        "all-MiniLM-L6-v2: {params} parameters, {} layers, d_model {}, {} heads of {}, FFN {}, vocab {}, max {} tokens",
        c.num_hidden_layers,
        c.hidden_size,
        c.num_attention_heads,
        c.head_dim(),
        c.intermediate_size,
        c.vocab_size,
        bert.max_len()
    );
    // ANCHOR_END: load

    // ANCHOR: wordpiece
    let text = "Tokenizers disagree: WordPiece lowercases Héllo!";
    let llama = Llama::load(glassbox::data::default_model()?)?;
    let wp: Vec<&str> = bert
        .encode(text)
        .iter()
        .map(|&id| bert.tokenizer.token_text(id).unwrap_or("?"))
        .collect();
    let bpe: Vec<String> = llama
        .tokenizer
        .encode(text)
        .iter()
        .map(|&id| {
            String::from_utf8_lossy(llama.tokenizer.token_bytes(id).unwrap_or(b"?")).into_owned()
        })
        .collect();
    println!(
        "\n{text:?}\n  WordPiece ({} ids): {}",
        wp.len(),
        wp.join(" ")
    );
    println!(
        "  BPE, SmolLM2 ({} ids): {}",
        bpe.len(),
        bpe.iter()
            .map(|t| format!("{t:?}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    // ANCHOR_END: wordpiece

    // ANCHOR: matrix
    let t0 = Instant::now();
    let vectors = bert.embed(&SENTENCES)?; // 8 × [384], each of length 1
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    println!(
        "\n8 sentences → 8 × [{}] in {ms:.0} ms; cosine similarity:",
        bert.dim()
    );
    let sim: Vec<Vec<f32>> = vectors
        .iter()
        .map(|a| vectors.iter().map(|b| cosine(a, b)).collect())
        .collect();
    for (i, row) in sim.iter().enumerate() {
        let cells: String = row.iter().map(|s| format!("{s:6.2}")).collect();
        println!("  [{}] {cells}   {}", i + 1, SENTENCES[i]);
    }
    // ANCHOR_END: matrix
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/lessons/ch14-similarity.svg".into());
    let path = std::path::Path::new(&path);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| glassbox::Error::io(dir, e))?;
    }
    glassbox::formats::file::write_atomic(path, matrix_svg(&sim).as_bytes())?;

    // ANCHOR: query
    let query = "Which city is France's capital?";
    let docs = [
        "Berlin is the capital of Germany.",
        "Paris has been the capital of France since the tenth century.",
        "France is famous for its cheese and wine.",
    ];
    let q = bert.embed(&[query])?.remove(0);
    let d = bert.embed(&docs)?;
    println!("\nquery: {query:?}");
    let mut ranked: Vec<(f32, &str)> = d
        .iter()
        .zip(docs)
        .map(|(v, t)| (cosine(&q, v), t))
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (s, t) in &ranked {
        println!("  {s:.3}  {t}");
    }
    // ANCHOR_END: query

    // ANCHOR: decoder
    // The same sentences (and the four traps) through SmolLM2: one token at a time, keeping each
    // position's final hidden state (after the last norm, what the output head reads), averaged.
    let all: Vec<&str> = SENTENCES.iter().chain(&TRAPS).copied().collect();
    let encoder = bert.embed(&all)?;
    let decoder: Vec<Vec<f32>> = all
        .iter()
        .map(|s| mean_pooled_decoder_state(&llama, s))
        .collect::<glassbox::Result<_>>()?;
    println!("\nparaphrase test: pairs 1-2, 3-4, 5-6, 7-8, with the 4 traps as extra candidates");
    println!(
        "  {:<36} {:>9} {:>8} {:>6} {:>10}",
        "", "same pair", "others", "gap", "nearest is"
    );
    println!(
        "  {:<36} {:>9} {:>8} {:>6} {:>10}",
        "", "(mean)", "(mean)", "", "the partner"
    );
    for (name, v) in [
        ("all-MiniLM-L6-v2 (encoder, trained)", &encoder),
        ("SmolLM2-135M mean-pooled (decoder)", &decoder),
    ] {
        let (same, other, hits) = paraphrase_scores(v);
        println!(
            "  {name:<36} {same:9.3} {other:8.3} {:6.3} {hits:>8}/8",
            same - other
        );
    }
    // ANCHOR_END: decoder

    // ANCHOR: measure
    let threads = rayon::current_num_threads();
    println!("\nembeddings per second ({threads} threads, the 8 sentences cycled, best of 5):");
    for b in [1usize, 8, 64] {
        let batch: Vec<&str> = SENTENCES.iter().cycle().take(b).copied().collect();
        let best = (0..5)
            .map(|_| {
                let t0 = Instant::now();
                bert.embed(&batch).map(|_| t0.elapsed().as_secs_f64())
            })
            .collect::<glassbox::Result<Vec<f64>>>()?
            .into_iter()
            .fold(f64::INFINITY, f64::min);
        println!(
            "  batch {b:2}: {:7.1} sentences/s ({:.1} ms per batch)",
            b as f64 / best,
            best * 1e3
        );
    }
    // ANCHOR_END: measure
    eprintln!("wrote the similarity matrix to {}", path.display());
    Ok(())
}

/// SmolLM2's last hidden state at every position of `text`, averaged, normalised.
fn mean_pooled_decoder_state(m: &Llama, text: &str) -> glassbox::Result<Vec<f32>> {
    let ids = m.tokenizer.encode(text);
    let mut s = m.new_session(ids.len())?;
    s.set_capture(m.config.num_hidden_layers, true);
    let mut sum = vec![0.0f32; m.config.hidden_size];
    for &id in &ids {
        m.forward(&mut s, &[id])?;
        let states = s.captured().expect("capture is on");
        let last = states[m.config.num_hidden_layers + 1]; // after the final norm
        sum.iter_mut().zip(last).for_each(|(a, &b)| *a += b);
    }
    l2_normalize(&mut sum);
    Ok(sum)
}

/// Over the first 8 vectors (four pairs 0-1, 2-3, ...; the rest are traps): the mean cosine
/// within pairs, the mean over every other pair of vectors, and for how many of the 8 the
/// nearest other vector (traps included) is its partner.
fn paraphrase_scores(v: &[Vec<f32>]) -> (f32, f32, usize) {
    let (mut same, mut other, mut n_other, mut hits) = (0.0, 0.0, 0, 0);
    for i in 0..v.len() {
        for j in i + 1..v.len() {
            let s = cosine(&v[i], &v[j]);
            if i < 8 && j == i ^ 1 {
                same += s;
            } else {
                other += s;
                n_other += 1;
            }
        }
    }
    for i in 0..8 {
        let nearest = (0..v.len())
            .filter(|&j| j != i)
            .max_by(|&a, &b| cosine(&v[i], &v[a]).total_cmp(&cosine(&v[i], &v[b])));
        hits += usize::from(nearest == Some(i ^ 1));
    }
    (same / 4.0, other / n_other as f32, hits)
}

/// The similarity matrix as an SVG heatmap with a colour scale.
fn matrix_svg(sim: &[Vec<f32>]) -> String {
    let n = sim.len();
    let (cell, left, top) = (46.0, 370.0, 60.0);
    let (w, h) = (left + cell * n as f64 + 150.0, top + cell * n as f64 + 30.0);
    // white at cosine ≤ 0, deep blue at 1
    let colour = |s: f32| {
        let t = s.clamp(0.0, 1.0) as f64;
        let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
        format!(
            "#{:02x}{:02x}{:02x}",
            mix(255.0, 33.0),
            mix(255.0, 82.0),
            mix(255.0, 160.0)
        )
    };
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11" role="img" aria-label="Cosine similarity of eight sentences under all-MiniLM-L6-v2: the four paraphrase pairs are blue (0.59 to 0.97), unrelated sentences near white (about 0)"><rect width="100%" height="100%" fill="#fff"/><text x="{}" y="22" font-size="14" text-anchor="middle">Cosine similarity, all-MiniLM-L6-v2</text>"##,
        w / 2.0
    );
    for (i, row) in sim.iter().enumerate() {
        let y = top + cell * i as f64;
        let label = SENTENCES[i].replace('&', "&amp;");
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">[{}] {label}</text>"#,
            left - 8.0,
            y + cell / 2.0 + 4.0,
            i + 1
        );
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">[{}]</text>"#,
            left + cell * i as f64 + cell / 2.0,
            top - 8.0,
            i + 1
        );
        for (j, &v) in row.iter().enumerate() {
            let x = left + cell * j as f64;
            let ink = if v > 0.55 { "#fff" } else { "#222" };
            let _ = write!(
                s,
                r##"<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{}" stroke="#fff"/><text x="{}" y="{}" text-anchor="middle" fill="{ink}">{v:.2}</text>"##,
                colour(v),
                x + cell / 2.0,
                y + cell / 2.0 + 4.0
            );
        }
    }
    // colour scale
    let sx = left + cell * n as f64 + 30.0;
    for k in 0..=10 {
        let v = 1.0 - k as f32 / 10.0;
        let y = top + k as f64 * cell * n as f64 / 11.0;
        let _ = write!(
            s,
            r#"<rect x="{sx}" y="{y}" width="18" height="{}" fill="{}"/>"#,
            cell * n as f64 / 11.0 + 0.5,
            colour(v)
        );
        if k % 5 == 0 {
            let _ = write!(
                s,
                r#"<text x="{}" y="{}">{v:.1}</text>"#,
                sx + 24.0,
                y + 10.0
            );
        }
    }
    let _ = write!(
        s,
        r#"<text x="{sx}" y="{}" font-size="10">cosine (≤ 0 white)</text></svg>"#,
        top + cell * n as f64 + 16.0
    );
    s
}
