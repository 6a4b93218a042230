//! Reading a JSON file, and writing files so that no failure ever loses one.
//!
//! `config.json`, `tokenizer.json`, `tokenizer_config.json` and `model.safetensors.index.json`
//! are all read through [`read_json`]: a missing file is an I/O error naming it, bad JSON a format
//! error naming it.
//!
//! Every file glassbox writes goes through [`write_atomic_with`] (or [`write_atomic`]):
//!
//! ```text
//! NAME ──fill──▶ DIR/.NAME.<pid>.<n>.tmp ──fsync──▶ rename to DIR/NAME ──fsync DIR
//!         a full disk or a crash here leaves the old NAME untouched; the temporary file is
//!         removed on error (a killed process may leave one `.tmp`, never a truncated NAME)
//! ```
//!
//! A directory (a converted model) is written with [`write_dir_atomic`]: its files go into a
//! temporary directory beside it, which then takes its place in one rename, so a reader sees
//! the old model or the new one, never a mix. [`refuse_overwrite`] stops an output that is one
//! of the command's inputs before anything is written.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use crate::{Error, Result};

/// Read and parse the JSON file at `path`.
pub fn read_json(path: &Path) -> Result<Value> {
    let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::format(path, format!("not valid JSON: {e}")))
}

/// [`read_json`], or `None` when there is no file at `path` (optional files of a model directory).
pub fn read_json_if_present(path: &Path) -> Result<Option<Value>> {
    if !path.is_file() {
        return Ok(None);
    }
    read_json(path).map(Some)
}

/// `DIR/.NAME.<pid>.<n>.tmp` beside `path`: unique per process and call, so two writers of one
/// file never share a temporary name, and hidden (a leading dot) from directory listings.
pub fn temp_path(path: &Path) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let n = N.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()))
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Make a rename in `dir` durable (a crash after it cannot bring the old name back). Best
/// effort: not every platform can fsync a directory.
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Write `bytes` to `path` atomically (see the module docs).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

// ANCHOR: write_atomic_with
/// Write a file atomically, streaming: `fill` writes the contents into a buffered writer on a
/// temporary file beside `path`, which is flushed, fsynced and renamed to `path`. On an error
/// the temporary file is removed and an existing `path` is left as it was.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let tmp = temp_path(path);
    let result = (|| {
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        fill(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    sync_dir(parent_of(path));
    Ok(())
}
// ANCHOR_END: write_atomic_with

/// Pretty-printed JSON with a final newline, written atomically.
pub fn write_json_pretty(path: &Path, v: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(v).map_err(|e| {
        Error::invalid(format!("cannot serialise JSON for {}: {e}", path.display()))
    })?;
    write_atomic(path, (text + "\n").as_bytes())
}

/// Refuse to write `output` when it is one of `inputs` (under any spelling of its path: the
/// same device and inode), or a directory holding one of them.
pub fn refuse_overwrite(output: &Path, inputs: &[PathBuf]) -> Result<()> {
    for input in inputs {
        let inside = fs::canonicalize(input)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .zip(fs::canonicalize(output).ok())
            .is_some_and(|(dir, out)| dir == out);
        if same_file(output, input) || inside {
            return Err(Error::invalid(format!(
                "{} is also an input ({}): refusing to overwrite it; choose another output path",
                output.display(),
                input.display()
            )));
        }
    }
    Ok(())
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::metadata(a), fs::metadata(b)) {
        #[cfg(unix)]
        (Ok(x), Ok(y)) => {
            use std::os::unix::fs::MetadataExt;
            x.dev() == y.dev() && x.ino() == y.ino()
        }
        #[cfg(not(unix))]
        (Ok(_), Ok(_)) => fs::canonicalize(a).ok() == fs::canonicalize(b).ok(),
        _ => false,
    }
}

// ANCHOR: write_dir_atomic
/// Write the directory `dir` as a whole: `fill` writes its files into a new temporary
/// directory beside `dir` (each through [`write_atomic`]), which then replaces `dir` in one
/// rename (an atomic exchange on Linux). On any error the temporary directory is removed and
/// `dir` is untouched. An existing `dir` may hold only files named in `replaceable` (what the
/// writer itself writes): replacing it would delete anything else, so that is refused first.
pub fn write_dir_atomic(
    dir: &Path,
    replaceable: &[&str],
    fill: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    check_replaceable(dir, replaceable)?;
    let parent = parent_of(dir);
    fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let tmp = temp_path(dir);
    fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let result = fill(&tmp).and_then(|()| {
        sync_dir(&tmp);
        swap_into_place(&tmp, dir)
    });
    if result.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    result
}
// ANCHOR_END: write_dir_atomic

fn check_replaceable(dir: &Path, replaceable: &[&str]) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(_) if !dir.exists() => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory || dir.is_file() => {
            return Err(Error::invalid(format!(
                "{} exists and is not a directory: refusing to replace it",
                dir.display()
            )))
        }
        Err(e) => return Err(Error::io(dir, e)),
    };
    for entry in entries {
        let name = entry.map_err(|e| Error::io(dir, e))?.file_name();
        let name = name.to_string_lossy();
        if !replaceable.contains(&name.as_ref()) {
            return Err(Error::invalid(format!(
                "{} already holds `{name}`, which is not a file this command writes: refusing to \
                 replace the directory (choose a new or empty one)",
                dir.display()
            )));
        }
    }
    Ok(())
}

/// Put the finished `tmp` directory at `dir`: a plain rename when `dir` does not exist; else
/// one atomic exchange (Linux `renameat2(RENAME_EXCHANGE)`), or, where that is missing, `dir`
/// renamed aside and `tmp` renamed in. The old directory is then deleted.
fn swap_into_place(tmp: &Path, dir: &Path) -> Result<()> {
    let io = |e| Error::io(dir, e);
    if !dir.exists() {
        fs::rename(tmp, dir).map_err(io)?;
    } else if exchange(tmp, dir).is_ok() {
        let _ = fs::remove_dir_all(tmp); // tmp now holds the old directory
    } else {
        let old = temp_path(dir);
        fs::rename(dir, &old).map_err(io)?;
        if let Err(e) = fs::rename(tmp, dir) {
            let _ = fs::rename(&old, dir);
            return Err(io(e));
        }
        let _ = fs::remove_dir_all(&old);
    }
    sync_dir(parent_of(dir));
    Ok(())
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other);
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: two valid NUL-terminated paths; renameat2 only reads them.
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}
