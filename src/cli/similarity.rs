//! `glassbox similarity`: how alike two texts are, as the encoder sees them.

use crate::cli::embed::{token_counts, EmbedderArg};
use crate::model::bert::cosine;
use crate::{Error, Result};

/// The cosine similarity of two texts, as one number: how alike their meanings are (1: the same
/// direction; around 0: unrelated; MiniLM rarely goes below −0.2).
///
/// Examples:
///   glassbox similarity "How do I reset my password?" "I forgot my password"
///   glassbox similarity "The capital of France is Paris." "Berlin is in Germany."
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The first text.
    #[arg(value_name = "A")]
    pub a: String,
    /// The second text.
    #[arg(value_name = "B")]
    pub b: String,
    #[command(flatten)]
    pub embedder: EmbedderArg,
}

pub fn run(args: Args) -> Result<()> {
    let m = args.embedder.load()?;
    let texts = [args.a.as_str(), args.b.as_str()];
    token_counts(&m, &texts);
    let v = m.embed(&texts)?;
    let [a, b] = v.as_slice() else {
        return Err(Error::invalid("the encoder returned no vectors"));
    };
    println!("{:.4}", cosine(a, b));
    Ok(())
}
