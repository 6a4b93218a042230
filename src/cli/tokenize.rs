//! `glassbox tokenize`: show how a tokenizer cuts text into tokens, count them, price them.

use crate::cli::common::model_path;
use crate::tokenizer::Tokenizer;
use crate::{Error, Result};
use serde_json::json;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

/// Split text into tokens with a real tokenizer and show the pieces, the ids and the count.
///
/// Examples:
///   glassbox tokenize --tokenizer o200k_base "Building LLM applications is fun!"
///   glassbox tokenize --tokenizer cl100k_base --json --file notes.txt
///   glassbox tokenize --tokenizer o200k_base --price-in 2.50 --price-out 10 --max-response 500 --file prompt.txt
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Which tokenizer: a .tiktoken file (its encoding known from the name, e.g.
    /// o200k_base.tiktoken), the bare names `cl100k_base` (GPT-4) or `o200k_base` (GPT-4o),
    /// fetched on first use, a Hugging Face tokenizer.json (or a directory holding one), a
    /// tokenizer.json written by `glassbox train-bpe`, or a .gguf model (its built-in
    /// tokenizer). Default: the default model's tokenizer (SmolLM2-135M-Instruct).
    /// A .tiktoken file may hold at most 64 MiB once decompressed (o200k_base: 3.6 MB).
    #[arg(long, value_name = "SPEC")]
    pub tokenizer: Option<String>,

    /// Print one JSON object instead of the coloured text: "ids", "count", "tokens" (each
    /// token's text; a token that is only part of a UTF-8 character shows U+FFFD), and the
    /// cost fields when prices are given. The object is streamed as it is written: memory is
    /// the text plus 4 bytes per token, however long the input.
    #[arg(long)]
    pub json: bool,

    /// Tokenize the exact bytes of this file (instead of TEXT). The file must be valid UTF-8;
    /// the error names the first bad byte offset.
    #[arg(long, value_name = "PATH", conflicts_with = "text")]
    pub file: Option<PathBuf>,

    /// Turn special-token text such as `<|endoftext|>` or `<|im_start|>` into its single special
    /// id. Off by default, as in tiktoken: text a user typed must not be able to forge control
    /// tokens, so it is tokenized as ordinary characters (`<`, `|`, `endoftext`, ...).
    #[arg(long)]
    pub allow_special: bool,

    /// Price of input tokens in US dollars per million tokens (e.g. 2.50): prints what sending
    /// this text would cost. APIs bill by tokens, not characters, which is why the same text
    /// costs more in some languages than in others.
    #[arg(long, value_name = "USD_PER_1M")]
    pub price_in: Option<f64>,

    /// Price of output tokens in US dollars per million tokens; needs --max-response to bound
    /// how many tokens the answer may have.
    #[arg(long, value_name = "USD_PER_1M", requires = "max_response")]
    pub price_out: Option<f64>,

    /// The longest answer you allow (the API's max_tokens): the output cost is estimated for
    /// this many tokens, i.e. the worst case.
    #[arg(long, value_name = "N")]
    pub max_response: Option<usize>,

    /// The text to tokenize. With neither TEXT nor --file, the text is read from standard input.
    pub text: Option<String>,
}

/// Resolve a SPEC (see `--tokenizer`) to a tokenizer.
pub fn load_spec(spec: Option<&str>) -> Result<Tokenizer> {
    match spec {
        None => Tokenizer::load(&model_path(None)?),
        Some(s) if !Path::new(s).exists() && matches!(s, "cl100k_base" | "o200k_base") => {
            Tokenizer::from_tiktoken_name(s)
        }
        Some(s) => {
            let p = Path::new(s);
            if !p.exists() {
                return Err(Error::invalid(format!(
                    "tokenizer `{s}` not found: give a path to a .tiktoken, tokenizer.json or .gguf file, or cl100k_base / o200k_base"
                )));
            }
            Tokenizer::load(p)
        }
    }
}

/// UTF-8 check with an error that names the first bad byte.
fn utf8(bytes: Vec<u8>, source: &str) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bad = e.as_bytes().get(at).copied().unwrap_or(0);
        Error::invalid(format!(
            "{source} is not valid UTF-8: the byte 0x{bad:02x} at offset {at} does not fit (first {at} bytes are fine)"
        ))
    })
}

