//! Lesson 18: where the weights come from. Trains a BPE tokenizer on the Brown corpus
//! (vocabulary 4096), then a tiny Llama from scratch on it with the hand-written backward pass,
//! printing the loss, validation perplexity and samples at each checkpoint, and drawing the
//! loss curve measured on this machine into `target/lesson18/ch18-loss.svg` (the book's copy is
//! refreshed by `scripts/regenerate-book.sh`: a lesson never rewrites a file the repository tracks).
//!
//!     cargo run --release --example 18_train                 (≈ 20 minutes on 2 quiet cores)
//!     cargo run --release --example 18_train -- --steps 200  (a shorter run: warmup, validation
//!                                                            and checkpoints scale with it)
//!
//! The model and tokenizer go to `target/lesson18/`; `glassbox generate --model
//! target/lesson18/brown-llama --prompt "The jury"` runs the result. An interrupted run
//! continues from its newest checkpoint when the lesson is started again (the same run as an
//! uninterrupted one); a finished run is only reported. Delete `target/lesson18/brown-llama` to
//! train again. Every number printed comes from the run's `log.jsonl`.

use std::path::{Path, PathBuf};

use glassbox::cli::cpu_share::{cpu_ticks, others_percent};
use glassbox::tokenizer::corpus::CHUNK_BYTES;
use glassbox::tokenizer::train::train_files_report;
use glassbox::tokenizer::train_naive::TrainConfig as BpeConfig;
use glassbox::tokenizer::Pretokenizer;
use glassbox::train::run::{run, RunOptions};
use glassbox::train::trainer::TrainConfig;
use glassbox::{Error, Result};
use serde_json::Value;

