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
    /// a field of the wrong type, files of one model that disagree). `file` names the file,
    /// `what` says which field and why.
    #[error("{}{what}", in_file(file))]
    Format { file: PathBuf, what: String },

    /// A tensor the model needs is not in the file. `name` is the tensor as the file calls it;
    /// `hf_name` its Hugging Face name when that differs (a GGUF's `blk.0.attn_q.weight`).
    #[error(
        "{}missing tensor `{name}`{}",
        in_file(file),
        hf_name.as_ref().map(|h| format!(" (Hugging Face `{h}`)")).unwrap_or_default()
    )]
    MissingTensor {
        file: PathBuf,
        name: String,
        hf_name: Option<String>,
    },

    /// A tensor whose shape disagrees with the config or with the operation.
    #[error(
        "{}tensor `{name}`: expected shape {expected:?}, found {found:?}",
        in_file(file)
    )]
    Shape {
        file: PathBuf,
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

/// `"path: "`, or nothing when the error is not about a file.
fn in_file(file: &Path) -> String {
    if file.as_os_str().is_empty() {
        String::new()
    } else {
        format!("{}: ", file.display())
    }
}

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

    /// Tensor `name` is missing from `file`.
    pub fn missing_tensor(file: impl AsRef<Path>, name: impl Into<String>) -> Self {
        Error::MissingTensor {
            file: file.as_ref().to_path_buf(),
            name: name.into(),
            hf_name: None,
        }
    }

    /// Name the file of an error raised where the file was not known (a weight matrix checks
    /// its bytes without knowing which file they were mapped from): fills an empty `file`.
    pub fn in_file(mut self, path: &Path) -> Self {
        if let Error::Format { file, .. }
        | Error::MissingTensor { file, .. }
        | Error::Shape { file, .. } = &mut self
        {
            if file.as_os_str().is_empty() {
                *file = path.to_path_buf();
            }
        }
        self
    }
}
