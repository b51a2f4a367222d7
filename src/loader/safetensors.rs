//! `model.safetensors` (single file or sharded with `model.safetensors.index.json`) into host
//! tensors keyed by their stored name. A tensor keeps its stored bytes (shared with the file's
//! buffer) and is widened to f32 only when a model uploads it, so loading holds the file once
//! plus one tensor in f32, not a second full copy (this matters in wasm's memory).

use super::ModelFiles;
use crate::error::{Error, Result};
use safetensors::{Dtype, SafeTensors};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One tensor of a checkpoint: its shape and its stored bytes (row-major).
#[derive(Debug, Clone)]
pub struct HostTensor {
    /// The name it is stored under (a model saves it back under the same name).
    pub name: String,
    pub shape: Vec<usize>,
    /// Dtype as stored in the file (`F32`, `F16`, `BF16`, ...).
    pub stored: Dtype,
    /// The file the tensor came from (for error messages).
    pub file: PathBuf,
    bytes: Arc<[u8]>,
    range: Range<usize>,
}

impl HostTensor {
    /// The values widened to f32.
    pub fn to_f32(&self) -> Vec<f32> {
        to_f32(self.stored, &self.bytes[self.range.clone()]).expect("dtype checked when the file was parsed")
    }
}

/// All tensors of a checkpoint, by stored name.
#[derive(Debug, Default)]
pub struct TensorSet {
    pub tensors: BTreeMap<String, HostTensor>,
    /// The file names that were read, for messages (`model.safetensors` or the shards).
    pub files: Vec<PathBuf>,
}

pub const SINGLE: &str = "model.safetensors";
pub const INDEX: &str = "model.safetensors.index.json";

impl TensorSet {
    /// Read the weights of a checkpoint directory: `model.safetensors`, else the shards listed
    /// in `model.safetensors.index.json`.
    #[cfg(not(target_family = "wasm"))]
    pub fn from_dir(dir: &Path) -> Result<Self> {
        Self::from_files(&super::DirFiles(dir.to_path_buf()))
    }

    /// Read the weights of a checkpoint: `model.safetensors`, else the shards listed in
    /// `model.safetensors.index.json`.
    pub fn from_files(files: &dyn ModelFiles) -> Result<Self> {
        if let Some(bytes) = files.read(SINGLE)? {
            let mut set = TensorSet::default();
            set.add_bytes(&files.path(SINGLE), bytes, None)?;
            Ok(set)
        } else if let Some(bytes) = files.read(INDEX)? {
            Self::from_index(files, &bytes)
        } else {
            Err(files.missing_weights())
        }
    }

    fn from_index(files: &dyn ModelFiles, bytes: &[u8]) -> Result<Self> {
        let index = files.path(INDEX);
        let index = index.as_path();
        let json = super::parse_json(index, bytes)?;
        let map = json
            .get("weight_map")
            .and_then(|m| m.as_object())
            .ok_or_else(|| Error::format(index, "missing object `weight_map`"))?;
        // shard file -> names it must contain
        let mut shards: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, file) in map {
            let file = file
                .as_str()
                .ok_or_else(|| Error::format(index, format!("weight_map[`{name}`] is not a file name")))?;
            if file.contains('/') || file.contains('\\') || file.starts_with('.') {
                return Err(Error::format(index, format!("weight_map[`{name}`] = `{file}` is not a file in this directory")));
            }
            shards.entry(file.to_string()).or_default().push(name.clone());
        }
        if shards.is_empty() {
            return Err(Error::format(index, "`weight_map` is empty"));
        }
        let mut set = TensorSet::default();
        for (file, names) in shards {
            let bytes = files.read(&file)?.ok_or_else(|| {
                Error::io(&files.path(&file), std::io::Error::new(std::io::ErrorKind::NotFound, format!("shard listed in {INDEX} not found")))
            })?;
            set.add_bytes(&files.path(&file), bytes, Some(&names))?;
        }
        Ok(set)
    }

    /// Parse safetensors bytes; `path` only names the source in errors.
    pub fn add_bytes(&mut self, path: &Path, bytes: Arc<[u8]>, expected: Option<&[String]>) -> Result<()> {
        let st = SafeTensors::deserialize(&bytes)
            .map_err(|e| Error::format(path, format!("not a valid safetensors file: {e}")))?;
        let base = bytes.as_ptr() as usize;
        for (name, view) in st.tensors() {
            if to_f32(view.dtype(), &[]).is_none() {
                return Err(Error::tensor(path, &name, format!("dtype {:?} is not supported (expected F32, F16 or BF16)", view.dtype())));
            }
            if self.tensors.contains_key(&name) {
                return Err(Error::tensor(path, &name, "stored twice (in two shards)"));
            }
            let start = view.data().as_ptr() as usize - base;
            let range = start..start + view.data().len();
            self.tensors.insert(
                name.clone(),
                HostTensor { name, shape: view.shape().to_vec(), stored: view.dtype(), file: path.to_path_buf(), bytes: bytes.clone(), range },
            );
        }
        if let Some(names) = expected {
            for n in names {
                if !self.tensors.contains_key(n) {
                    return Err(Error::tensor(path, n, "listed in the shard index but missing from this shard"));
                }
            }
        }
        self.files.push(path.to_path_buf());
        Ok(())
    }

    /// The dtypes the floating-point weights are stored in (for `info`).
    pub fn stored_dtypes(&self) -> Vec<Dtype> {
        let mut v: Vec<Dtype> = self.tensors.values().map(|t| t.stored).collect();
        v.sort_by_key(|d| format!("{d:?}"));
        v.dedup();
        v
    }

    /// A human-readable list of where the weights came from.
    pub fn source(&self) -> String {
        self.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ")
    }
}

/// Widen a stored buffer to f32; `None` for dtypes a model weight cannot have.
fn to_f32(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f32>> {
    let out = match dtype {
        Dtype::F32 => bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        Dtype::F16 => bytes.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        Dtype::BF16 => bytes.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        Dtype::F64 => bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
            .collect(),
        // integer buffers (e.g. BERT's `position_ids`) are kept as exact small integers
        Dtype::I64 => bytes
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
            .collect(),
        _ => return None,
    };
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widens_half_precision() {
        let v = [1.5f32, -2.25];
        let f16: Vec<u8> = v.iter().flat_map(|x| half::f16::from_f32(*x).to_le_bytes()).collect();
        let bf16: Vec<u8> = v.iter().flat_map(|x| half::bf16::from_f32(*x).to_le_bytes()).collect();
        assert_eq!(to_f32(Dtype::F16, &f16).unwrap(), v);
        assert_eq!(to_f32(Dtype::BF16, &bf16).unwrap(), v);
        assert!(to_f32(Dtype::U8, &[1]).is_none());
    }

    #[test]
    fn truncated_file_names_the_file() {
        let mut set = TensorSet::default();
        let err = set.add_bytes(Path::new("x/model.safetensors"), Arc::from(&[8u8, 0, 0, 0, 0, 0, 0, 0, b'{'][..]), None).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("x/model.safetensors: not a valid safetensors file"), "{msg}");
    }
}
