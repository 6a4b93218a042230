//! `glassbox perplexity`: how well a model predicts a text, and how far it is from a base model.

use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::cli::common::ModelArg;
use crate::perplexity::{evaluate, scored_positions, Tally};
use crate::{Error, Result};

/// Perplexity of a model over a text file, like llama.cpp's llama-perplexity.
///
/// The text is tokenized with the model's tokenizer and cut into non-overlapping windows of
/// --ctx tokens; each window runs from an empty KV-cache and its second half is scored, so
/// every scored token has at least ctx/2 tokens of context:
///
///   PPL = exp(−mean ln p(next token)),   ± = PPL · standard error of that mean
///
/// With --kl-base BASE (the model the quantized one was made from, e.g. its f32 GGUF), both run
/// on the same windows and the report adds, over the same positions:
///   mean KL(base ‖ model) ± its standard error, the largest KL of one token, and
///   top-1 agreement (how often both models' most likely next token is the same).
///
/// Examples:
///   glassbox quantize smollm2-f32.gguf --type q4_k_m --out q4km.gguf
///   glassbox perplexity --model q4km.gguf held-out.txt --kl-base smollm2-f32.gguf
///   glassbox perplexity held-out.txt --ctx 256 --chunks 8 --json
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArg,
    /// The text to score (UTF-8).
    pub file: PathBuf,
    /// Tokens per window.
    #[arg(long, default_value_t = 512)]
    pub ctx: usize,
    /// A base model to compare against: KL divergence and top-1 agreement.
    #[arg(long, value_name = "BASE")]
    pub kl_base: Option<PathBuf>,
    /// Score at most this many windows (default: every whole window of the text).
    #[arg(long)]
    pub chunks: Option<usize>,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<()> {
    let model = args.model.load()?;
    let base = args
        .kl_base
        .as_deref()
        .map(crate::model::Llama::load)
        .transpose()?;
    let text = std::fs::read_to_string(&args.file).map_err(|e| Error::io(&args.file, e))?;
    let tokens = model.tokenizer.encode(&text);
    if args.ctx > model.config.max_position_embeddings {
        return Err(Error::invalid(format!(
            "--ctx {} is longer than the model's context of {} positions",
            args.ctx, model.config.max_position_embeddings
        )));
    }
    let whole = tokens.len() / args.ctx.max(1);
    let n_windows = args.chunks.map_or(whole, |c| c.min(whole));
    let per_window = scored_positions(args.ctx).len();
    if !args.json {
        eprintln!(
            "{}: {} tokens → {n_windows} windows of {} ({per_window} scored tokens each)",
            args.file.display(),
            tokens.len(),
            args.ctx
        );
    }
    let bar = if args.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(n_windows as u64).with_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} windows  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        )
    };
    let t0 = std::time::Instant::now();
    let tallies = evaluate(
        &[&model],
        base.as_ref(),
        &tokens,
        args.ctx,
        n_windows,
        |_, t| {
            let (ppl, err) = t[0].perplexity();
            bar.set_message(format!("PPL {ppl:.4} ± {err:.4}"));
            bar.inc(1);
        },
    )?;
    bar.finish_and_clear();
    let t = &tallies[0];
    report(
        &args,
        &model.path,
        base.as_ref().map(|b| b.path.as_path()),
        t,
        t0.elapsed().as_secs_f64(),
    );
    Ok(())
}

fn report(
    args: &Args,
    model: &std::path::Path,
    base: Option<&std::path::Path>,
    t: &Tally,
    secs: f64,
) {
    let (ppl, ppl_err) = t.perplexity();
    let (nll, _) = t.nll();
    let (kl, kl_err) = t.mean_kl();
    if args.json {
        let mut v = json!({
            "model": model.display().to_string(),
            "file": args.file.display().to_string(),
            "ctx": args.ctx,
            "scored_tokens": t.n,
            "nll": nll,
            "perplexity": ppl,
            "perplexity_err": ppl_err,
            "seconds": secs,
        });
        if let Some(b) = base {
            v["kl_base"] = json!(b.display().to_string());
            v["mean_kl"] = json!(kl);
            v["mean_kl_err"] = json!(kl_err);
            v["max_kl"] = json!(t.max_kl);
            v["top1_agreement"] = json!(t.top1_agreement());
        }
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return;
    }
    println!("model       {}", model.display());
    println!(
        "text        {} ({} scored tokens, ctx {})",
        args.file.display(),
        t.n,
        args.ctx
    );
    println!("perplexity  {ppl:.4} ± {ppl_err:.4}   (mean NLL {nll:.5} nats/token)");
    if let Some(b) = base {
        println!("vs base     {}", b.display());
        println!("  mean KL   {kl:.6} ± {kl_err:.6} nats");
        println!("  max KL    {:.4} nats (one token)", t.max_kl);
        println!(
            "  top-1     {:.2}% of positions agree",
            100.0 * t.top1_agreement()
        );
    }
    println!("({secs:.1} s)");
}
