//! RAG, step 2 · indexing: files → chunks → vectors → the store, one file per transaction.
//!
//! ```text
//! for each file (directories: every .md / .txt below, sorted):
//!   SHA-256 unchanged since the last run?  → skip it
//!   chunk it (chunk.rs) → embed the chunks in batches (progress bar) → replace its rows (store.rs)
//! files that were under an indexed directory and are gone → removed
//! ```
//!
//! The embedder is passed in as a function (`texts → vectors`), so the same loop serves the
//! real encoder and a test that fails on purpose halfway through a run.

use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

use crate::rag::chunk::{chunk_text, Chunk, ChunkConfig};
use crate::rag::store::Store;
use crate::{Error, Result};

/// The embedder as `index_paths` calls it: a batch of texts → one unit vector per text.
pub type EmbedFn<'a> = dyn FnMut(&[&str]) -> Result<Vec<Vec<f32>>> + 'a;

/// What an indexing run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexReport {
    pub indexed: Vec<String>,
    pub unchanged: Vec<String>,
    pub removed: Vec<String>,
    pub chunks: usize,
}

/// The files to index: each path itself, or for a directory every `.md` and `.txt` file below
/// it (sorted, hidden entries skipped). A path that does not exist is an error naming it.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                !p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'))
            })
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out)?;
            } else if p.extension().is_some_and(|e| e == "md" || e == "txt") {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| Error::io(p, e))?;
        if meta.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    out.dedup();
    Ok(out)
}

/// How a file is named in the store: its canonical path, so the same file is one document
/// whatever directory `rag index` ran from.
pub fn document_name(path: &Path) -> Result<String> {
    let abs = std::fs::canonicalize(path).map_err(|e| Error::io(path, e))?;
    Ok(abs.to_string_lossy().into_owned())
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ANCHOR: index
/// Index `paths` into `store`. `count` measures text in encoder tokens; `embed` turns a batch of
/// texts into unit vectors. A file whose contents did not change is skipped; a file that
/// changed has all its chunks replaced; an error stops the run with every file before it
/// committed and the failing one untouched.
pub fn index_paths(
    store: &mut Store,
    paths: &[PathBuf],
    cfg: ChunkConfig,
    batch: usize,
    count: &dyn Fn(&str) -> usize,
    embed: &mut EmbedFn,
    progress: bool,
) -> Result<IndexReport> {
    let mut report = IndexReport::default();
    // 1. read, hash and chunk every file first, so the progress bar knows the total
    let mut todo: Vec<(String, String, Vec<Chunk>)> = Vec::new();
    for file in collect_files(paths)? {
        let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
        let text = String::from_utf8(bytes.clone()).map_err(|e| {
            Error::format(
                &file,
                format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
            )
        })?;
        let (name, sha) = (document_name(&file)?, sha256_hex(&bytes));
        if store.document_sha(&name)?.as_deref() == Some(sha.as_str()) {
            report.unchanged.push(name);
            continue;
        }
        todo.push((name, sha, chunk_text(&text, cfg, count)));
    }
    // 2. documents that were under an indexed directory and no longer exist
    for dir in paths.iter().filter(|p| p.is_dir()) {
        let prefix = format!("{}{}", document_name(dir)?, std::path::MAIN_SEPARATOR);
        for doc in store.documents()? {
            if doc.starts_with(&prefix)
                && !Path::new(&doc).exists()
                && store.remove_document(&doc)?
            {
                report.removed.push(doc);
            }
        }
    }
    // 3. embed in batches and replace each document in one transaction
    let total: usize = todo.iter().map(|t| t.2.len()).sum();
    let bar = match progress {
        true => ProgressBar::new(total as u64),
        false => ProgressBar::hidden(),
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} chunks  {per_sec}  eta {eta}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    for (name, sha, chunks) in todo {
        bar.set_message(
            Path::new(&name)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        let mut vectors = Vec::with_capacity(chunks.len());
        for group in chunks.chunks(batch.max(1)) {
            let texts: Vec<&str> = group.iter().map(|c| c.text.as_str()).collect();
            vectors.extend(embed(&texts)?);
            bar.inc(group.len() as u64);
        }
        store.replace_document(&name, &sha, &chunks, &vectors)?;
        report.chunks += chunks.len();
        report.indexed.push(name);
    }
    bar.finish_and_clear();
    Ok(report)
}
// ANCHOR_END: index
