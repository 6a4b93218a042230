//! Reading a JSON file, and writing any file so that a reader never sees half of it.
//!
//! `config.json`, `tokenizer.json`, `tokenizer_config.json` and `model.safetensors.index.json`
//! are all read through [`read_json`]: a missing file is an I/O error naming it, bad JSON a format
//! error naming it.
//!
//! Every file glassbox writes goes through [`write_atomic`]: the bytes go to `NAME.part` in the
//! same directory, are flushed to disk (`fsync`), and only then renamed to `NAME`, so an
//! interrupted write never leaves a truncated file under the final name.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::{Error, Result};

/// Read and parse the JSON file at `path`.
pub fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::format(path, format!("not valid JSON: {e}")))
}

/// [`read_json`], or `None` when there is no file at `path` (optional files of a model directory).
pub fn read_json_if_present(path: &Path) -> Result<Option<Value>> {
    if !path.is_file() {
        return Ok(None);
    }
    read_json(path).map(Some)
}

/// `NAME.part` beside `path`: where a file is written before it is renamed into place.
pub fn part_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    path.with_file_name(name)
}

/// Write `bytes` to `path` atomically: `NAME.part`, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Write a file atomically, streaming: `fill` writes the contents into a buffered writer on
/// `NAME.part`, which is then flushed, fsynced and renamed to `path`. On an error the partial
/// file is removed.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let part = part_path(path);
    let result = (|| {
        let file = std::fs::File::create(&part)?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        fill(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&part);
        return Err(Error::io(&part, e));
    }
    std::fs::rename(&part, path).map_err(|e| Error::io(path, e))
}

/// Pretty-printed JSON with a final newline, written atomically.
pub fn write_json_pretty(path: &Path, v: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(v).map_err(|e| {
        Error::invalid(format!("cannot serialise JSON for {}: {e}", path.display()))
    })?;
    write_atomic(path, (text + "\n").as_bytes())
}
