//! The public reranking API: load a checkpoint directory, score (query, document) pairs, rank.

#[cfg(not(target_family = "wasm"))]
use crate::device::DeviceChoice;
use crate::error::{Error, Result};
use crate::loader::{read_json, TensorSet};
use crate::models::mamba::{MambaConfig, MambaReranker};
use crate::tokenizer::{Mode, PairTemplate};
use burn::tensor::{Device, Int, Tensor, TensorData};
use std::path::{Path, PathBuf};

/// Options fixed at load time.
#[derive(Debug, Clone)]
pub struct RerankerOptions {
    /// Maximum sequence length; the document keeps `max_length - 50` tokens (exact mode).
    pub max_length: usize,
    /// Sequences per forward pass.
    pub batch_size: usize,
    /// Template and padding convention (see [`Mode`]).
    pub mode: Mode,
}

impl Default for RerankerOptions {
    fn default() -> Self {
        Self { max_length: 512, batch_size: 16, mode: Mode::Exact }
    }
}

/// One ranked document: its index in the input and its raw score (a logit).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Ranked {
    pub index: usize,
    pub score: f32,
}

/// What was loaded, for reports and `info`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelInfo {
    pub architecture: String,
    pub hidden_size: usize,
    pub layers: usize,
    pub parameters: usize,
    /// Dtypes the weights were stored in; compute is always f32.
    pub stored_dtypes: Vec<String>,
    pub device: String,
    pub mode: String,
    pub max_length: usize,
    pub fresh_head: bool,
}

enum Model {
    Mamba(MambaReranker),
}

pub struct Reranker {
    model: Model,
    template: PairTemplate,
    device: Device,
    options: RerankerOptions,
    info: ModelInfo,
    warnings: Vec<String>,
    dir: PathBuf,
}

impl Reranker {
    /// Load `dir` (`config.json`, `model.safetensors` or its shard index, `tokenizer.json`).
    #[cfg(not(target_family = "wasm"))]
    pub fn load(dir: impl AsRef<Path>, device: DeviceChoice) -> Result<Self> {
        Self::load_with(dir, device, RerankerOptions::default())
    }

    #[cfg(not(target_family = "wasm"))]
    pub fn load_with(dir: impl AsRef<Path>, device: DeviceChoice, options: RerankerOptions) -> Result<Self> {
        let dev = device.device()?;
        Self::load_on(dir.as_ref(), dev, &device.to_string(), options)
    }

