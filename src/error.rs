//! One error type for the whole crate.
//!
//! Every message names what went wrong *and where*: the file, the tensor, the field, the
//! expected and the found value. Bad input never panics: loaders, the tokenizer and the CLI
//! return these errors and `main` prints them with a non-zero exit code.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An operating-system error while touching a file.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A file whose contents are not what its format promises (truncated, corrupt, wrong magic,
    /// a field of the wrong type). `file` names the file, `what` says which field and why.
    #[error("{}: {what}", file.display())]
    Format { file: PathBuf, what: String },

    /// A tensor whose shape disagrees with the config or with the operation.
    #[error("tensor `{name}`: expected shape {expected:?}, found {found:?}")]
    Shape {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },

    /// Something this build does not handle (a tensor type, a tokenizer model, an architecture).
    #[error("unsupported: {0}")]
    Unsupported(String),

    /// Bad user input: an id out of range, a prompt longer than the context, a bad flag value.
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Wrap an I/O error with the path it happened on.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// A format error in `file`.
    pub fn format(file: impl AsRef<Path>, what: impl Into<String>) -> Self {
        Error::Format {
            file: file.as_ref().to_path_buf(),
            what: what.into(),
        }
    }

    /// Bad user input.
    pub fn invalid(what: impl Into<String>) -> Self {
        Error::Invalid(what.into())
    }
}
