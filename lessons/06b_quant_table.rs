//! Lesson 6b, the measurement: SmolLM2-135M at every common type, glassbox's quantizer beside
//! llama.cpp's, on held-out text.
//!
//! Reads DIR/smollm2-{glassbox,llamacpp}-{TYPE}.gguf (made by `scripts/quant_table.sh`), takes
//! the held-out slice of the Brown corpus (its last 120,000 bytes, from a line start: no other
//! lesson or test reads past the first 5.8 MB), and for every file measures over the same
//! windows (`perplexity::evaluate`, the base's log-probabilities computed once per window):
//! size, bits per weight, perplexity ±, mean / max KL against the F32 file, top-1 agreement; and
//! glassbox's decode speed on its own files (median of rounds that alternate the files, so a slow
//! spell of a shared machine is spread over all of them).
//!
//! Writes ch06b-table.md, ch06b-table.json and ch06b-ppl-vs-bpw.svg into OUT (default
//! `target/lessons/ch06b`, never a tracked file); `scripts/regenerate-book.sh` copies them into
//! book/src, where the chapter includes them. `--replot` redraws the SVG from the committed
//! book/src/ch06b-table.json, measuring nothing.
//!
//! Run: `scripts/quant_table.sh` (or `cargo run --release --example 06b_quant_table -- DIR
//! [--windows 10] [--ctx 512] [--out OUT]`)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use glassbox::cli::cpu_share::{cpu_ticks, others_percent};
use glassbox::data;
use glassbox::formats::file::write_atomic;
use glassbox::formats::gguf::GgufFile;
use glassbox::model::Llama;
use glassbox::perplexity::{evaluate, Tally};
use glassbox::sampler::argmax;
use glassbox::weights::tensor::WeightMatrix;
use serde_json::json;

/// The rows of the issue's table, best to worst.
const TYPES: [&str; 13] = [
    "F32", "BF16", "F16", "Q8_0", "Q6_K", "Q5_K_M", "Q5_1", "Q5_0", "Q4_K_M", "Q4_1", "Q4_0",
    "Q3_K_M", "Q2_K",
];
const HELD_OUT_BYTES: usize = 120_000;

/// One file's facts: size, bits per weight, and whether its tensors equal another file's.
struct FileFacts {
    bytes: u64,
    bpw: f64,
    tensors: BTreeMap<String, (u32, u64)>, // name → (type id, hash of the data)
}

fn facts(path: &Path) -> glassbox::Result<FileFacts> {
    let g = GgufFile::open(path)?;
    let (mut data, mut params) = (0u64, 0u64);
    let mut tensors = BTreeMap::new();
    for t in &g.tensors {
        let w = WeightMatrix::from_gguf(&g, &t.name)?;
        data += w.bytes().len() as u64;
        params += t.n_elements();
        // FNV-1a over the bytes: enough to tell two files' tensors apart
        let h = w.bytes().iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        });
        tensors.insert(t.name.clone(), (t.type_id, h));
    }
    let bytes = std::fs::metadata(path)
        .map_err(|e| glassbox::Error::io(path, e))?
        .len();
    Ok(FileFacts {
        bytes,
        bpw: 8.0 * data as f64 / params as f64,
        tensors,
    })
}

/// Decode tok/s of each model: `rounds` rounds, each running every model in turn for `n`
/// greedy steps after a short prompt; the median round per model.
fn decode_speeds(models: &[&Llama], n: usize, rounds: usize) -> glassbox::Result<Vec<f64>> {
    let prompt: Vec<u32> = (0..16).map(|i| 1000 + 37 * i).collect();
    let mut runs = vec![Vec::new(); models.len()];
    for _ in 0..rounds {
        for (k, m) in models.iter().enumerate() {
            let mut s = m.new_session(prompt.len() + n + 1)?;
            let mut next = argmax(m.forward(&mut s, &prompt)?);
            let t = Instant::now();
            for _ in 0..n {
                next = argmax(m.forward(&mut s, &[next])?);
            }
            runs[k].push(n as f64 / t.elapsed().as_secs_f64());
        }
    }
    Ok(runs
        .into_iter()
        .map(|mut v| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        })
        .collect())
}

fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn main() -> glassbox::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(
        args.get(1)
            .cloned()
            .unwrap_or_else(|| data::data_dir().join("quant-table").display().to_string()),
    );
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let flag =
        |name: &str, default: usize| value(name).and_then(|v| v.parse().ok()).unwrap_or(default);
    let (windows, ctx) = (flag("--windows", 10), flag("--ctx", 512));
    let out_dir = PathBuf::from(value("--out").map_or("target/lessons/ch06b", |v| v.as_str()));
    std::fs::create_dir_all(&out_dir).map_err(|e| glassbox::Error::io(&out_dir, e))?;
    if args.iter().any(|a| a == "--replot") {
        return replot(&out_dir); // the SVG again from ch06b-table.json, nothing measured
    }

    // the held-out text
    let brown = std::fs::read(data::brown::brown_corpus()?)
        .map_err(|e| glassbox::Error::io("brown.txt", e))?;
    let tail = &brown[brown.len().saturating_sub(HELD_OUT_BYTES)..];
    let start = tail.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
    let text = String::from_utf8_lossy(&tail[start..]).into_owned();

    // the files
    let file = |who: &str, t: &str| dir.join(format!("smollm2-{who}-{t}.gguf"));
    let mut rows = Vec::new(); // (type, who, path)
    for t in TYPES {
        for who in ["glassbox", "llamacpp"] {
            if file(who, t).is_file() {
                rows.push((t, who, file(who, t)));
            }
        }
    }
    let base_path = [file("glassbox", "F32"), file("llamacpp", "F32")]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| {
            glassbox::Error::invalid(format!(
                "no smollm2-*-F32.gguf in {}: run scripts/quant_table.sh",
                dir.display()
            ))
        })?;
    let base = Llama::load(&base_path)?;
    let models: Vec<Llama> = rows
        .iter()
        .map(|(_, _, p)| Llama::load(p))
        .collect::<glassbox::Result<_>>()?;
    let tokens = base.tokenizer.encode(&text);
    let windows = windows.min(tokens.len() / ctx);
    eprintln!(
        "{} files, {} held-out tokens, {windows} windows of {ctx}",
        rows.len(),
        tokens.len()
    );

    // perplexity, KL, top-1 for every file at once
    let t0 = Instant::now();
    let refs: Vec<&Llama> = models.iter().collect();
    let tallies: Vec<Tally> = evaluate(&refs, Some(&base), &tokens, ctx, windows, |w, t| {
        eprintln!(
            "window {}/{windows} done ({:.0} s); F32 PPL so far {:.3}",
            w + 1,
            t0.elapsed().as_secs_f64(),
            t[0].perplexity().0
        );
    })?;

    // decode speed of glassbox's own files, alternating
    let own: Vec<usize> = (0..rows.len())
        .filter(|&k| rows[k].1 == "glassbox")
        .collect();
    let ticks_before = cpu_ticks();
    let speeds = decode_speeds(&own.iter().map(|&k| &models[k]).collect::<Vec<_>>(), 32, 5)?;
    let others = ticks_before
        .zip(cpu_ticks())
        .map(|(a, b)| others_percent(&a, &b));
    let threads = rayon::current_num_threads();
    // more than a tenth of the cores taken by others: the speeds are upper bounds on the time
    let under_load = others.is_some_and(|o| o > 10.0);

    // the table
    let mut facts_of = BTreeMap::new();
    for (t, who, p) in &rows {
        facts_of.insert((t.to_string(), who.to_string()), facts(p)?);
    }
    let mut md = String::new();
    md.push_str(&format!(
        "SmolLM2-135M-Instruct; held-out text: the last {HELD_OUT_BYTES} bytes of the Brown corpus, {} tokens scored \
         ({windows} windows of {ctx}, second halves); base for KL: the F32 file. Machine: {}, {threads} threads; \
         decode tok/s: median of 5 alternating rounds of 32 tokens{}.\n\n",
        tallies.first().map_or(0, |t| t.n),
        cpu_name(),
        match others {
            Some(o) if under_load => format!(
                " — **taken under load** (other programs used {o:.0}% of the cores meanwhile): compare them with each other only"
            ),
            Some(o) => format!(" (other programs used {o:.0}% of the cores meanwhile)"),
            None => String::new(),
        }
    ));
    md.push_str("| type | size (MB) | bits/weight | perplexity | KL vs F32 (mean, max) | top-1 agree | decode tok/s | llama.cpp's file: perplexity, KL, top-1 | same tensors |\n");
    md.push_str("|---|---:|---:|---:|---:|---:|---:|---:|:---:|\n");
    let mut json_rows = Vec::new();
    let mut points = Vec::new(); // (bpw, ppl, err, label, ours)
    for t in TYPES {
        let find = |who: &str| rows.iter().position(|r| r.0 == t && r.1 == who);
        let (g, l) = (find("glassbox"), find("llamacpp"));
        let Some(k) = g.or(l) else { continue };
        let f = &facts_of[&(t.to_string(), rows[k].1.to_string())];
        let cell = |k: usize| {
            let tl = &tallies[k];
            let (ppl, err) = tl.perplexity();
            let (kl, _) = tl.mean_kl();
            (ppl, err, kl, tl.max_kl, tl.top1_agreement())
        };
        let ours = g.map(cell);
        let theirs = l.map(cell);
        let speed = g
            .and_then(|k| own.iter().position(|&x| x == k))
            .map(|i| speeds[i]);
        let same = if g.is_some() && l.is_some() {
            let (fa, fb) = (
                &facts_of[&(t.to_string(), "glassbox".into())],
                &facts_of[&(t.to_string(), "llamacpp".into())],
            );
            let differ = fa
                .tensors
                .iter()
                .filter(|(n, v)| fb.tensors.get(*n) != Some(v))
                .count();
            if differ == 0 {
                "yes".to_string()
            } else {
                format!("{differ} differ")
            }
        } else {
            "—".into()
        };
        let fmt = |c: Option<(f64, f64, f64, f64, f64)>| match c {
            Some((p, e, kl, mx, top)) => (
                format!("{p:.3} ± {e:.3}"),
                format!("{kl:.5}, {mx:.3}"),
                format!("{:.2}%", 100.0 * top),
            ),
            None => ("—".into(), "—".into(), "—".into()),
        };
        let (p, kl, top) = fmt(ours.or(theirs));
        let (lp, lkl, ltop) = fmt(theirs);
        md.push_str(&format!(
            "| {t} | {:.1} | {:.3} | {p} | {kl} | {top} | {} | {lp}; {lkl}; {ltop} | {same} |\n",
            f.bytes as f64 / 1e6,
            f.bpw,
            speed.map_or("—".into(), |s| format!("{s:.1}")),
        ));
        if let Some((pp, e, ..)) = ours.or(theirs) {
            points.push((f.bpw, pp, e, t.to_string()));
        }
        json_rows.push(json!({
            "type": t, "bytes": f.bytes, "bits_per_weight": f.bpw,
            "glassbox": ours.map(|(p, e, kl, mx, top)| json!({"perplexity": p, "err": e, "mean_kl": kl, "max_kl": mx, "top1": top})),
            "llamacpp": theirs.map(|(p, e, kl, mx, top)| json!({"perplexity": p, "err": e, "mean_kl": kl, "max_kl": mx, "top1": top})),
            "decode_tok_s": speed, "same_tensors": same,
        }));
    }
    write_atomic(&out_dir.join("ch06b-table.md"), md.as_bytes())?;
    let meta = json!({"cpu": cpu_name(), "threads": threads, "others_cpu_percent": others,
                      "under_load": under_load, "windows": windows, "ctx": ctx, "rows": json_rows});
    let json = serde_json::to_string_pretty(&meta).unwrap_or_default() + "\n";
    write_atomic(&out_dir.join("ch06b-table.json"), json.as_bytes())?;
    write_atomic(
        &out_dir.join("ch06b-ppl-vs-bpw.svg"),
        plot(&points).as_bytes(),
    )?;
    print!("{md}");
    eprintln!(
        "wrote ch06b-table.md, ch06b-table.json and ch06b-ppl-vs-bpw.svg to {}",
        out_dir.display()
    );
    Ok(())
}

