//! The public reranking API: load a checkpoint directory, score (query, document) pairs, rank.

#[cfg(not(target_family = "wasm"))]
use crate::device::DeviceChoice;
use crate::error::{Error, Result};
use crate::loader::{parse_json, ModelFiles, TensorSet};
use crate::models::bert::{BertConfig, BertReranker};
use crate::models::gpt_neox::{GptNeoxConfig, GptNeoxReranker};
use crate::models::mamba::{MambaConfig, MambaReranker};
use crate::ops::embedding::{host_segments, TokenSegments};
pub use crate::models::BatchTensors;
use crate::tokenizer::{Mode, PairEncoder, PairTemplate};
use burn::tensor::{Device, Int, Tensor, TensorData};
use burn::module::{Module, ModuleMapper, ModuleVisitor, ParamId};
use std::collections::BTreeMap;
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

/// What was loaded, for reports and `info` (camelCase, as the npm package shows it).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
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

#[derive(Clone)]
enum Model {
    Mamba(MambaReranker),
    Bert(BertReranker),
    GptNeox(GptNeoxReranker),
}

/// How pairs become model input: the decoder template (document first, score at the last
/// token) or the encoder pair encoding ([CLS] query [SEP] document [SEP], score at [CLS]).
#[derive(Clone)]
enum Text {
    Decoder(PairTemplate),
    Encoder(PairEncoder),
}

impl Text {
    fn encode_pair(&self, query: &str, document: &str, max_length: usize, mode: Mode) -> Result<Encoded> {
        if query.trim().is_empty() {
            return Err(Error::Input("the query is empty".into()));
        }
        match self {
            Text::Decoder(t) => {
                let ids = t.encode_pair(query, document, max_length, mode)?;
                Ok(Encoded { type_ids: vec![0; ids.len()], ids })
            }
            Text::Encoder(t) => {
                let (ids, type_ids) = match mode {
                    Mode::Exact => t.encode_pair(query, document)?,
                    Mode::RankMambaV1 => t.encode_rankmamba(query, document)?,
                };
                Ok(Encoded { ids, type_ids })
            }
        }
    }
}

/// A reranker's tokenizer, pair template and length limit without its model
/// ([`Reranker::pair_encoding`]): `train` tokenizes the next batch with it on a worker thread
/// while the device runs the current step.
#[derive(Clone)]
pub struct PairEncoding {
    text: Text,
    max_length: usize,
    mode: Mode,
}

impl PairEncoding {
    /// What [`Reranker::encode_pair`] returns for the same pair.
    pub fn encode_pair(&self, query: &str, document: &str) -> Result<Encoded> {
        self.text.encode_pair(query, document, self.max_length, self.mode)
    }
}

/// One tokenized pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub ids: Vec<u32>,
    /// Token type (segment) ids; all 0 for decoder models.
    pub type_ids: Vec<u32>,
}

pub struct Reranker {
    model: Model,
    /// Checkpoint name of every parameter (for saving a trained model).
    names: BTreeMap<ParamId, String>,
    text: Text,
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
    /// The architecture comes from `config.json`'s `model_type` (`mamba`, `bert`); a mamba-ssm
    /// config without one is Mamba.
    #[cfg(not(target_family = "wasm"))]
    pub fn load_on(dir: &Path, device: Device, device_name: &str, options: RerankerOptions) -> Result<Self> {
        Self::load_files(&crate::loader::DirFiles(dir.to_path_buf()), device, device_name, options)
    }

