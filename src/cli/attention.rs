//! `glassbox attention`: where each token of your prompt looks, in any layer of the real model.
//!
//! ```text
//! glassbox attention --prompt "The capital of France is" --layer 14 --out layer14.svg
//! glassbox attention --prompt "The capital of France is" --layer 14 --head 4 --json
//! ```
//!
//! One forward pass over the prompt with the attention probe on layer `L`
//! (`model::probe::attention_map`): the softmax weights `[n_heads, T, T]`, row = the query
//! token, column = the key token it reads, masked (future) cells 0. The table shows, for each
//! head, where the last token looks; `--out` draws every head of the layer as a grid of
//! heatmaps (or one head, with `--head`) with a colour scale; `--json` prints the numbers.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::cli::common::{ModelArg, PromptArgs};
use crate::cli::svg;
use crate::model::probe::attention_map;
use crate::model::Llama;
use crate::{Error, Result};

/// Longest prompt drawn: the weights are `n_heads × T × T` floats, and past a few hundred
/// tokens a heatmap's cells are smaller than a pixel.
pub const MAX_TOKENS: usize = 512;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArg,

    #[command(flatten)]
    pub prompt: PromptArgs,

    /// The layer to look at (0 = the first; SmolLM2 has 0 to 29).
    #[arg(long, default_value_t = 0, value_name = "L")]
    pub layer: usize,

    /// One query head (default: every head of the layer, drawn as a grid).
    #[arg(long, value_name = "H")]
    pub head: Option<usize>,

    /// Write the heatmaps, with a colour scale, as an SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub out: Option<PathBuf>,

    /// Print one JSON object {"ids", "tokens", "layer", "heads", "kv_heads", "weights":
    /// [head][query][key]} instead of the table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<()> {
    let text = args.prompt.text()?;
    let path = args.model.path()?;
    let model = Llama::load(&path)?;
    let ids = model.tokenizer.encode_with_special(&text);
    if ids.is_empty() {
        return Err(Error::invalid(
            "the prompt is empty: there is nothing to attend to",
        ));
    }
    if ids.len() > MAX_TOKENS {
        return Err(Error::invalid(format!(
            "the prompt has {} tokens; `glassbox attention` draws at most {MAX_TOKENS} (shorten it)",
            ids.len()
        )));
    }
    let (nh, t) = (model.config.num_attention_heads, ids.len());
    let heads: Vec<usize> = match args.head {
        Some(h) if h >= nh => {
            return Err(Error::invalid(format!(
                "--head {h}: this model has query heads 0 to {}",
                nh - 1
            )))
        }
        Some(h) => vec![h],
        None => (0..nh).collect(),
    };
    let w = attention_map(&model, &ids, args.layer)?; // w: [n_heads, T, T]
    let group = nh / model.config.num_key_value_heads;
    let tokens: Vec<String> = ids
        .iter()
        .map(|&id| {
            let b = model.tokenizer.decode_bytes(&[id]).unwrap_or_default();
            String::from_utf8_lossy(&b).into_owned()
        })
        .collect();
    let head_rows = |h: usize| &w[h * t * t..(h + 1) * t * t];

    if let Some(out) = &args.out {
        let picture = Heatmap {
            layer: args.layer,
            prompt: &text,
            tokens: &tokens,
            heads: &heads,
            group,
            weights: &w,
        }
        .svg();
        crate::formats::file::write_atomic(out, picture.as_bytes())?;
    }
    if args.json {
        let weights: Vec<Vec<&[f32]>> = heads
            .iter()
            .map(|&h| head_rows(h).chunks_exact(t).collect())
            .collect();
        let obj = serde_json::json!({
            "model": path.display().to_string(),
            "ids": ids,
            "tokens": tokens,
            "layer": args.layer,
            "heads": heads,
            "kv_heads": heads.iter().map(|h| h / group).collect::<Vec<_>>(),
            "weights": weights,
        });
        println!("{obj}");
        return Ok(());
    }
    println!(
        "layer {}, {t} tokens; where the last token {:?} looks (top 3 keys per head):",
        args.layer,
        tokens[t - 1]
    );
    for &h in &heads {
        let last = &head_rows(h)[(t - 1) * t..];
        let mut order: Vec<usize> = (0..t).collect();
        order.sort_by(|&a, &b| last[b].total_cmp(&last[a]));
        let mut line = format!("  head {h} (KV head {}):", h / group);
        for &j in order.iter().take(3) {
            let _ = write!(line, "  {:?} {:.3}", tokens[j], last[j]);
        }
        println!("{line}");
    }
    if let [h] = heads[..] {
        println!("head {h}, every query (rows) against every key (columns):");
        for (i, row) in head_rows(h).chunks_exact(t).enumerate() {
            let cells: Vec<String> = row[..=i].iter().map(|p| format!("{p:.3}")).collect();
            println!("  {:>14} {}", format!("{:?}", tokens[i]), cells.join(" "));
        }
    }
    if let Some(out) = &args.out {
        println!("wrote {}", out.display());
    }
    Ok(())
}

