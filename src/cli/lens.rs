//! `glassbox lens`: the logit lens. What would the model say if it stopped after layer l?
//!
//! ```text
//! glassbox lens --prompt "The capital of France is" --target " Paris" --target " London"
//! glassbox lens --prompt "The capital of France is" --target " Paris" --out lens.svg --json
//! ```
//!
//! One forward pass; the last position's residual stream after the embedding and after every
//! layer goes through the final RMSNorm and the output head (`model::probe::logit_lens`). For
//! each layer: the top tokens with their probabilities and, for every `--target`, its rank among
//! all tokens and its probability. The last row is the model's real output. `--out` draws the
//! same as an SVG: layers down, ranks across, each cell a token coloured by its probability, and
//! the targets' ranks on a log scale beside them.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::cli::common::{ModelArg, PromptArgs};
use crate::cli::svg;
use crate::model::probe::{logit_lens, LensRow};
use crate::model::Llama;
use crate::tokenizer::Tokenizer;
use crate::{Error, Result};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArg,

    #[command(flatten)]
    pub prompt: PromptArgs,

    /// A token to follow through the layers (one token, e.g. " Paris" with its space); repeat
    /// the flag to follow several.
    #[arg(long, value_name = "TOKEN")]
    pub target: Vec<String>,

    /// How many of the most likely tokens to show per layer.
    #[arg(long, default_value_t = 5, value_name = "K")]
    pub top: usize,

    /// Write the lens as an SVG file (layers × ranks, and the targets' ranks).
    #[arg(long, value_name = "FILE.svg")]
    pub out: Option<PathBuf>,

    /// Print one JSON object {"ids", "layers": [{"layer", "top": [{"id", "token", "prob"}],
    /// "targets": [{"id", "token", "rank", "prob"}]}]} instead of the table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<()> {
    let text = args.prompt.text()?;
    let path = args.model.path()?;
    let model = Llama::load(&path)?;
    let tok = &model.tokenizer;
    let ids = tok.encode_with_special(&text);
    if ids.is_empty() {
        return Err(Error::invalid(
            "the prompt is empty: there is no position to predict from",
        ));
    }
    if args.top == 0 {
        return Err(Error::invalid("--top must be at least 1"));
    }
    let targets = args
        .target
        .iter()
        .map(|t| one_token(tok, t))
        .collect::<Result<Vec<u32>>>()?;
    let lens = logit_lens(&model, &ids, args.top, &targets)?;
    let name = |id: u32| {
        let b = tok.decode_bytes(&[id]).unwrap_or_default();
        String::from_utf8_lossy(&b).into_owned()
    };
    let layer_name = |r: &LensRow| r.layer.map_or("emb".to_string(), |l| l.to_string());

    if let Some(out) = &args.out {
        let picture = lens_svg(&lens, &text, &name, model.config.vocab_size);
        crate::formats::file::write_atomic(out, picture.as_bytes())?;
    }
    if args.json {
        let layers: Vec<serde_json::Value> = lens
            .iter()
            .map(|r| {
                serde_json::json!({
                    "layer": r.layer,
                    "top": r.top.iter().map(|&(id, p)| serde_json::json!({"id": id, "token": name(id), "prob": p})).collect::<Vec<_>>(),
                    "targets": r.targets.iter().map(|t| serde_json::json!({"id": t.id, "token": name(t.id), "rank": t.rank, "prob": t.prob})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let obj = serde_json::json!({
            "model": path.display().to_string(),
            "ids": ids,
            "layers": layers,
        });
        println!("{obj}");
        return Ok(());
    }
    println!(
        "logit lens: the last token {:?} after each layer, read through the final norm and head",
        name(ids[ids.len() - 1])
    );
    let tops: Vec<String> = lens
        .iter()
        .map(|r| {
            let top: Vec<String> = r
                .top
                .iter()
                .map(|&(id, p)| format!("{:?} {p:.2}", name(id)))
                .collect();
            top.join(", ")
        })
        .collect();
    let width = tops
        .iter()
        .map(|t| t.chars().count())
        .max()
        .unwrap_or(0)
        .max(5);
    let mut head = format!("{:>5}  {:<width$}", "layer", format!("top {}", args.top));
    for &t in &targets {
        let _ = write!(head, "  {:>16}", format!("{:?} rank, p", name(t)));
    }
    println!("{head}");
    for (r, top) in lens.iter().zip(&tops) {
        let pad = width - top.chars().count();
        let mut line = format!("{:>5}  {top}{}", layer_name(r), " ".repeat(pad));
        for t in &r.targets {
            let _ = write!(line, "  {:>16}", format!("{:>5}  {:.4}", t.rank, t.prob));
        }
        println!("{line}");
    }
    if let Some(out) = &args.out {
        println!("wrote {}", out.display());
    }
    Ok(())
}

/// The id of a text that is exactly one token, or an error that shows how it splits.
fn one_token(tok: &Tokenizer, text: &str) -> Result<u32> {
    let ids = tok.encode_with_special(text);
    match ids[..] {
        [id] => Ok(id),
        _ => Err(Error::invalid(format!(
            "--target {text:?} is {} tokens {ids:?}, not one; the lens follows single tokens \
             (a word usually carries its leading space: \" Paris\")",
            ids.len()
        ))),
    }
}

/// Rows = the embedding and the layers, top to bottom; columns = ranks 1..K, each cell the
/// token at that rank coloured by its probability; then one panel where each target's rank is
/// a point on a log scale (1 at the left), drawn with its own marker shape.
fn lens_svg(lens: &[LensRow], prompt: &str, name: &dyn Fn(u32) -> String, vocab: usize) -> String {
    let k = lens.first().map_or(0, |r| r.top.len());
    let (row_h, cell_w, label_w) = (18.0f32, 92.0f32, 46.0f32);
    let (x0, y0) = (12.0 + label_w, 62.0);
    let rank_x = x0 + k as f32 * cell_w + 24.0; // the targets' panel
    let rank_w = 300.0;
    let legend_x = rank_x + rank_w + 30.0;
    let (w, h) = (legend_x + 70.0, y0 + lens.len() as f32 * row_h + 70.0);
    let targets: Vec<u32> = lens
        .first()
        .map_or(vec![], |r| r.targets.iter().map(|t| t.id).collect());
    let alt = format!(
        "Logit lens for the prompt {prompt:?}: for the embedding and each layer, the {k} most likely next tokens coloured by probability, and the rank of {} on a log scale",
        targets.iter().map(|&t| format!("{:?}", name(t))).collect::<Vec<_>>().join(" and ")
    );
    let mut s = String::new();
    svg::open(
        &mut s,
        w,
        h,
        &alt,
        &format!("Logit lens: {prompt:?}, the last token after each layer"),
    );
    let header = |s: &mut String, x: f32, text: &str| {
        let _ = write!(
            s,
            r##"<text x="{x}" y="{}" font-size="11" font-weight="bold">{}</text>"##,
            y0 - 8.0,
            svg::esc(text)
        );
    };
    header(&mut s, 12.0, "layer");
    for r in 0..k {
        header(
            &mut s,
            x0 + r as f32 * cell_w + 4.0,
            &format!("rank {}", r + 1),
        );
    }
    header(&mut s, rank_x, "rank among all tokens (log scale)");
    // the rank axis: 1 … vocab, log10
    let top_rank = (vocab.max(2) as f32).log10();
    let rx = |rank: usize| rank_x + rank_w * (rank.max(1) as f32).log10() / top_rank;
    let bottom = y0 + lens.len() as f32 * row_h;
    for tick in [1usize, 10, 100, 1000, 10000] {
        if tick > vocab {
            continue;
        }
        let x = rx(tick);
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" y1="{y0}" x2="{x:.1}" y2="{bottom}" stroke="#ddd"/><text x="{x:.1}" y="{:.1}" font-size="10" text-anchor="middle">{tick}</text>"##,
            bottom + 14.0
        );
    }
    for (i, r) in lens.iter().enumerate() {
        let y = y0 + i as f32 * row_h;
        let label = r.layer.map_or("emb".to_string(), |l| l.to_string());
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{label}</text>"##,
            x0 - 6.0,
            y + 13.0
        );
        for (c, &(id, p)) in r.top.iter().enumerate() {
            let x = x0 + c as f32 * cell_w;
            let word = svg::token_label(&name(id), 11);
            let is_target = targets.contains(&id);
            let _ = write!(
                s,
                r##"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}" stroke="{}" stroke-width="{}"><title>layer {label}, rank {}: {} p = {p:.4}</title></rect><text x="{:.1}" y="{:.1}" font-size="11" fill="{}" font-weight="{}">{}</text>"##,
                cell_w - 2.0,
                row_h - 2.0,
                svg::colour(p),
                if is_target { "#c05621" } else { "#fff" },
                if is_target { 2 } else { 1 },
                c + 1,
                svg::esc(&word),
                x + 4.0,
                y + 12.5,
                svg::ink(p),
                if is_target { "bold" } else { "normal" },
                svg::esc(&word)
            );
        }
        for (n, t) in r.targets.iter().enumerate() {
            let (x, cy) = (rx(t.rank), y + row_h / 2.0 - 1.0);
            let _ = write!(
                s,
                "{}",
                marker(
                    n,
                    x,
                    cy,
                    &format!("{:?} rank {} p = {:.4}", name(t.id), t.rank, t.prob)
                )
            );
        }
    }
    // the targets' legend, under their panel: marker shape and name
    for (n, &t) in targets.iter().enumerate() {
        let (x, y) = (rank_x + n as f32 * 120.0, bottom + 36.0);
        let _ = write!(s, "{}", marker(n, x + 5.0, y - 4.0, ""));
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{y:.1}" font-size="11">{}</text>"##,
            x + 14.0,
            svg::esc(&format!("{:?}", name(t)))
        );
    }
    let _ = write!(
        s,
        r##"<text x="12" y="{:.1}" font-size="10" fill="#444">a bordered cell is a followed token; the last row is the model's real output</text>"##,
        h - 10.0
    );
    svg::legend(&mut s, legend_x, y0 + 10.0, 200.0, "probability");
    s.push_str("</svg>");
    s
}

/// Target `n`'s marker at (x, y): a blue circle, an orange square, a green triangle, … so two
/// targets differ by shape as well as by colour.
fn marker(n: usize, x: f32, y: f32, tip: &str) -> String {
    const INK: [&str; 4] = ["#2b6cb0", "#c05621", "#2f855a", "#6b46c1"];
    let ink = INK[n % INK.len()];
    let title = if tip.is_empty() {
        String::new()
    } else {
        format!("<title>{}</title>", svg::esc(tip))
    };
    match n % 3 {
        0 => format!(r##"<circle cx="{x:.1}" cy="{y:.1}" r="5" fill="{ink}">{title}</circle>"##),
        1 => format!(
            r##"<rect x="{:.1}" y="{:.1}" width="9" height="9" fill="{ink}">{title}</rect>"##,
            x - 4.5,
            y - 4.5
        ),
        _ => format!(
            r##"<path d="M{x:.1},{:.1} l5,9 h-10 z" fill="{ink}">{title}</path>"##,
            y - 5.0
        ),
    }
}
