//! One error type for the library. Every variant says *where* the problem is (a file and line,
//! a tensor name, a config field) so a user can fix the input without reading the code.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },

    /// A file was read but its contents are malformed (JSON, safetensors header, pickle, ...).
    #[error("{}: {msg}", path.display())]
    Format { path: PathBuf, msg: String },

    /// One line of a line-oriented input (JSONL, TSV) is malformed.
    #[error("{}:{line}: {msg}", path.display())]
    Line { path: PathBuf, line: usize, msg: String },

    /// A `config.json` field is missing, has the wrong type, or contradicts the weights.
    #[error("{}: field `{field}`: {msg}", path.display())]
    Config { path: PathBuf, field: String, msg: String },

    /// A tensor is missing, unexpected, or has the wrong shape or dtype.
    #[error("tensor `{name}` ({}): {msg}", path.display())]
    Tensor { path: PathBuf, name: String, msg: String },

    /// The tokenizer file could not be loaded or does not fit the model.
    #[error("{}: {msg}", path.display())]
    Tokenizer { path: PathBuf, msg: String },

    /// An argument given to the API or the CLI is invalid (empty query, zero batch size, ...).
    #[error("invalid input: {0}")]
    Input(String),

    /// The compute backend failed (no adapter, out of memory, readback failure).
    #[error("backend: {0}")]
    Backend(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_path_buf(), source }
    }
    pub(crate) fn format(path: &Path, msg: impl Into<String>) -> Self {
        Error::Format { path: path.to_path_buf(), msg: msg.into() }
    }
    pub(crate) fn config(path: &Path, field: &str, msg: impl Into<String>) -> Self {
        Error::Config { path: path.to_path_buf(), field: field.to_string(), msg: msg.into() }
    }
    pub(crate) fn tensor(path: &Path, name: &str, msg: impl Into<String>) -> Self {
        Error::Tensor { path: path.to_path_buf(), name: name.to_string(), msg: msg.into() }
    }
}