/// The heatmaps of some heads of one layer.
struct Heatmap<'a> {
    layer: usize,
    prompt: &'a str,
    tokens: &'a [String],
    heads: &'a [usize],
    group: usize,
    /// `[n_heads, T, T]`
    weights: &'a [f32],
}

impl Heatmap<'_> {
    /// One T×T panel per head, three to a row (one larger panel for a single head): rows are
    /// queries, columns keys, masked cells hatched grey; the colour scale on the right.
    fn svg(&self) -> String {
        let t = self.tokens.len();
        let single = self.heads.len() == 1;
        let panel_px = if single { 420.0 } else { 240.0 };
        let cell = (panel_px / t as f32).clamp(3.0, if single { 56.0 } else { 30.0 });
        let labelled = cell >= 10.0; // below that, labels would overlap
        let font = (cell * 0.55).clamp(8.0, 11.0);
        let labels: Vec<String> = self
            .tokens
            .iter()
            .map(|s| svg::token_label(s, 12))
            .collect();
        let label_w = if labelled {
            // about 0.62 em per character, plus a gap
            let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(1);
            longest as f32 * font * 0.62 + 8.0
        } else {
            4.0
        };
        let bottom = if labelled { label_w * 0.8 + 8.0 } else { 8.0 };
        let cols = if single { 1 } else { 3.min(self.heads.len()) };
        let rows = self.heads.len().div_ceil(cols);
        let (panel_w, panel_h) = (
            label_w + t as f32 * cell + 24.0,
            22.0 + t as f32 * cell + bottom,
        );
        let (grid_x, grid_y) = (12.0, 40.0);
        let legend_x = grid_x + cols as f32 * panel_w + 10.0;
        let heads_text = match self.heads {
            [h] => format!("head {h}"),
            hs => format!("all {} heads", hs.len()),
        };
        let heading = format!(
            "Layer {} attention, {heads_text}: {:?}",
            self.layer, self.prompt
        );
        // the heading (14 px, about 7.5 px a character) must fit too
        let w = (legend_x + 70.0).max(24.0 + 7.5 * heading.chars().count() as f32);
        let h = grid_y + rows as f32 * panel_h + 30.0;
        let alt = format!(
            "Attention weights of layer {}, {heads_text}, for the prompt {:?}: rows are query tokens, columns the key tokens they read; darker is more weight, grey cells are the masked future",
            self.layer, self.prompt
        );
        let mut s = String::new();
        svg::open(&mut s, w, h, &alt, &heading);
        for (k, &head) in self.heads.iter().enumerate() {
            let px = grid_x + (k % cols) as f32 * panel_w;
            let py = grid_y + (k / cols) as f32 * panel_h;
            let (x0, y0) = (px + label_w, py + 20.0);
            let _ = write!(
                s,
                r##"<text x="{x0}" y="{}" font-size="12" font-weight="bold">head {head} (KV head {})</text>"##,
                py + 12.0,
                head / self.group
            );
            let rows = &self.weights[head * t * t..(head + 1) * t * t];
            for i in 0..t {
                for j in 0..t {
                    let (x, y) = (x0 + j as f32 * cell, y0 + i as f32 * cell);
                    if j > i {
                        let _ = write!(
                            s,
                            r##"<rect x="{x:.1}" y="{y:.1}" width="{cell:.1}" height="{cell:.1}" fill="#d9d9d9" stroke="#fff" stroke-width="0.5"/>"##
                        );
                        continue;
                    }
                    let p = rows[i * t + j];
                    let _ = write!(
                        s,
                        r##"<rect x="{x:.1}" y="{y:.1}" width="{cell:.1}" height="{cell:.1}" fill="{}" stroke="#fff" stroke-width="0.5"><title>{} → {}: {p:.3}</title></rect>"##,
                        svg::colour(p),
                        svg::esc(&labels[i]),
                        svg::esc(&labels[j])
                    );
                }
            }
            if labelled {
                for (i, l) in labels.iter().enumerate() {
                    let mid = i as f32 * cell + cell / 2.0 + font * 0.35;
                    // query labels on the left, right-aligned against the panel
                    let _ = write!(
                        s,
                        r##"<text x="{:.1}" y="{:.1}" font-size="{font:.1}" text-anchor="end">{}</text>"##,
                        x0 - 4.0,
                        y0 + mid,
                        svg::esc(l)
                    );
                    // key labels under the panel, turned so neighbours cannot touch
                    let kx = x0 + i as f32 * cell + cell / 2.0 + font * 0.35;
                    let ky = y0 + t as f32 * cell + 6.0;
                    let _ = write!(
                        s,
                        r##"<text transform="translate({kx:.1},{ky:.1}) rotate(-60)" font-size="{font:.1}" text-anchor="end">{}</text>"##,
                        svg::esc(l)
                    );
                }
            }
        }
        let legend_h = (h - grid_y - 60.0).clamp(80.0, 220.0);
        svg::legend(&mut s, legend_x, grid_y + 20.0, legend_h, "weight");
        s.push_str("</svg>");
        s
    }
}