    /// Load from any file source (a directory, or files fetched into memory by the browser
    /// package).
    pub fn load_files(files: &dyn ModelFiles, device: Device, device_name: &str, mut options: RerankerOptions) -> Result<Self> {
        if options.batch_size == 0 {
            return Err(Error::Input("batch_size must be at least 1".into()));
        }
        let config_path = files.path("config.json");
        let config_json = parse_json(&config_path, &files.require("config.json")?)?;
        let model_type = config_json.get("model_type").and_then(|v| v.as_str()).unwrap_or("mamba").to_string();
        let tok_path = files.path("tokenizer.json");
        enum Arch {
            Mamba(MambaConfig),
            Bert(BertConfig),
            GptNeox(GptNeoxConfig),
        }
        // config and tokenizer errors before the (large) weights are read
        let mut pre_warnings = Vec::new();
        let arch = match model_type.as_str() {
            "mamba" => Arch::Mamba(MambaConfig::from_json(&config_path, &config_json)?),
            "bert" | "electra" => {
                let config = BertConfig::from_json(&config_path, &config_json)?;
                if options.max_length > config.max_position_embeddings {
                    pre_warnings.push(format!(
                        "max_length {} exceeds max_position_embeddings {} of {}: using {}",
                        options.max_length,
                        config.max_position_embeddings,
                        config_path.display(),
                        config.max_position_embeddings
                    ));
                    options.max_length = config.max_position_embeddings;
                }
                Arch::Bert(config)
            }
            "gpt_neox" => {
                if options.mode != Mode::Exact {
                    return Err(Error::Input(format!("compat mode `{}` applies to Mamba checkpoints only", options.mode)));
                }
                Arch::GptNeox(GptNeoxConfig::from_json(&config_path, &config_json)?)
            }
            other => {
                return Err(Error::config(&config_path, "model_type", format!("`{other}` is not supported (mamba, bert, electra, gpt_neox)")))
            }
        };
        let tok_bytes = files.require("tokenizer.json")?;
        let text = match &arch {
            Arch::Mamba(_) | Arch::GptNeox(_) => Text::Decoder(PairTemplate::from_bytes(&tok_path, &tok_bytes)?),
            Arch::Bert(_) => Text::Encoder(PairEncoder::from_bytes(&tok_path, &tok_bytes, options.max_length)?),
        };
        drop(tok_bytes);
        let tensors = TensorSet::from_files(files)?;
        // every weight is one f32 buffer on the device: say which one does not fit, instead of
        // a backend failure (WebGPU adapters on phones allow 128 MiB per binding)
        if crate::ops::kernel::is_wgsl_device(&device) {
            let limit = crate::ops::kernel::max_binding_bytes(&device);
            for (name, t) in &tensors.tensors {
                let bytes = t.shape.iter().product::<usize>() * 4;
                if bytes > limit {
                    return Err(Error::tensor(
                        &t.file,
                        name,
                        format!("needs {bytes} bytes in f32, more than this device allows in one buffer ({limit}); use the CPU device"),
                    ));
                }
            }
        }
        let (built, names) = crate::models::collect_names(|| -> Result<_> {
            Ok(match arch {
                Arch::Mamba(config) => {
                    let (model, report) = MambaReranker::from_tensors(config, &config_path, &tensors, &device)?;
                    let rows = model.config.vocab_size;
                    (Model::Mamba(model), report.warnings, rows, report.fresh_head)
                }
                Arch::Bert(config) => {
                    let (model, warnings) = BertReranker::from_tensors(config, &config_path, &tensors, &device)?;
                    let rows = model.config.vocab_size;
                    let fresh = warnings.iter().any(|w| w.contains("freshly initialised head"));
                    (Model::Bert(model), warnings, rows, fresh)
                }
                Arch::GptNeox(config) => {
                    let (model, warnings) = GptNeoxReranker::from_tensors(config, &config_path, &tensors, &device)?;
                    let rows = model.config.vocab_size;
                    let fresh = warnings.iter().any(|w| w.contains("freshly initialised head"));
                    (Model::GptNeox(model), warnings, rows, fresh)
                }
            })
        });
        let (model, mut warnings, rows, fresh_head) = built?;
        warnings.splice(0..0, pre_warnings);
        let max_id = match &text {
            Text::Decoder(t) => t.max_id(),
            Text::Encoder(t) => t.max_id(),
        };
        if max_id as usize >= rows {
            return Err(Error::Tokenizer {
                path: tok_path,
                msg: format!("produces ids up to {max_id} but the embedding has {rows} rows: tokenizer and model do not match"),
            });
        }
        let mut stored: Vec<String> = tensors.stored_dtypes().iter().map(|d| format!("{d:?}").to_lowercase()).collect();
        stored.dedup();
        let (hidden_size, layers, parameters) = match &model {
            Model::Mamba(m) => (m.config.hidden_size, m.config.num_layers, m.parameter_count()),
            Model::Bert(m) => (m.config.hidden_size, m.config.num_layers, m.parameter_count()),
            Model::GptNeox(m) => (m.config.hidden_size, m.config.num_layers, m.parameter_count()),
        };
        let info = ModelInfo {
            architecture: model_type,
            hidden_size,
            layers,
            parameters,
            stored_dtypes: stored,
            device: device_name.to_string(),
            mode: options.mode.to_string(),
            max_length: options.max_length,
            fresh_head,
        };
        drop(tensors);
        Ok(Self { model, names, text, device, options, info, warnings, dir: files.path("") })
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Non-fatal findings of loading (e.g. a freshly initialised head).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Put messages from the caller's own setup (e.g. a device fallback) first in `warnings`.
    pub fn prepend_warnings(&mut self, mut first: Vec<String>) {
        first.append(&mut self.warnings);
        self.warnings = first;
    }

    /// The checkpoint directory (or the source the files came from).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn options(&self) -> &RerankerOptions {
        &self.options
    }

