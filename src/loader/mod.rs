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
use std::path::Path;

/// Read and parse a JSON file, naming the file in any error.
pub fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::format(path, format!("invalid JSON: {e}")))
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
