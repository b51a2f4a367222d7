//! Reading checkpoints in the Hugging Face directory layout.
//!
//! `safetensors` reads `model.safetensors` or a sharded `model.safetensors.index.json` into
//! host tensors (f32, whatever the stored dtype); `pytorch` converts a PyTorch pickle
//! (`pytorch_model.bin`) into `model.safetensors` without executing any pickle code.
//! The model files (`crate::models`) map tensor names to their own weights.

pub mod safetensors;
#[cfg(not(target_family = "wasm"))]
pub mod pytorch;

pub use self::safetensors::{HostTensor, TensorSet};

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a checkpoint's files come from: a directory on disk, or bytes already in memory (the
/// browser package fetches them and hands them over).
pub trait ModelFiles {
    /// The bytes of file `name` (`config.json`, a shard, ...); `None` if there is no such file.
    fn read(&self, name: &str) -> Result<Option<Arc<[u8]>>>;
    /// How to name file `name` in messages (a path or a URL).
    fn path(&self, name: &str) -> PathBuf;
    /// The error for a checkpoint with neither `model.safetensors` nor a shard index.
    fn missing_weights(&self) -> Error {
        Error::format(&self.path(""), format!("no {} or {}", safetensors::SINGLE, safetensors::INDEX))
    }
    /// A required file: `None` becomes a not-found error naming it.
    fn require(&self, name: &str) -> Result<Arc<[u8]>> {
        self.read(name)?.ok_or_else(|| Error::io(&self.path(name), std::io::Error::new(std::io::ErrorKind::NotFound, "file not found")))
    }
}

/// A checkpoint directory.
#[cfg(not(target_family = "wasm"))]
pub struct DirFiles(pub PathBuf);

#[cfg(not(target_family = "wasm"))]
impl ModelFiles for DirFiles {
    fn read(&self, name: &str) -> Result<Option<Arc<[u8]>>> {
        let path = self.0.join(name);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b.into())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.0.is_dir() => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    fn require(&self, name: &str) -> Result<Arc<[u8]>> {
        let path = self.0.join(name);
        std::fs::read(&path).map(Into::into).map_err(|e| Error::io(&path, e))
    }
    fn missing_weights(&self) -> Error {
        let hint = if self.0.join("pytorch_model.bin").is_file() {
            " (there is a pytorch_model.bin: convert it with `rankmamba convert`)"
        } else {
            ""
        };
        Error::format(&self.0, format!("no {} or {} in this directory{hint}", safetensors::SINGLE, safetensors::INDEX))
    }
}

/// Files held in memory, named relative to `source` (e.g. the URL they were fetched from).
pub struct MemoryFiles {
    pub source: String,
    pub files: BTreeMap<String, Arc<[u8]>>,
}

impl ModelFiles for MemoryFiles {
    fn read(&self, name: &str) -> Result<Option<Arc<[u8]>>> {
        Ok(self.files.get(name).cloned())
    }
    fn path(&self, name: &str) -> PathBuf {
        if self.source.is_empty() {
            PathBuf::from(name)
        } else {
            PathBuf::from(format!("{}/{name}", self.source.trim_end_matches('/')))
        }
    }
}

/// Read and parse a JSON file, naming the file in any error.
pub fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_json(path, &text)
}

/// Parse JSON bytes; `path` names the source in errors.
pub fn parse_json(path: &Path, bytes: &[u8]) -> Result<serde_json::Value> {
    serde_json::from_slice(bytes).map_err(|e| Error::format(path, format!("invalid JSON: {e}")))
}

/// Write `bytes` to `path` atomically: a temporary file in the same directory, fsync, rename.
/// A crash or error never leaves a half-written file under the final name.
#[cfg(not(target_family = "wasm"))]
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}