    /// Token ids the model sees for one pair.
    pub fn encode(&self, query: &str, document: &str) -> Result<Vec<u32>> {
        Ok(self.encode_pair(query, document)?.ids)
    }

    /// Token ids and token type ids of one pair.
    pub fn encode_pair(&self, query: &str, document: &str) -> Result<Encoded> {
        self.text.encode_pair(query, document, self.options.max_length, self.options.mode)
    }

    /// The text side alone (tokenizer, template, length limit), to tokenize on another thread.
    pub fn pair_encoding(&self) -> PairEncoding {
        PairEncoding { text: self.text.clone(), max_length: self.options.max_length, mode: self.options.mode }
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

    /// Tokenize `query` with each document.
    fn encode_all<S: AsRef<str>>(&self, query: &str, documents: &[S]) -> Result<Vec<Encoded>> {
        documents.iter().map(|d| self.encode_pair(query, d.as_ref())).collect()
    }

    /// Scores of arbitrary pairs, in input order; `progress` gets the number of pairs done.
    pub fn score_pairs(&self, pairs: &[(&str, &str)], progress: &mut dyn FnMut(usize)) -> Result<Vec<f32>> {
        let mut seqs = Vec::with_capacity(pairs.len());
        for (i, (q, d)) in pairs.iter().enumerate() {
            if q.trim().is_empty() {
                return Err(Error::Input(format!("pair {i}: the query is empty")));
            }
            seqs.push(self.encode_pair(q, d)?);
        }
        self.score_encoded(&seqs, progress)
    }

    /// Scores of already tokenized sequences (decoder models score the last token).
    pub fn score_ids(&self, seqs: &[Vec<u32>], progress: &mut dyn FnMut(usize)) -> Result<Vec<f32>> {
        let enc: Vec<Encoded> = seqs.iter().map(|s| Encoded { ids: s.clone(), type_ids: vec![0; s.len()] }).collect();
        self.score_encoded(&enc, progress)
    }

    /// Scores of tokenized pairs, in input order; `progress` gets the number done.
    pub fn score_encoded(&self, seqs: &[Encoded], progress: &mut dyn FnMut(usize)) -> Result<Vec<f32>> {
        let mut scores = vec![0f32; seqs.len()];
        let mut done = 0;
        for chunk in self.plan(seqs, self.options.batch_size)? {
            let out = self.forward_batch(&chunk, seqs, 1)?;
            let data = out.try_into_data().map_err(|e| Error::Backend(format!("reading scores back: {e:?}")))?;
            store_scores(&mut scores, &chunk, data)?;
            done += chunk.len();
            progress(done);
        }
        Ok(scores)
    }

    /// Start scoring `documents` for `query` one batch at a time (the browser package awaits
    /// each batch's readback, reports progress and checks for cancellation in between).
    /// `batch_size` overrides the load-time option.
    pub fn start_job<S: AsRef<str>>(&self, query: &str, documents: &[S], batch_size: Option<usize>) -> Result<ScoreJob> {
        let seqs = self.encode_all(query, documents)?;
        let batches = self.plan(&seqs, batch_size.unwrap_or(self.options.batch_size))?;
        Ok(ScoreJob { scores: vec![0f32; seqs.len()], seqs, batches, next: 0, done: 0 })
    }

    /// Score the next batch of `job`, awaiting the readback; false once every batch is done.
    pub async fn step_async(&self, job: &mut ScoreJob) -> Result<bool> {
        let Some(chunk) = job.batches.get(job.next) else { return Ok(false) };
        let out = self.forward_batch(chunk, &job.seqs, 1)?;
        let data = out.into_data_async().await.map_err(|e| Error::Backend(format!("reading scores back: {e:?}")))?;
        store_scores(&mut job.scores, chunk, data)?;
        job.done += chunk.len();
        job.next += 1;
        Ok(true)
    }

    /// Check the sequences and cut them into batches (lists of input indices).
    fn plan(&self, seqs: &[Encoded], batch_size: usize) -> Result<Vec<Vec<usize>>> {
        if batch_size == 0 {
            return Err(Error::Input("batch_size must be at least 1".into()));
        }
        self.check(seqs)?;
        // exact mode: longest first, so each batch pads little; compat: input order, like the
        // released code, whose scores depend on the batch
        let mut order: Vec<usize> = (0..seqs.len()).collect();
        if self.options.mode == Mode::Exact || matches!(self.text, Text::Encoder(_)) {
            order.sort_by_key(|&i| std::cmp::Reverse(seqs[i].ids.len()));
        }
        Ok(self.batches(&order, seqs, batch_size).into_iter().map(|c| c.to_vec()).collect())
    }

    /// Every sequence non-empty and inside the vocabulary.
    fn check(&self, seqs: &[Encoded]) -> Result<()> {
        let rows = match &self.model {
            Model::Mamba(m) => m.config.vocab_size,
            Model::Bert(m) => m.config.vocab_size,
            Model::GptNeox(m) => m.config.vocab_size,
        };
        for (i, s) in seqs.iter().enumerate() {
            if s.ids.is_empty() {
                return Err(Error::Input(format!("sequence {i} is empty")));
            }
            if let Some(bad) = s.ids.iter().find(|id| **id as usize >= rows) {
                return Err(Error::Input(format!("sequence {i}: token id {bad} is outside the vocabulary ({rows} rows)")));
            }
        }
        Ok(())
    }

    /// Cut `order` into batches of at most `batch_size`; for attention models also small enough
    /// that the (batch, heads, len, len) score tensor of the reference attention fits one
    /// storage binding of the device (lavapipe and WebGPU default to 128 MiB).
    fn batches<'a>(&self, order: &'a [usize], seqs: &[Encoded], batch_size: usize) -> Vec<&'a [usize]> {
        let heads = match &self.model {
            Model::Bert(m) => m.config.num_heads,
            Model::GptNeox(m) => m.config.num_heads,
            Model::Mamba(_) => 0,
        };
        let budget = crate::ops::kernel::max_binding_bytes(&self.device) / 2;
        let mut out = Vec::new();
        let mut start = 0;
        while start < order.len() {
            let mut end = start;
            let mut width = 0;
            while end < order.len() && end - start < batch_size {
                let w = width.max(seqs[order[end]].ids.len());
                let bytes = (end - start + 1) * heads * w * w * 4;
                if end > start && heads > 0 && bytes > budget {
                    break;
                }
                width = w;
                end += 1;
            }
            out.push(&order[start..end]);
            start = end;
        }
        out
    }

    /// The scores of one batch (input indices into `seqs`), still on the device. Right-padded
    /// batches are padded to a multiple of `pad_multiple` tokens (within `max_length`), which
    /// changes no score: the decoders are causal and read the last real token, the encoder masks
    /// its pads.
    fn forward_batch(&self, chunk: &[usize], seqs: &[Encoded], pad_multiple: usize) -> Result<Tensor<1>> {
        let batch: Vec<&Encoded> = chunk.iter().map(|&i| &seqs[i]).collect();
        let host = self.host_batch(&batch, self.batch_width(&batch, pad_multiple));
        Ok(self.forward_tensors(&self.upload(&host, None)))
    }

    /// Left padding (the released RankMamba code's decoders) or right padding.
    fn left_pad(&self) -> bool {
        self.options.mode == Mode::RankMambaV1 && matches!(self.text, Text::Decoder(_))
    }

    /// Tokens per row of a batch: the longest sequence, rounded up to `pad_multiple` (right
    /// padding only, never past the longest allowed).
    fn batch_width(&self, batch: &[&Encoded], pad_multiple: usize) -> usize {
        let longest = batch.iter().map(|s| s.ids.len()).max().unwrap_or(0);
        if self.left_pad() { longest } else { longest.next_multiple_of(pad_multiple.max(1)).min(self.options.max_length.max(longest)) }
    }

    /// The padded ids, token types and pooled rows of `batch` at `width` tokens per row.
    fn host_batch(&self, batch: &[&Encoded], width: usize) -> HostBatch {
        let left_pad = self.left_pad();
        let pad_id = match &self.text {
            Text::Decoder(t) => t.eos_id as i64,
            Text::Encoder(_) => 0,
        };
        let mut ids = Vec::with_capacity(batch.len() * width);
        let mut types = Vec::with_capacity(batch.len() * width);
        let mut last = Vec::with_capacity(batch.len());
        for s in batch {
            let pad = width - s.ids.len();
            match left_pad {
                // right padding: positions after the last real token cannot reach it (causal),
                // and the encoder masks them (RankMamba's encoders pad right with a mask too)
                false => {
                    ids.extend(s.ids.iter().map(|&x| x as i64));
                    ids.extend(std::iter::repeat_n(pad_id, pad));
                    types.extend(s.type_ids.iter().map(|&x| x as i64));
                    types.extend(std::iter::repeat_n(0i64, pad));
                    last.push(s.ids.len() - 1);
                }
                // released Mamba code: left padding with id 0, pads run through conv and scan
                true => {
                    ids.extend(std::iter::repeat_n(0i64, pad));
                    ids.extend(s.ids.iter().map(|&x| x as i64));
                    last.push(width - 1);
                }
            }
        }
        let shape = [batch.len(), width];
        let encoder = matches!(self.model, Model::Bert(_));
        let cls = vec![0; batch.len()];
        HostBatch {
            segments: None,
            ids: TensorData::new(ids, shape),
            types: encoder.then(|| TensorData::new(types, shape)),
            // encoders read CLS, decoders the last real token
            rows: crate::models::pooled_rows_data(if encoder { &cls } else { &last }, width),
            lens: batch.iter().map(|s| s.ids.len()).collect(),
        }
    }

    /// A host batch on the model's device, with the dropout mask (batch, [`Self::pooled_width`])
    /// of a training step.
    pub fn upload(&self, host: &HostBatch, head_mask: Option<TensorData>) -> BatchTensors {
        BatchTensors {
            ids: Tensor::<2, Int>::from_data(host.ids.clone(), &self.device),
            types: host.types.clone().map(|t| Tensor::<2, Int>::from_data(t, &self.device)),
            rows: Tensor::<1, Int>::from_data(host.rows.clone(), &self.device),
            lens: host.lens.clone(),
            head_mask: head_mask.map(|m| Tensor::<2>::from_data(m, &self.device)),
            segments: host.segments.as_ref().map(|s| TokenSegments::upload(s, &self.device)),
        }
    }

    /// Scores of an uploaded batch (differentiable on an autodiff device).
    pub fn forward_tensors(&self, t: &BatchTensors) -> Tensor<1> {
        let (mask, segments) = (t.head_mask.as_ref(), t.segments.as_ref());
        match &self.model {
            Model::Mamba(m) => m.forward_pooled(t.ids.clone(), t.rows.clone(), mask, segments),
            Model::GptNeox(m) => m.forward_pooled(t.ids.clone(), t.rows.clone(), mask, segments),
            Model::Bert(m) => {
                let types = t.types.clone().unwrap_or_else(|| t.ids.zeros_like());
                m.forward_masked(t.ids.clone(), types, &t.lens, mask, segments)
            }
        }
    }
}

