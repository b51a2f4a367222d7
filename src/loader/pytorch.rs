//! `rankmamba convert`: a PyTorch `pytorch_model.bin` (zip pickle, as RankMamba publishes its
//! checkpoints) into `model.safetensors` in a Hugging Face layout directory.
//!
//! The pickle is parsed by `pytorch-reader` (burn's restricted reader): it understands the
//! opcodes and the handful of torch globals a state dict uses and refuses everything else, so no
//! pickle code is ever executed. Tensors keep their stored dtype and names; the model loaders
//! map the names.

use crate::error::{Error, Result};
use pytorch_reader::{DType as PtDType, PytorchReader};
use safetensors::tensor::TensorView;
use safetensors::Dtype;
use std::path::{Path, PathBuf};

/// Files copied next to the converted weights when they sit beside the input checkpoint.
pub const SIDE_FILES: &[&str] =
    &["config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"];

/// What `convert` did, for the CLI to report.
#[derive(Debug)]
pub struct ConvertReport {
    pub output: PathBuf,
    pub tensors: usize,
    pub bytes: usize,
    pub copied: Vec<String>,
    pub warnings: Vec<String>,
}

/// Convert `input` (a `.bin`/`.pt` file, or a directory holding `pytorch_model.bin`) into
/// `output_dir/model.safetensors`, copying config and tokenizer files found beside it.
/// Refuses to replace an existing `model.safetensors` unless `force`.
pub fn convert(input: &Path, output_dir: &Path, force: bool) -> Result<ConvertReport> {
    let file = if input.is_dir() { input.join("pytorch_model.bin") } else { input.to_path_buf() };
    if !file.is_file() {
        return Err(Error::io(&file, std::io::Error::new(std::io::ErrorKind::NotFound, "no such checkpoint file")));
    }
    let out_file = output_dir.join(super::safetensors::SINGLE);
    if out_file.exists() && !force {
        return Err(Error::format(&out_file, "already exists (pass --force to replace it)"));
    }
    let reader = PytorchReader::new(&file).map_err(|e| Error::format(&file, format!("cannot read PyTorch checkpoint: {e}")))?;
    let mut names = reader.keys();
    names.sort();
    if names.is_empty() {
        return Err(Error::format(&file, "the checkpoint holds no tensors"));
    }
    let mut buffers = Vec::with_capacity(names.len());
    for name in &names {
        let t = reader.get(name).expect("name comes from keys()");
        let dtype = map_dtype(t.dtype()).ok_or_else(|| Error::tensor(&file, name, format!("dtype {:?} has no safetensors equivalent", t.dtype())))?;
        let bytes = t.read().map_err(|e| Error::tensor(&file, name, e.to_string()))?;
        buffers.push((name.clone(), dtype, t.shape().to_vec(), bytes));
    }
    let views = buffers
        .iter()
        .map(|(n, d, s, b)| {
            TensorView::new(*d, s.clone(), b).map(|v| (n.clone(), v)).map_err(|e| Error::tensor(&file, n, e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    let meta = std::collections::HashMap::from([("format".to_string(), "pt".to_string())]);
    let bytes = safetensors::serialize(views, Some(meta)).map_err(|e| Error::format(&out_file, e.to_string()))?;
    std::fs::create_dir_all(output_dir).map_err(|e| Error::io(output_dir, e))?;
    super::write_atomic(&out_file, &bytes)?;

    let mut copied = Vec::new();
    let mut warnings = Vec::new();
    let src_dir = file.parent().unwrap_or(Path::new("."));
    for side in SIDE_FILES {
        let (from, to) = (src_dir.join(side), output_dir.join(side));
        if from.is_file() && !same_file(&from, &to) {
            let content = std::fs::read(&from).map_err(|e| Error::io(&from, e))?;
            super::write_atomic(&to, &content)?;
            copied.push(side.to_string());
        } else if from.is_file() {
            copied.push(side.to_string());
        }
    }
    if !copied.iter().any(|c| c == "config.json") {
        warnings.push(format!(
            "no config.json beside {}: RankMamba saves none, copy the base model's (e.g. state-spaces/mamba-130m-hf) into {}",
            file.display(),
            output_dir.display()
        ));
    }
    if !copied.iter().any(|c| c == "tokenizer.json") {
        warnings.push(format!("no tokenizer.json beside {}: copy the base model's into {}", file.display(), output_dir.display()));
    }
    Ok(ConvertReport { output: out_file, tensors: names.len(), bytes: bytes.len(), copied, warnings })
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

fn map_dtype(d: PtDType) -> Option<Dtype> {
    Some(match d {
        PtDType::F64 => Dtype::F64,
        PtDType::F32 => Dtype::F32,
        PtDType::F16 => Dtype::F16,
        PtDType::BF16 => Dtype::BF16,
        PtDType::I64 => Dtype::I64,
        PtDType::I32 => Dtype::I32,
        PtDType::I16 => Dtype::I16,
        PtDType::I8 => Dtype::I8,
        PtDType::U64 => Dtype::U64,
        PtDType::U32 => Dtype::U32,
        PtDType::U16 => Dtype::U16,
        PtDType::U8 => Dtype::U8,
        PtDType::Bool => Dtype::BOOL,
    })
}