    /// Load onto an already initialised burn device (`device_name` is reported in `info`).
    pub fn load_on(dir: &Path, device: Device, device_name: &str, options: RerankerOptions) -> Result<Self> {
        if options.batch_size == 0 {
            return Err(Error::Input("batch_size must be at least 1".into()));
        }
        let config_path = dir.join("config.json");
        let config_json = read_json(&config_path)?;
        let config = MambaConfig::from_json(&config_path, &config_json)?;
        let tok_path = dir.join("tokenizer.json");
        let template = PairTemplate::from_file(&tok_path)?;
        let tensors = TensorSet::from_dir(dir)?;
        let (model, report) = MambaReranker::from_tensors(config, &config_path, &tensors, &device)?;
        let rows = model.config.vocab_size;
        if template.max_id() as usize >= rows {
            return Err(Error::Tokenizer {
                path: tok_path,
                msg: format!(
                    "produces ids up to {} but the embedding has {rows} rows: tokenizer and model do not match",
                    template.max_id()
                ),
            });
        }
        let mut stored: Vec<String> = tensors.stored_dtypes().iter().map(|d| format!("{d:?}").to_lowercase()).collect();
        stored.dedup();
        let info = ModelInfo {
            architecture: "mamba".into(),
            hidden_size: model.config.hidden_size,
            layers: model.config.num_layers,
            parameters: model.parameter_count(),
            stored_dtypes: stored,
            device: device_name.to_string(),
            mode: options.mode.to_string(),
            max_length: options.max_length,
            fresh_head: report.fresh_head,
        };
        Ok(Self { model: Model::Mamba(model), template, device, options, info, warnings: report.warnings, dir: dir.to_path_buf() })
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Non-fatal findings of loading (e.g. a freshly initialised head).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn options(&self) -> &RerankerOptions {
        &self.options
    }

    /// Token ids the model sees for one pair.
    pub fn encode(&self, query: &str, document: &str) -> Result<Vec<u32>> {
        if query.trim().is_empty() {
            return Err(Error::Input("the query is empty".into()));
        }
        self.template.encode_pair(query, document, self.options.max_length, self.options.mode)
    }

    /// Raw scores (logits) of `documents` for `query`, in input order.
    pub fn score<S: AsRef<str>>(&self, query: &str, documents: &[S]) -> Result<Vec<f32>> {
        let pairs: Vec<(&str, &str)> = documents.iter().map(|d| (query, d.as_ref())).collect();
        self.score_pairs(&pairs, &mut |_| {})
    }

    /// Documents sorted by descending score (ties keep input order), cut to `top_k`.
    pub fn rank<S: AsRef<str>>(&self, query: &str, documents: &[S], top_k: Option<usize>) -> Result<Vec<Ranked>> {
        let scores = self.score(query, documents)?;
        Ok(rank_scores(&scores, top_k))
    }

    /// Scores of arbitrary pairs, in input order; `progress` gets the number of pairs done.
    pub fn score_pairs(&self, pairs: &[(&str, &str)], progress: &mut dyn FnMut(usize)) -> Result<Vec<f32>> {
        let mut seqs = Vec::with_capacity(pairs.len());
        for (i, (q, d)) in pairs.iter().enumerate() {
            if q.trim().is_empty() {
                return Err(Error::Input(format!("pair {i}: the query is empty")));
            }
            seqs.push(self.template.encode_pair(q, d, self.options.max_length, self.options.mode)?);
        }
        self.score_ids(&seqs, progress)
    }

    /// Scores of already tokenized sequences (the last token is the one scored).
    pub fn score_ids(&self, seqs: &[Vec<u32>], progress: &mut dyn FnMut(usize)) -> Result<Vec<f32>> {
        let rows = match &self.model {
            Model::Mamba(m) => m.config.vocab_size,
        };
        for (i, s) in seqs.iter().enumerate() {
            if s.is_empty() {
                return Err(Error::Input(format!("sequence {i} is empty")));
            }
            if let Some(bad) = s.iter().find(|id| **id as usize >= rows) {
                return Err(Error::Input(format!("sequence {i}: token id {bad} is outside the vocabulary ({rows} rows)")));
            }
        }
        // exact mode: longest first, so each batch pads little; compat: input order, like the
        // released code, whose scores depend on the batch
        let mut order: Vec<usize> = (0..seqs.len()).collect();
        if self.options.mode == Mode::Exact {
            order.sort_by_key(|&i| std::cmp::Reverse(seqs[i].len()));
        }
        let mut scores = vec![0f32; seqs.len()];
        let mut done = 0;
        for chunk in order.chunks(self.options.batch_size) {
            let batch: Vec<&[u32]> = chunk.iter().map(|&i| seqs[i].as_slice()).collect();
            let out = self.forward_batch(&batch)?;
            for (&i, s) in chunk.iter().zip(out) {
                if !s.is_finite() {
                    return Err(Error::Backend(format!("the model produced a non-finite score ({s}) for input {i}")));
                }
                scores[i] = s;
            }
            done += chunk.len();
            progress(done);
        }
        Ok(scores)
    }

    fn forward_batch(&self, batch: &[&[u32]]) -> Result<Vec<f32>> {
        let width = batch.iter().map(|s| s.len()).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(batch.len() * width);
        let mut last = Vec::with_capacity(batch.len());
        for s in batch {
            let pad = width - s.len();
            match self.options.mode {
                // right padding: positions after the last real token cannot reach it
                Mode::Exact => {
                    ids.extend(s.iter().map(|&x| x as i64));
                    ids.extend(std::iter::repeat_n(self.template.eos_id as i64, pad));
                    last.push(s.len() - 1);
                }
                // released code: left padding with id 0, pads run through conv and scan
                Mode::RankMambaV1 => {
                    ids.extend(std::iter::repeat_n(0i64, pad));
                    ids.extend(s.iter().map(|&x| x as i64));
                    last.push(width - 1);
                }
            }
        }
        let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [batch.len(), width]), &self.device);
        let out = match &self.model {
            Model::Mamba(m) => m.forward(ids, &last),
        };
        let data = out.try_into_data().map_err(|e| Error::Backend(format!("reading scores back: {e:?}")))?;
        data.try_to_vec::<f32>().map_err(|e| Error::Backend(format!("reading scores back: {e:?}")))
    }
}

/// Sort indices by descending score; stable, so equal scores keep input order.
pub fn rank_scores(scores: &[f32], top_k: Option<usize>) -> Vec<Ranked> {
    let mut ranked: Vec<Ranked> = scores.iter().enumerate().map(|(index, &score)| Ranked { index, score }).collect();
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score));
    if let Some(k) = top_k {
        ranked.truncate(k);
    }
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranking_is_descending_and_stable() {
        let r = rank_scores(&[0.5, 2.0, 0.5, -1.0, 2.0], Some(4));
        let idx: Vec<usize> = r.iter().map(|x| x.index).collect();
        assert_eq!(idx, vec![1, 4, 0, 2]);
    }
}