/// One padded batch on the host: what a forward pass uploads ([`Reranker::upload`]).
#[derive(Clone, Debug)]
pub struct HostBatch {
    /// (batch, len)
    pub ids: TensorData,
    /// (batch, len), encoders only
    pub types: Option<TensorData>,
    /// (batch): flat row of each sequence's pooled token
    pub rows: TensorData,
    /// (batch): real tokens per sequence
    pub lens: Vec<usize>,
    /// the token positions grouped by id (training: the embedding gradient's segments)
    pub segments: Option<[TensorData; 3]>,
}

/// Training batches are padded to a multiple of this many tokens (as `pad_to_multiple_of=8` in
/// transformers): with 8 groups of 8 sequences every batch has a multiple of 512 rows.
pub const TRAIN_PAD_MULTIPLE: usize = 8;

/// What training needs from a loaded model: a differentiable forward over whole groups, the
/// parameters to visit and update, and the names to save them under (`crate::train`).
impl Reranker {
    /// The device the model lives on (an autodiff device when training).
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Scores of `seqs` in order, still on the device (differentiable on an autodiff device),
    /// with `head_mask` (batch, [`Self::pooled_width`]) as the dropout before the head.
    /// The batch is padded to a multiple of [`TRAIN_PAD_MULTIPLE`] tokens, so that its rows
    /// (batch × length) fit the tensor-core matmul's blocks in mixed precision and the kernels
    /// see few distinct shapes (each new one is autotuned).
    pub fn forward_scores(&self, seqs: &[Encoded], head_mask: Option<TensorData>) -> Result<Tensor<1>> {
        let host = self.training_batch(seqs, None)?;
        Ok(self.forward_tensors(&self.upload(&host, head_mask)))
    }

