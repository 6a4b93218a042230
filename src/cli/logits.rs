//! `glassbox logits`: the next-token distribution after a prompt.
//!
//! ```text
//! glassbox logits --prompt "The capital of France is" --top 5
//! glassbox logits --model model.gguf --prompt-file p.txt --json --dump logits.npy
//! ```
//!
//! The prompt is tokenized with special-token text recognised (`<|im_start|>` becomes id 1, as
//! `transformers` and llama.cpp do by default); no bos is prepended unless `--add-bos` is given
//! (SmolLM2's tokenizer does not add one: `add_bos_token` is false, and transformers agrees).
//! The whole prompt runs as one prefill; the logits of its last position are printed as a
//! table, or as one JSON object (`--json`), and all of them can be written as a float32 `.npy`
//! (`--dump`), which `numpy.load` reads.

use std::path::PathBuf;

use crate::cli::common::{ModelArg, PromptArgs};
use crate::model::Llama;
use crate::sampler::largest;
use crate::{Error, Result};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArg,

    #[command(flatten)]
    pub prompt: PromptArgs,

    /// How many of the highest logits to print.
    #[arg(long, default_value_t = 10, value_name = "K")]
    pub top: usize,

    /// Print one JSON object: {"ids", "top": [[id, logit], ...], "tokens", "probs"}.
    #[arg(long)]
    pub json: bool,

    /// Also write all last-position logits as a float32 .npy file.
    #[arg(long, value_name = "PATH.npy")]
    pub dump: Option<PathBuf>,

    /// Prepend the model's bos token id.
    #[arg(long)]
    pub add_bos: bool,
}

pub fn run(args: Args) -> Result<()> {
    let text = args.prompt.text()?;
    let path = args.model.path()?;
    let model = Llama::load(&path)?;
    let tok = &model.tokenizer;

    let mut ids = Vec::new();
    if args.add_bos {
        let bos = model.config.bos_token_id.or(tok.bos_id());
        ids.push(bos.ok_or_else(|| Error::invalid("--add-bos: this model has no bos token"))?);
    }
    ids.extend(tok.encode_with_special(&text));
    if ids.is_empty() {
        return Err(Error::invalid(
            "the prompt is empty: there is no position to predict from",
        ));
    }
    if ids.len() > model.config.max_position_embeddings {
        return Err(Error::invalid(format!(
            "the prompt has {} tokens, more than the model's context of {}",
            ids.len(),
            model.config.max_position_embeddings
        )));
    }

    let mut session = model.new_session(ids.len())?;
    session.set_activations(args.model.activations)?;
    let logits = model.forward(&mut session, &ids)?;
    if let Some(out) = &args.dump {
        crate::formats::npy::write_f32(out, logits, &[logits.len()])?;
    }

    // probabilities: softmax over all logits, in f64 for the sum
    let max = logits.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    let z: f64 = logits.iter().map(|&l| ((l - max) as f64).exp()).sum();
    let top: Vec<(u32, f32)> = largest(logits, args.top)
        .iter()
        .map(|c| (c.id, c.logit))
        .collect();
    let prob = |l: f32| ((l - max) as f64).exp() / z;
    let token_text = |id: u32| {
        tok.decode_bytes(&[id])
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };

    if args.json {
        let obj = serde_json::json!({
            "model": path.display().to_string(),
            "ids": ids,
            "top": top.iter().map(|&(id, l)| serde_json::json!([id, l])).collect::<Vec<_>>(),
            "tokens": top.iter().map(|&(id, _)| token_text(id)).collect::<Vec<_>>(),
            "probs": top.iter().map(|&(_, l)| prob(l)).collect::<Vec<_>>(),
        });
        println!("{obj}");
    } else {
        println!("{} prompt tokens: {:?}", ids.len(), ids);
        println!(
            "{:>4}  {:>6}  {:>9}  {:>7}  token",
            "rank", "id", "logit", "prob"
        );
        for (r, &(id, l)) in top.iter().enumerate() {
            println!(
                "{:>4}  {:>6}  {:>9.4}  {:>7.4}  {:?}",
                r + 1,
                id,
                l,
                prob(l),
                token_text(id)
            );
        }
        if let Some(out) = &args.dump {
            println!("wrote {} logits to {}", logits.len(), out.display());
        }
    }
    Ok(())
}
