//! `glassbox train-bpe`: train a byte-level BPE tokenizer on text files and save it as a
//! Hugging Face `tokenizer.json` (loadable by `glassbox tokenize --tokenizer PATH` and by the
//! `tokenizers` library).
//!
//! ```text
//! glassbox train-bpe --vocab-size 8192 --pattern gpt2 --special '<|endoftext|>' --out tok.json brown.txt
//! ```

use std::path::PathBuf;
use std::time::Instant;

use crate::formats::file;
use crate::tokenizer::corpus::CHUNK_BYTES;
use crate::tokenizer::train::train_files_report;
use crate::tokenizer::train_naive::{TrainConfig, FIRST_MERGE_ID};
use crate::tokenizer::{Pretokenizer, Tokenizer};
use crate::{Error, Result};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Final vocabulary size: 256 byte tokens + merges + special tokens, at most 1048576
    /// (2^20; o200k has 200k tokens).
    #[arg(long, value_name = "N")]
    pub vocab_size: usize,
    /// Pre-tokenizer that cuts text before BPE: gpt2, cl100k, o200k, llama3 or smollm.
    #[arg(long, default_value = "gpt2")]
    pub pattern: String,
    /// A reserved special token, appended after the merges (repeat for more; each non-empty
    /// and different).
    #[arg(long = "special", value_name = "TOKEN")]
    pub special: Vec<String>,
    /// Where to write the tokenizer.json (replaced only once the new one is complete; never
    /// one of the input files).
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// How many of the first merges to print.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub show_merges: usize,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
    /// UTF-8 text files to train on (streamed; they may be larger than memory).
    #[arg(required = true, value_name = "FILES")]
    pub files: Vec<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    file::refuse_overwrite(&args.out, &args.files)?;
    let cfg = TrainConfig {
        vocab_size: args.vocab_size,
        pattern: Pretokenizer::from_name(&args.pattern)?,
        special_tokens: args.special.clone(),
        show_progress: !args.quiet,
    };
    let t0 = Instant::now();
    let (tok, report) = train_files_report(&args.files, &cfg, CHUNK_BYTES)?;
    let json = serde_json::to_string_pretty(&tok.to_tokenizer_json())
        .map_err(|e| Error::invalid(format!("cannot serialise the tokenizer: {e}")))?;
    file::write_atomic(&args.out, json.as_bytes())?;
    let secs = t0.elapsed().as_secs_f64();

    let mb = report.corpus_bytes as f64 / 1e6;
    println!("corpus      {} file(s), {:.1} MB", args.files.len(), mb);
    println!(
        "pre-tokens  {} ({} distinct, pattern {})",
        report.pretokens,
        report.unique_pretokens,
        cfg.pattern.name()
    );
    let wanted = cfg.num_merges()?;
    print!("merges      {}", report.merges.len());
    if report.merges.len() < wanted {
        print!(" (asked for {wanted}: the corpus ran out of pairs to merge)");
    }
    println!();
    println!(
        "vocab       {} (incl. {} special)",
        tok.vocab_size(),
        cfg.special_tokens.len()
    );
    println!(
        "time        {secs:.2} s (counting {:.2} s = {:.1} MB/s, merging {:.2} s = {:.0} merges/s)",
        report.count_secs,
        mb / report.count_secs.max(1e-9),
        report.merge_secs,
        report.merges.len() as f64 / report.merge_secs.max(1e-9)
    );
    println!("saved       {}", args.out.display());
    if args.show_merges > 0 && !report.merges.is_empty() {
        println!("first merges (rank: left + right -> new token):");
        for (i, _) in report.merges.iter().enumerate().take(args.show_merges) {
            println!("  {}", describe_merge(&tok, &report.merges, i));
        }
    }
    Ok(())
}

/// `"  3: 'h' + 'e' -> 'he'"`: merge `i` of `merges` shown with the tokens' text.
pub fn describe_merge(tok: &Tokenizer, merges: &[(u32, u32)], i: usize) -> String {
    let (a, b) = merges[i];
    let id = FIRST_MERGE_ID + i as u32;
    let show = |id: u32| {
        let bytes = tok.token_bytes(id).unwrap_or(&[]);
        format!("{:?}", String::from_utf8_lossy(bytes))
    };
    format!(
        "{i:>4}: {} + {} -> {} (id {id})",
        show(a),
        show(b),
        show(id)
    )
}