    /// The host batch of a training step: padded to a multiple of [`TRAIN_PAD_MULTIPLE`], or to
    /// exactly `width` tokens (a captured step replays one shape; longer sequences are an
    /// error).
    pub fn training_batch(&self, seqs: &[Encoded], width: Option<usize>) -> Result<HostBatch> {
        self.check(seqs)?;
        let batch: Vec<&Encoded> = seqs.iter().collect();
        let w = match width {
            None => self.training_width(seqs),
            Some(w) => {
                if let Some(s) = batch.iter().find(|s| s.ids.len() > w) {
                    return Err(Error::Input(format!("a training sequence has {} tokens, more than the fixed batch width {w}", s.ids.len())));
                }
                w
            }
        };
        let mut host = self.host_batch(&batch, w);
        // only the wgpu backward reads them (`ops::embedding`)
        if crate::ops::kernel::is_wgsl_device(&self.device) {
            let ids = host.ids.as_slice::<i64>().map_err(|e| Error::Backend(format!("token ids: {e:?}")))?;
            host.segments = Some(host_segments(ids)?);
        }
        Ok(host)
    }

    /// Tokens per row of the training batch of `seqs` ([`Self::training_batch`] without a fixed
    /// width).
    pub fn training_width(&self, seqs: &[Encoded]) -> usize {
        self.batch_width(&seqs.iter().collect::<Vec<_>>(), TRAIN_PAD_MULTIPLE)
    }