fn main() -> Result<()> {
    let steps = std::env::args()
        .skip_while(|a| a != "--steps")
        .nth(1)
        .map(|s| s.parse::<usize>().map_err(|_| Error::invalid("--steps N")))
        .transpose()?
        .unwrap_or(1500);
    let ticks_start = cpu_ticks(); // to report what share of the cores other programs used
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("target/lesson18");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let brown = glassbox::data::brown::brown_corpus()?;

    // ANCHOR: tokenizer
    // 1. the vocabulary: 4096 tokens = 256 bytes + 3839 merges + <|endoftext|>
    let tok_path = dir.join("tokenizer.json");
    if !tok_path.exists() {
        let cfg = BpeConfig {
            vocab_size: 4096,
            pattern: Pretokenizer::Gpt2,
            special_tokens: vec!["<|endoftext|>".into()],
            show_progress: false,
        };
        let (tok, _) = train_files_report(std::slice::from_ref(&brown), &cfg, CHUNK_BYTES)?;
        let json = serde_json::to_string_pretty(&tok.to_tokenizer_json()).expect("json");
        std::fs::write(&tok_path, json).map_err(|e| Error::io(&tok_path, e))?;
    }
    // ANCHOR_END: tokenizer

    // ANCHOR: train
    // 2. the model and the run: what `glassbox train` does with its default flags
    let out = dir.join("brown-llama");
    let resume = !glassbox::train::checkpoint::list_checkpoints(&out)?.is_empty();
    let opts = RunOptions {
        cfg: TrainConfig {
            layers: 4,
            d_model: 256,
            heads: 4,
            kv_heads: 2,
            ffn: 704,
            ctx: 128,
            rope_theta: 10000.0,
            batch: 16,
            accum: 1,
            steps,
            warmup: (steps / 15).clamp(1, 100),
            lr: 3e-3,
            min_lr: 3e-4,
            weight_decay: 0.1,
            beta1: 0.9,
            beta2: 0.95,
            clip: 1.0,
            seed: 1337,
        },
        data: vec![brown],
        tokenizer: tok_path,
        val_fraction: 0.05,
        eval_every: (steps / 4).clamp(1, 100),
        eval_batches: 8,
        save_every: (steps / 4).clamp(1, 250),
        keep: 2,
        sample_prompts: vec!["The".into(), "He said that".into()],
        sample_tokens: 40,
        out: out.clone(),
        resume,
        stop_after: None,
        quiet: false,
    };
    let s = run(&opts)?;
    // ANCHOR_END: train

    // 3. what happened, from the log the run wrote
    let log = read_log(&out.join("log.jsonl"))?;
    println!("\nstep   train loss   val loss   perplexity");
    for v in log.iter().filter(|v| v.get("val_loss").is_some()) {
        let step = v["step"].as_u64().unwrap_or(0);
        let train = log
            .iter()
            .filter(|l| l["step"] == v["step"] && l.get("loss").is_some())
            .map(|l| format!("{:.3}", l["loss"].as_f64().unwrap_or(f64::NAN)))
            .next()
            .unwrap_or_else(|| "-".into());
        let val = v["val_loss"].as_f64().unwrap_or(f64::NAN);
        println!("{step:>5}  {train:>10}  {val:>9.3}  {:>10.1}", val.exp());
    }
    println!("\nsamples at each checkpoint (T = 0.8, top-k 40, seed 1):");
    for v in log.iter().filter(|v| v.get("sample").is_some()) {
        println!(
            "step {:>5}: {}",
            v["step"],
            v["sample"].as_str().unwrap_or("")
        );
    }
    // speed and memory: medians over the logged steps (the first two allocate and warm up)
    let steps_logged: Vec<&Value> = log.iter().filter(|v| v.get("loss").is_some()).collect();
    let median = |key: &str| {
        let mut x: Vec<f64> = steps_logged
            .iter()
            .skip(2)
            .filter_map(|v| v[key].as_f64())
            .collect();
        x.sort_by(f64::total_cmp);
        x.get(x.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let (f, b, o) = (
        median("forward_secs"),
        median("backward_secs"),
        median("optimizer_secs"),
    );
    let total = f + b + o;
    println!(
        "\n{} parameters, {} training tokens, {} steps of {} tokens; median {:.0} tokens/s on {} \
         threads (forward {:.0}%, backward {:.0}%, optimizer {:.0}%)",
        s.params,
        s.train_tokens,
        steps_logged.len(),
        opts.cfg.tokens_per_step(),
        median("tokens_per_sec"),
        rayon::current_num_threads(),
        100.0 * f / total,
        100.0 * b / total,
        100.0 * o / total,
    );
    println!(
        "memory per step: {:.0} MB of saved activations + {:.0} MB of weights, gradients and \
         AdamW moments",
        median("activation_bytes") / 1e6,
        s.state_bytes as f64 / 1e6
    );
    if let Some(v) = log.iter().rev().find_map(|v| v["val_loss"].as_f64()) {
        println!("final validation loss {v:.3}, perplexity {:.1}", v.exp());
    }
    match (ticks_start, cpu_ticks()) {
        (Some(a), Some(b)) => println!(
            "other programs used {:.0}% of the {} cores during this run (from /proc/stat: all \
             cores' busy time minus this program's own; near 0 means the timings are the \
             machine's)",
            others_percent(&a, &b),
            std::thread::available_parallelism().map_or(0, |n| n.get())
        ),
        _ => println!("other programs' share of the cores: unknown (no /proc/stat)"),
    }
    let svg_path = dir.join("ch18-loss.svg");
    std::fs::write(&svg_path, loss_svg(&log)).map_err(|e| Error::io(&svg_path, e))?;
    println!("wrote target/lesson18/ch18-loss.svg and target/lesson18/brown-llama");
    Ok(())
}

fn read_log(path: &PathBuf) -> Result<Vec<Value>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

/// The loss curve: every step's training loss (thin), validation loss (dots), log-scale steps
/// would hide the start, so both axes are linear; the y axis starts at 0.
fn loss_svg(log: &[Value]) -> String {
    let pts = |key: &str| -> Vec<(f64, f64)> {
        log.iter()
            .filter_map(|v| Some((v["step"].as_f64()?, v.get(key)?.as_f64()?)))
            .collect()
    };
    let (train, val) = (pts("loss"), pts("val_loss"));
    let max_step = train.iter().map(|p| p.0).fold(1.0, f64::max);
    let max_loss = train
        .iter()
        .chain(&val)
        .map(|p| p.1)
        .fold(1.0, f64::max)
        .ceil();
    let (w, h, l, b) = (640.0, 300.0, 50.0, 40.0);
    let x = |s: f64| l + (w - l - 20.0) * s / max_step;
    let y = |v: f64| (h - b) - (h - b - 20.0) * v / max_loss;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"system-ui, sans-serif\" font-size=\"12\">\n\
         <title>Training and validation loss of the tiny Llama on the Brown corpus, per step</title>\n\
         <rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\n"
    );
    for i in 0..=(max_loss as usize) {
        let yy = y(i as f64);
        s += &format!(
            "<line x1=\"{l}\" y1=\"{yy}\" x2=\"{}\" y2=\"{yy}\" stroke=\"#e3e6ec\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{i}</text>\n",
            w - 20.0,
            l - 6.0,
            yy + 4.0
        );
    }
    let path: Vec<String> = train
        .iter()
        .map(|(a, v)| format!("{:.1},{:.1}", x(*a), y(*v)))
        .collect();
    s += &format!(
        "<polyline fill=\"none\" stroke=\"#7a8599\" stroke-width=\"1\" points=\"{}\"/>\n",
        path.join(" ")
    );
    for (a, v) in &val {
        s += &format!(
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"#d9480f\"/>\n",
            x(*a),
            y(*v)
        );
    }
    s += &format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">step (of {max_step})</text>\n\
         <text x=\"14\" y=\"{}\" transform=\"rotate(-90 14 {})\" text-anchor=\"middle\">loss (nats per token)</text>\n\
         <line x1=\"{}\" y1=\"30\" x2=\"{}\" y2=\"30\" stroke=\"#7a8599\"/><text x=\"{}\" y=\"34\">training batch</text>\n\
         <circle cx=\"{}\" cy=\"48\" r=\"3.5\" fill=\"#d9480f\"/><text x=\"{}\" y=\"52\">validation (held-out 5%)</text>\n</svg>\n",
        (l + w - 20.0) / 2.0,
        h - 8.0,
        h / 2.0,
        h / 2.0,
        w - 200.0,
        w - 176.0,
        w - 170.0,
        w - 188.0,
        w - 170.0
    );
    s
}
