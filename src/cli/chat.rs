//! `glassbox chat`: talk with the model in the terminal.
//!
//! Each turn renders the whole conversation with the model's chat template, generates the
//! reply streamed token by token, and keeps it in the history. The session (its KV-cache) is
//! kept between turns: each turn prefills only the tokens after the longest prefix it shares
//! with what the cache holds — the previous turns and their replies (see
//! `Session::reuse_prefix`); `--stats` shows how many were reused. When the history no longer fits
//! the context window (with room for a reply), the oldest turns are dropped and the user is told.
//! Commands: `/reset` (forget the conversation), `/exit` or Ctrl-D (leave).

use crate::chat::{stop_token_ids, Message};
use crate::cli::common::{chat_template, context_size, ModelArg, SamplingArgs};
use crate::generate::{generate, GenerateConfig, LlamaRunner};
use crate::{Error, Result};
use std::io::{BufRead, Write};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArg,
    /// System prompt (default: the template's own, if any).
    #[arg(long)]
    pub system: Option<String>,
    /// Most tokens per reply.
    #[arg(long = "n-predict", short = 'n', default_value_t = 512)]
    pub n: usize,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    /// Context window in tokens (default: the model's, at most 4096).
    #[arg(long, short = 'c')]
    pub ctx_size: Option<usize>,
    /// Print the stats line after each reply.
    #[arg(long)]
    pub stats: bool,
}

pub fn run(args: Args) -> Result<()> {
    let sampler = args.sampling.config()?;
    let model = args.model.load()?;
    let tok = &model.tokenizer;
    let template = chat_template(&model)?;
    let ctx = context_size(&model, args.ctx_size)?;
    if args.n >= ctx {
        return Err(Error::invalid(format!(
            "-n {} leaves no room for a prompt in a context of {ctx}",
            args.n
        )));
    }
    let mut runner = LlamaRunner::new(&model, ctx)?;
    runner.session.set_activations(args.model.activations)?;
    let mut cfg = GenerateConfig {
        max_new_tokens: Some(args.n),
        stop_ids: stop_token_ids(tok),
        stop_strings: Vec::new(),
        top_logprobs: 0,
        sampler: sampler.clone(),
    };
    let system: Vec<Message> = args.system.iter().map(|s| Message::system(s)).collect();
    let mut history: Vec<Message> = Vec::new();
    eprintln!(
        "glassbox chat — {} (context {ctx} tokens, seed {}). /reset forgets, /exit or Ctrl-D leaves.",
        model.path.display(),
        sampler.seed
    );
    let stdin = std::io::stdin();
    let mut line = String::new();
    loop {
        print!("> ");
        let _ = std::io::stdout().flush();
        line.clear();
        if stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| Error::io("<stdin>", e))?
            == 0
        {
            println!();
            return Ok(()); // Ctrl-D
        }
        let input = line.trim();
        match input {
            "" => continue,
            "/exit" | "/quit" => return Ok(()),
            "/reset" => {
                history.clear();
                eprintln!("(conversation forgotten)");
                continue;
            }
            _ => {}
        }
        history.push(Message::user(input));
        // Drop the oldest turns (a user message and its reply) until prompt + reply fit.
        let prompt_ids = loop {
            let all: Vec<Message> = system.iter().chain(history.iter()).cloned().collect();
            let ids = template.encode(tok, &all, true)?;
            if ids.len() + args.n <= ctx {
                break ids;
            }
            if history.len() <= 1 {
                return Err(Error::invalid(format!(
                    "this message alone ({} tokens) plus a reply of {} does not fit the context of {ctx}",
                    ids.len(),
                    args.n
                )));
            }
            let dropped = if history.len() >= 3 { 2 } else { 1 };
            history.drain(..dropped);
            eprintln!(
                "(the conversation is longer than the context window: the oldest turn was dropped)"
            );
        };
        cfg.sampler.seed = cfg.sampler.seed.wrapping_add(1); // a new draw for each reply
        let mut stdout = std::io::stdout().lock();
        let out = generate(&mut runner, tok, &prompt_ids, &cfg, &mut |piece: &str| {
            let _ = stdout.write_all(piece.as_bytes());
            let _ = stdout.flush();
        })?;
        let _ = writeln!(stdout);
        if args.stats {
            eprintln!("[{}] stop: {}", out.stats.summary(), out.stop_reason.name());
        }
        history.push(Message::assistant(out.text.trim()));
    }
}