    /// Width of the pooled hidden state the head reads (the dropout mask's second side).
    pub fn pooled_width(&self) -> usize {
        match &self.model {
            Model::Mamba(m) => m.config.hidden_size,
            Model::Bert(m) => m.config.hidden_size,
            Model::GptNeox(m) => m.config.hidden_size,
        }
    }

    /// The gradients of the model's parameters out of a backward pass.
    pub fn gradients(&self, grads: burn::tensor::Gradients) -> burn::optim::GradientsParams {
        use burn::optim::GradientsParams;
        match &self.model {
            Model::Mamba(m) => GradientsParams::from_grads(grads, m),
            Model::Bert(m) => GradientsParams::from_grads(grads, m),
            Model::GptNeox(m) => GradientsParams::from_grads(grads, m),
        }
    }

    /// Visit every parameter.
    pub fn visit(&self, visitor: &mut impl ModuleVisitor) {
        match &self.model {
            Model::Mamba(m) => m.visit(visitor),
            Model::Bert(m) => m.visit(visitor),
            Model::GptNeox(m) => m.visit(visitor),
        }
    }

    /// Replace the model by `f(model)` for whichever architecture it is.
    pub fn map_model(&mut self, f: &mut dyn ModelFn) {
        take_mut(&mut self.model, |model| match model {
            Model::Mamba(m) => Model::Mamba(f.mamba(m)),
            Model::Bert(m) => Model::Bert(f.bert(m)),
            Model::GptNeox(m) => Model::GptNeox(f.neox(m)),
        });
    }

