//! `glassbox bench`: prefill and decode speed, like `llama-bench`.
//!
//! For each of `-r` repeats: a fresh KV-cache, a prefill of `-p` tokens (one forward pass), then
//! `-n` decode steps of one token each (greedy argmax, so the sampler costs nothing worth
//! noting). Reported: the median and the spread (min–max) of tokens/s over the repeats. The
//! prompt is a fixed pseudo-random id sequence, so runs are comparable. Threads: the global
//! `-t/--threads` flag. `--profile` adds where a decode step's time goes (see `bench_profile`).

use crate::cli::bench_memory::Resident;
use crate::cli::bench_profile::DecodeProfile;
use crate::cli::common::ModelArg;
use crate::generate::{LlamaRunner, NextTokenModel};
use crate::model::profile::{Profile, Step};
use crate::sampler::{argmax, Pcg32};
use crate::weights::matvec::{set_busy_timing, take_busy_nanos};
use crate::{Error, Result};
use serde_json::json;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArg,
    /// Prompt tokens to prefill.
    #[arg(long = "n-prompt", short = 'p', default_value_t = 128)]
    pub p: usize,
    /// Tokens to decode.
    #[arg(long = "n-gen", short = 'n', default_value_t = 128)]
    pub n: usize,
    /// Repeats (the first is preceded by an unreported warm-up run).
    #[arg(long = "repetitions", short = 'r', default_value_t = 5)]
    pub r: usize,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Also time every step of the decode (each matrix, attention, norms, RoPE, the head,
    /// sampling, thread hand-offs) and measure this machine's memory bandwidth: where a token's
    /// time goes, and how far it is from the memory-bound limit.
    #[arg(long)]
    pub profile: bool,
}

/// (median, min, max)
fn summary(xs: &[f64]) -> (f64, f64, f64) {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (median, v[0], v[n - 1])
}

pub fn run(args: Args) -> Result<()> {
    if args.p == 0 || args.r == 0 {
        return Err(Error::invalid("bench needs -p ≥ 1 and -r ≥ 1"));
    }
    let t_load = Instant::now();
    let model = args.model.load()?;
    let load_s = t_load.elapsed().as_secs_f64();
    let first_token_s = first_token(&model, t_load)?;
    let ctx = args.p + args.n;
    let mut runner = LlamaRunner::new(&model, ctx)?;
    runner.session.set_activations(args.model.activations)?;
    let vocab = model.config.vocab_size as u32;
    let mut rng = Pcg32::new(0);
    let prompt: Vec<u32> = (0..args.p).map(|_| rng.next_u32() % vocab).collect();
    let (mut prefill, mut decode) = (Vec::new(), Vec::new());
    let (mut steps, mut busy_ns) = (Profile::default(), 0);
    for rep in 0..=args.r {
        runner.reset();
        let t = Instant::now();
        let mut next = argmax(runner.forward(&prompt)?);
        let pf = args.p as f64 / t.elapsed().as_secs_f64();
        let profiling = args.profile && rep > 0; // decode steps only, not the warm-up
        runner.session.set_profile(profiling);
        set_busy_timing(profiling);
        take_busy_nanos();
        let t = Instant::now();
        for _ in 0..args.n {
            let logits = runner.forward(&[next])?;
            let ts = Instant::now();
            next = argmax(logits);
            if let Some(p) = runner.session.profile_mut() {
                p.add(Step::Sampling, ts.elapsed().as_nanos() as u64);
            }
        }
        let dc = args.n as f64 / t.elapsed().as_secs_f64().max(1e-9);
        if let Some(p) = runner.session.take_profile() {
            steps.merge(&p);
            busy_ns += take_busy_nanos();
        }
        set_busy_timing(false);
        if rep > 0 {
            prefill.push(pf);
            decode.push(dc);
            if !args.json {
                eprintln!("run {rep}: prefill {pf:.1} tok/s, decode {dc:.1} tok/s");
            }
        }
    }
    // what is resident now, after the last decode step, against what must be: the weights and
    // the K/V rows of the positions used (`bench_memory`)
    let resident = Resident::measure(&model, model.kv_cache_bytes(ctx));
    let threads = rayon::current_num_threads();
    let (pm, pmin, pmax) = summary(&prefill);
    let (dm, dmin, dmax) = summary(&decode);
    let profile = args.profile.then(|| {
        let mean_ctx = args.p as f64 + (args.n as f64 + 1.0) / 2.0;
        DecodeProfile::new(&model, &steps, busy_ns, threads, mean_ctx)
    });
    if args.json {
        let v = json!({
            "model": model.path.display().to_string(),
            "n_prompt": args.p, "n_gen": args.n, "repetitions": args.r, "threads": threads,
            "prefill_tok_s": pm, "prefill_tok_s_min": pmin, "prefill_tok_s_max": pmax,
            "decode_tok_s": dm, "decode_tok_s_min": dmin, "decode_tok_s_max": dmax,
            "kv_cache_bytes": runner.kv_cache_bytes(),
            "load_ms": load_s * 1e3, "first_token_ms": first_token_s * 1e3,
            "memory": resident.as_ref().map(Resident::to_json),
            "profile": profile.as_ref().map(DecodeProfile::to_json),
        });
        println!("{v}");
    } else {
        println!(
            "model: {}  threads: {threads}  repeats: {}",
            model.path.display(),
            args.r
        );
        println!("| test   | tokens | tok/s (median) | min – max |");
        println!("|--------|-------:|---------------:|-----------|");
        println!(
            "| pp{:<4} | {:>6} | {pm:>14.1} | {pmin:.1} – {pmax:.1} |",
            args.p, args.p
        );
        if args.n > 0 {
            println!(
                "| tg{:<4} | {:>6} | {dm:>14.1} | {dmin:.1} – {dmax:.1} |",
                args.n, args.n
            );
        }
        println!(
            "\nload {:.0} ms; first token of a {}-token prompt {:.0} ms after the load began",
            load_s * 1e3,
            FIRST_PROMPT_IDS,
            first_token_s * 1e3
        );
        if let Some(r) = &resident {
            r.print(ctx);
        }
        if let Some(p) = &profile {
            println!();
            p.print(args.p, args.n);
        }
    }
    Ok(())
}

/// Tokens in the prompt of the first-token measurement.
const FIRST_PROMPT_IDS: usize = 5;

/// Seconds from `start` (when loading began) until the first token of a short prompt is
/// chosen: tokenize, prefill, argmax. What a user waits for before text appears.
fn first_token(model: &crate::model::Llama, start: Instant) -> Result<f64> {
    let ids = model.tokenizer.encode("The capital of France is");
    let ids = &ids[..ids.len().min(FIRST_PROMPT_IDS)];
    let mut s = model.new_session(ids.len())?;
    argmax(model.forward(&mut s, ids)?);
    Ok(start.elapsed().as_secs_f64())
}