/// Redraw the plot from the JSON a measuring run wrote (the book's copy).
fn replot(out_dir: &Path) -> glassbox::Result<()> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src/ch06b-table.json");
    let v = glassbox::formats::file::read_json(&p)?;
    let rows = v["rows"].as_array().cloned().unwrap_or_default();
    let points: Vec<(f64, f64, f64, String)> = rows
        .iter()
        .filter_map(|r| {
            let m = if r["glassbox"].is_null() {
                &r["llamacpp"]
            } else {
                &r["glassbox"]
            };
            Some((
                r["bits_per_weight"].as_f64()?,
                m["perplexity"].as_f64()?,
                m["err"].as_f64()?,
                r["type"].as_str()?.to_string(),
            ))
        })
        .collect();
    write_atomic(
        &out_dir.join("ch06b-ppl-vs-bpw.svg"),
        plot(&points).as_bytes(),
    )
}

// ANCHOR: plot
/// Perplexity (± as a bar) against bits per weight on a log₂ axis, one labelled point per type.
/// Each label takes the first of a few places around its point that overlaps no earlier label
/// and no point; a label set away from its point gets a thin leader line.
fn plot(points: &[(f64, f64, f64, String)]) -> String {
    let (w, h, left, right, top, bottom) = (760.0, 460.0, 70.0, 30.0, 30.0, 60.0);
    let (x0, x1) = (2.0f64, 5.2f64); // log2(bits): 4 … ~36
    let ymax = points.iter().map(|p| p.1 + p.2).fold(0.0, f64::max) * 1.05;
    let ymin = points
        .iter()
        .map(|p| p.1 - p.2)
        .fold(f64::INFINITY, f64::min)
        * 0.95;
    let sx = |b: f64| left + (b.log2() - x0) / (x1 - x0) * (w - left - right);
    let sy = |v: f64| top + (ymax - v) / (ymax - ymin) * (h - top - bottom);
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<title>Perplexity of SmolLM2-135M on held-out text against bits per weight</title>
<rect width="100%" height="100%" fill="white"/>
<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="black"/>
<line x1="{left}" y1="{top}" x2="{left}" y2="{}" stroke="black"/>
<text x="{}" y="{}" text-anchor="middle">bits per weight, whole file (log scale)</text>
<text x="16" y="{}" transform="rotate(-90 16 {})" text-anchor="middle">perplexity ± standard error (held-out Brown)</text>
"#,
        h - bottom,
        w - right,
        h - bottom,
        h - bottom,
        (left + w - right) / 2.0,
        h - 15.0,
        (top + h - bottom) / 2.0,
        (top + h - bottom) / 2.0
    );
    for b in [4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 12.0, 16.0, 24.0, 32.0] {
        s += &format!(
            "<line x1=\"{0:.1}\" y1=\"{1}\" x2=\"{0:.1}\" y2=\"{2}\" stroke=\"#ddd\"/><text x=\"{0:.1}\" y=\"{3}\" text-anchor=\"middle\">{b}</text>\n",
            sx(b),
            top,
            h - bottom,
            h - bottom + 16.0
        );
    }
    let steps = 5;
    for i in 0..=steps {
        let v = ymin + (ymax - ymin) * i as f64 / steps as f64;
        s += &format!(
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{v:.1}</text>\n",
            left - 6.0,
            sy(v) + 4.0
        );
    }
    // points first (error bar, dot), then labels around them
    let xy: Vec<(f64, f64)> = points.iter().map(|p| (sx(p.0), sy(p.1))).collect();
    for ((_, ppl, err, _), &(x, y)) in points.iter().zip(&xy) {
        s += &format!(
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#999\"/><circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"#1f77b4\"/>\n",
            sy(ppl - err),
            sy(ppl + err)
        );
    }
    let mut boxes: Vec<(f64, f64, f64, f64)> = Vec::new(); // placed labels: x, y (baseline), width, height
    let hits = |bx: (f64, f64, f64, f64), boxes: &[(f64, f64, f64, f64)]| {
        let (x, y, bw, bh) = bx;
        let overlap = |o: &(f64, f64, f64, f64)| {
            x < o.0 + o.2 && o.0 < x + bw && y - bh < o.1 && o.1 - o.3 < y
        };
        boxes.iter().any(overlap)
            || xy.iter().any(|&(px, py)| {
                px > x - 4.0 && px < x + bw + 4.0 && py > y - bh - 4.0 && py < y + 4.0
            })
    };
    for ((.., label), &(x, y)) in points.iter().zip(&xy) {
        let bw = 7.5 * label.len() as f64;
        let candidates = [
            (x + 8.0, y - 6.0),
            (x + 8.0, y + 16.0),
            (x - 8.0 - bw, y - 6.0),
            (x - 8.0 - bw, y + 16.0),
            (x + 8.0, y - 22.0),
            (x - 8.0 - bw, y - 22.0),
            (x + 8.0, y + 32.0),
            (x - 8.0 - bw, y + 32.0),
            (x + 8.0, y - 38.0),
            (x + 8.0, y + 48.0),
        ];
        let (lx, ly) = candidates
            .iter()
            .copied()
            .find(|&(cx, cy)| !hits((cx, cy, bw, 12.0), &boxes))
            .unwrap_or(candidates[0]);
        boxes.push((lx, ly, bw, 12.0));
        if (ly - y).abs() > 20.0 {
            let ex = if lx > x { lx } else { lx + bw };
            s += &format!(
                "<line x1=\"{x:.1}\" y1=\"{y:.1}\" x2=\"{ex:.1}\" y2=\"{:.1}\" stroke=\"#bbb\"/>\n",
                ly - 4.0
            );
        }
        s += &format!("<text x=\"{lx:.1}\" y=\"{ly:.1}\">{label}</text>\n");
    }
    s.push_str("</svg>\n");
    s
}
// ANCHOR_END: plot