    /// Map every parameter (e.g. to give them ids that survive a save and reload).
    pub fn map_params(&mut self, mapper: &mut impl ModuleMapper) {
        take_mut(&mut self.model, |model| match model {
            Model::Mamba(m) => Model::Mamba(m.map(mapper)),
            Model::Bert(m) => Model::Bert(m.map(mapper)),
            Model::GptNeox(m) => Model::GptNeox(m.map(mapper)),
        });
    }

    /// A copy of this model on `device` (a data-parallel replica; shares the weights when it is
    /// the same device).
    pub fn forked(&self, device: &Device) -> Reranker {
        let model = match &self.model {
            Model::Mamba(m) => Model::Mamba(m.clone().fork(device)),
            Model::Bert(m) => Model::Bert(m.clone().fork(device)),
            Model::GptNeox(m) => Model::GptNeox(m.clone().fork(device)),
        };
        Reranker {
            model,
            names: self.names.clone(),
            text: self.text.clone(),
            device: device.clone(),
            options: self.options.clone(),
            info: self.info.clone(),
            warnings: Vec::new(),
            dir: self.dir.clone(),
        }
    }

    /// Run the linear layers (Mamba: the projections) in mixed precision: f16 inputs, f32
    /// accumulation on tensor cores where padding the shapes to the blocks is cheap (`ops::linear`).
    pub fn set_mixed_precision(&mut self, on: bool) {
        match &mut self.model {
            Model::Mamba(m) => m.config.mixed_precision = on,
            Model::Bert(m) => m.config.mixed_precision = on,
            Model::GptNeox(m) => m.config.mixed_precision = on,
        }
    }

    /// The checkpoint name of each parameter.
    pub fn param_names(&self) -> &BTreeMap<ParamId, String> {
        &self.names
    }

    pub fn set_param_names(&mut self, names: BTreeMap<ParamId, String>) {
        self.names = names;
    }
}

/// A function applied to the model, one method per architecture (the models are distinct types).
pub trait ModelFn {
    fn mamba(&mut self, m: MambaReranker) -> MambaReranker;
    fn bert(&mut self, m: BertReranker) -> BertReranker;
    fn neox(&mut self, m: GptNeoxReranker) -> GptNeoxReranker;
}

/// `*slot = f(slot)` for modules, which map by value. The model is moved, not cloned: a clone
/// left in the slot would hold every weight while `f` runs, and the optimizer would then copy
/// each one instead of updating it in place (a copy of all weights per step). burn's modules
/// do not panic in `map`; if one did, the process aborts rather than leave an empty slot.
fn take_mut(slot: &mut Model, f: impl FnOnce(Model) -> Model) {
    replace_with::replace_with_or_abort(slot, f);
}

/// Scoring in progress (see [`Reranker::start_job`]).
pub struct ScoreJob {
    seqs: Vec<Encoded>,
    batches: Vec<Vec<usize>>,
    scores: Vec<f32>,
    next: usize,
    done: usize,
}

impl ScoreJob {
    /// Documents scored so far.
    pub fn done(&self) -> usize {
        self.done
    }
    /// Scores in input order (complete once `step_async` returned false).
    pub fn into_scores(self) -> Vec<f32> {
        self.scores
    }
}

/// Put one batch's scores (read back from the device) at their input positions.
fn store_scores(scores: &mut [f32], chunk: &[usize], data: TensorData) -> Result<()> {
    let out = data.try_to_vec::<f32>().map_err(|e| Error::Backend(format!("reading scores back: {e:?}")))?;
    for (&i, s) in chunk.iter().zip(out) {
        if !s.is_finite() {
            return Err(Error::Backend(format!("the model produced a non-finite score ({s}) for input {i}")));
        }
        scores[i] = s;
    }
    Ok(())
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