pub fn run(args: Args) -> Result<()> {
    let text = match (&args.text, &args.file) {
        (Some(t), _) => t.clone(),
        (None, Some(path)) => utf8(
            std::fs::read(path).map_err(|e| Error::io(path, e))?,
            &path.display().to_string(),
        )?,
        (None, None) => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| Error::io("<stdin>", e))?;
            utf8(buf, "standard input")?
        }
    };
    let bad_price = |p: Option<f64>| p.is_some_and(|p| p.is_nan() || p < 0.0);
    if bad_price(args.price_in) || bad_price(args.price_out) {
        return Err(Error::invalid("prices must be non-negative numbers"));
    }
    let tok = load_spec(args.tokenizer.as_deref())?;
    let ids = if args.allow_special {
        tok.encode_with_special(&text)
    } else {
        tok.encode(&text)
    };

    let input_usd = args.price_in.map(|p| ids.len() as f64 * p / 1e6);
    let output_usd = match (args.price_out, args.max_response) {
        (Some(p), Some(n)) => Some(n as f64 * p / 1e6),
        _ => None,
    };

    let mut out = std::io::stdout().lock();
    let w = |r: std::io::Result<()>| r.map_err(|e| Error::io("<stdout>", e));
    if args.json {
        let name = args.tokenizer.as_deref().unwrap_or("default model");
        let costs = Costs {
            input_usd,
            output_usd,
            max_response: args.max_response,
        };
        return w(write_json(&mut out, name, &text, &ids, &tok, &costs));
    }

    // Show the pieces. A token may end in the middle of a UTF-8 character; the streaming
    // decoder holds such bytes back, so each shown piece is whole characters (one or more tokens).
    let color = std::io::stdout().is_terminal();
    const BACKGROUNDS: [u8; 4] = [24, 58, 89, 22]; // 256-colour palette: blue, olive, purple, green
    let mut dec = tok.stream_decoder();
    let mut k = 0;
    for &id in &ids {
        let piece = dec.push(id)?;
        if piece.is_empty() {
            continue;
        }
        if color {
            w(write!(
                out,
                "\x1b[48;5;{}m{}\x1b[0m",
                BACKGROUNDS[k % BACKGROUNDS.len()],
                piece
            ))?;
        } else {
            w(write!(out, "{}{piece}", if k == 0 { "" } else { "|" }))?;
        }
        k += 1;
    }
    let rest = dec.flush();
    if !rest.is_empty() {
        w(write!(out, "|{rest}"))?;
    }
    w(writeln!(out))?;
    w(writeln!(out, "ids: {ids:?}"))?;
    w(writeln!(
        out,
        "{} tokens for {} characters ({} bytes): {:.2} characters per token",
        ids.len(),
        text.chars().count(),
        text.len(),
        text.chars().count() as f64 / ids.len().max(1) as f64
    ))?;
    if let Some(c) = input_usd {
        w(writeln!(
            out,
            "input cost: ${c:.6} ({} tokens × ${}/1M)",
            ids.len(),
            args.price_in.unwrap_or(0.0)
        ))?;
    }
    if let Some(c) = output_usd {
        w(writeln!(
            out,
            "output cost: up to ${c:.6} ({} tokens × ${}/1M)",
            args.max_response.unwrap_or(0),
            args.price_out.unwrap_or(0.0)
        ))?;
        w(writeln!(
            out,
            "total: up to ${:.6}",
            input_usd.unwrap_or(0.0) + c
        ))?;
    }
    Ok(())
}

/// The optional cost fields of the `--json` object.
struct Costs {
    input_usd: Option<f64>,
    output_usd: Option<f64>,
    max_response: Option<usize>,
}

// ANCHOR: json_stream
/// The `--json` object, written piece by piece as the ids are read: one `serde_json::Value`
/// holding every id and token first cost about 60 bytes per token on top of the output (a
/// 200 MB text needed over 3 GB); streamed, the memory is the text and its ids (4 bytes each).
/// Fields, their order and their values are those of that object:
/// `{"tokenizer", "count", "chars", "bytes", "ids", "tokens", ["input_cost_usd"],
///   ["max_response_tokens", "output_cost_usd"], ["total_cost_usd"]}`.
fn write_json(
    out: &mut dyn Write,
    tokenizer: &str,
    text: &str,
    ids: &[u32],
    tok: &Tokenizer,
    costs: &Costs,
) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    let value = |out: &mut dyn Write, v: serde_json::Value| serde_json::to_writer(out, &v);
    out.write_all(b"{\"tokenizer\":")?;
    value(&mut out, json!(tokenizer))?;
    let (chars, bytes) = (text.chars().count(), text.len());
    write!(
        out,
        ",\"count\":{},\"chars\":{chars},\"bytes\":{bytes},\"ids\":[",
        ids.len()
    )?;
    for (i, id) in ids.iter().enumerate() {
        write!(out, "{}{id}", if i == 0 { "" } else { "," })?;
    }
    out.write_all(b"],\"tokens\":[")?;
    for (i, &id) in ids.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        let piece = String::from_utf8_lossy(tok.token_bytes(id).unwrap_or(b""));
        serde_json::to_writer(&mut out, piece.as_ref())?;
    }
    out.write_all(b"]")?;
    if let Some(c) = costs.input_usd {
        out.write_all(b",\"input_cost_usd\":")?;
        value(&mut out, json!(c))?;
    }
    if let Some(c) = costs.output_usd {
        out.write_all(b",\"max_response_tokens\":")?;
        value(&mut out, json!(costs.max_response))?;
        out.write_all(b",\"output_cost_usd\":")?;
        value(&mut out, json!(c))?;
    }
    if costs.input_usd.is_some() || costs.output_usd.is_some() {
        let total = costs.input_usd.unwrap_or(0.0) + costs.output_usd.unwrap_or(0.0);
        out.write_all(b",\"total_cost_usd\":")?;
        value(&mut out, json!(total))?;
    }
    out.write_all(b"}\n")?;
    out.flush()
}
// ANCHOR_END: json_stream
