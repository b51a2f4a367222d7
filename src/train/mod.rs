//! Fine-tuning with the RankMamba recipe: localized contrastive estimation (softmax
//! cross-entropy over groups of one positive and `group_size - 1` negatives), AdamW, linear
//! warmup then linear decay, dropout before the head. Any checkpoint the [`Reranker`] loads
//! trains (Mamba, BERT-family, GPT-NeoX), on burn's autodiff over the CPU or wgpu backend.
//!
//! Checkpoints are directories the `Reranker`, the CLI and the npm package load directly
//! (`config.json`, `model.safetensors`, `tokenizer.json`) plus `trainer_state.json`, the
//! optimizer and scheduler records; each is written into a temporary directory and renamed into
//! place, so an interrupted run never leaves a half-written one. `--resume` continues from the
//! newest: data order, sampling and dropout derive from (seed, step), so a resumed run repeats
//! the uninterrupted one exactly (bitwise on the CPU).

pub mod adamw;
pub mod data;
pub mod graph;
#[cfg(feature = "host-profile")]
pub mod host_profile;

pub use adamw::FusedAdamW;
pub use data::{DataSpec, Group, TrainData};

use crate::error::{Error, Result};
use crate::loader::write_atomic;
use crate::models::bert::BertReranker;
use crate::models::gpt_neox::GptNeoxReranker;
use crate::models::mamba::MambaReranker;
use crate::reranker::{BatchTensors, Encoded, ModelFn, PairEncoding, Reranker, RerankerOptions};
use burn::module::{ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::lr_scheduler::linear::LinearLrSchedulerConfig;
use burn::optim::lr_scheduler::sequential::SequentialLrSchedulerConfig;
use burn::optim::lr_scheduler::module_lr_scheduler::{ModuleLearningRate, ModuleLrScheduler};
use burn::optim::lr_scheduler::{LrSchedulerConfig, LrSchedulerRecord};
use burn::optim::{GradientsParams, ModuleOptimizer, MultiGradientsParams, OptimizerRecord};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The recipe and the run's bookkeeping. Defaults are the paper's (`shared/spec/rankmamba.md`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrainConfig {
    /// Documents per group (the positive first).
    pub group_size: usize,
    /// Groups per micro-batch (8 groups of 8 = 64 sequences).
    pub batch_groups: usize,
    /// Micro-batches per optimizer step.
    pub grad_accum: usize,
    pub lr: f64,
    pub weight_decay: f32,
    pub beta_1: f32,
    pub beta_2: f32,
    pub epsilon: f32,
    pub warmup_steps: usize,
    /// Stop after this many epochs (when `max_steps` is not given).
    pub epochs: usize,
    pub max_steps: Option<usize>,
    /// Dropout before the head.
    pub dropout: f64,
    /// Clip the gradient's global norm.
    pub clip_norm: Option<f32>,
    pub seed: u64,
    pub max_length: usize,
    /// Checkpoint every this many steps (and at the end).
    pub save_every: usize,
    /// Checkpoints kept (oldest deleted first).
    pub keep: usize,
    /// Data-parallel replicas: each takes `batch_groups × grad_accum` groups of a step, and
    /// their gradients are summed across devices by burn's `MultiGradientsParams`.
    #[serde(default = "one")]
    pub devices: usize,
    /// `f32`, or `mixed`: f16 inputs with f32 accumulation on tensor cores for the linear layers
    /// (Mamba: the projections) where the device has cooperative matrices and padding the shapes
    /// to the kernel's blocks is cheap (weights, gradients and optimizer state stay f32).
    #[serde(default = "f32_name")]
    pub precision: String,
    /// Capture one training step and replay it (wgpu, Mamba; [`graph`]): every batch is padded
    /// to `max_length` tokens.
    #[serde(default)]
    pub graph: bool,
    /// Read the losses from the device every this many steps (and at checkpoints and the end):
    /// a read waits for the device to finish all queued work, so between reads the host queues
    /// the next steps while the device runs (the log lines of the steps in between come at once).
    #[serde(default = "ten")]
    pub log_every: usize,
    /// Before the first step of a process on wgpu, run one forward and backward at the widest
    /// width the run can see (`max_length`), its gradients dropped, so cubecl's memory pool sizes
    /// its pages for the largest activations up front instead of stalling for about a second at
    /// the first batch wider than all before it (BENCHMARKS.md §5). No weight, optimizer state or
    /// random stream is touched.
    #[serde(default = "yes")]
    pub warm_up: bool,
}

fn yes() -> bool {
    true
}

fn ten() -> usize {
    10
}

fn f32_name() -> String {
    "f32".into()
}

fn one() -> usize {
    1
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            group_size: 8,
            batch_groups: 8,
            grad_accum: 1,
            lr: 2e-5,
            weight_decay: 0.01,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
            warmup_steps: 1000,
            epochs: 1,
            max_steps: None,
            dropout: 0.1,
            clip_norm: None,
            seed: 42,
            max_length: 512,
            save_every: 1000,
            keep: 3,
            devices: 1,
            precision: f32_name(),
            graph: false,
            log_every: ten(),
            warm_up: true,
        }
    }
}

/// What `trainer_state.json` records: where the run stands and how it was configured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainerState {
    pub step: usize,
    pub total_steps: usize,
    pub config: TrainConfig,
    /// The checkpoint training started from.
    pub base_model: PathBuf,
    pub last_loss: Option<f64>,
}

/// One optimizer step's numbers (also a line of `log.jsonl`).
#[derive(Debug, Clone, Serialize)]
pub struct StepLog {
    pub step: usize,
    pub epoch: f64,
    pub loss: f64,
    pub lr: f64,
    pub sequences_per_s: f64,
    pub elapsed_s: f64,
    /// Host seconds spent queueing this step's work (forward, backward, update) without
    /// waiting for the device: near the step's time, the host bounds the step.
    pub queue_s: f64,
    /// Tokens of the step's batches as padded (sequences × padded width).
    pub tokens: usize,
}

/// LCE loss of `scores` (groups × group_size, positive first): mean over groups of
/// `-log softmax(scores)[0]`.
pub fn lce_loss(scores: Tensor<1>, groups: usize, group_size: usize) -> Tensor<1> {
    let logits = scores.reshape([groups, group_size]);
    log_softmax(logits, 1).narrow(1, 0, 1).mean().neg()
}

/// The tokenized sequences of one step's groups, one vector per micro-batch of `batch_groups`
/// groups (replicas take consecutive runs of `grad_accum` micro-batches).
fn encode_groups(text: &PairEncoding, groups: &[Group], batch_groups: usize, group_size: usize) -> Result<Vec<Vec<Encoded>>> {
    encode_groups_on(text, groups, batch_groups, group_size, tokenize_workers()?)
}

fn encode_groups_on(text: &PairEncoding, groups: &[Group], batch_groups: usize, group_size: usize, workers: usize) -> Result<Vec<Vec<Encoded>>> {
    if let Some(g) = groups.iter().find(|g| g.docs.len() != group_size) {
        return Err(Error::Input(format!("a group has {} documents, expected {group_size}", g.docs.len())));
    }
    let pairs: Vec<(&str, &str)> = groups.iter().flat_map(|g| g.docs.iter().map(move |d| (g.query.as_str(), d.as_str()))).collect();
    let encode = |chunk: &[(&str, &str)]| chunk.iter().map(|(q, d)| text.encode_pair(q, d)).collect::<Result<Vec<_>>>();
    let workers = workers.min(pairs.len());
    let encoded = if workers <= 1 {
        encode(&pairs)?
    } else {
        // contiguous slices, joined in order: the same sequences as one thread's
        let per = pairs.len().div_ceil(workers);
        std::thread::scope(|s| {
            let handles: Vec<_> = pairs.chunks(per).map(|chunk| s.spawn(move || encode(chunk))).collect();
            let mut all = Vec::with_capacity(pairs.len());
            for h in handles {
                all.extend(h.join().map_err(|_| Error::Backend("a tokenizing thread panicked".into()))??);
            }
            Ok::<_, Error>(all)
        })?
    };
    let mut seqs = encoded.into_iter();
    Ok(groups.chunks(batch_groups).map(|micro| seqs.by_ref().take(micro.len() * group_size).collect()).collect())
}

/// Threads that tokenize a step's pairs: `RANKMAMBA_TOKENIZE_THREADS`, else the cores left beside
/// the main and device threads, at most 8. (In a host profile on the H200 machine the one
/// tokenizing thread was the process's busiest, with 64 pairs of 700-word documents a step:
/// BENCHMARKS.md §5.)
fn tokenize_workers() -> Result<usize> {
    static WORKERS: std::sync::OnceLock<std::result::Result<usize, String>> = std::sync::OnceLock::new();
    WORKERS
        .get_or_init(|| {
            let default = || std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(2).clamp(1, 8));
            match parse_count("RANKMAMBA_TOKENIZE_THREADS", std::env::var("RANKMAMBA_TOKENIZE_THREADS").ok().as_deref()) {
                Ok(Some(0)) => Err("RANKMAMBA_TOKENIZE_THREADS: expected at least 1 thread, got 0".into()),
                Ok(n) => Ok(n.unwrap_or_else(default)),
                Err(Error::Input(message)) => Err(message),
                Err(e) => Err(e.to_string()),
            }
        })
        .clone()
        .map_err(Error::Input)
}

/// A count from the environment variable `name` (its value, if set): an error names the variable.
pub(crate) fn parse_count(name: &str, value: Option<&str>) -> Result<Option<usize>> {
    value
        .map(|v| v.trim().parse().map_err(|_| Error::Input(format!("{name}: expected a whole number, got {v:?}"))))
        .transpose()
}

/// One step's groups tokenized on a worker thread (and its helpers), so the host's time per step
/// is the launches alone.
struct Tokenizing(std::thread::JoinHandle<Result<Vec<Vec<Encoded>>>>);

impl Tokenizing {
    fn start(text: &std::sync::Arc<PairEncoding>, groups: Vec<Group>, batch_groups: usize, group_size: usize) -> Result<Self> {
        let text = text.clone();
        std::thread::Builder::new()
            .name("tokenize".into())
            .spawn(move || encode_groups(&text, &groups, batch_groups, group_size))
            .map(Tokenizing)
            .map_err(|e| Error::Backend(format!("starting the tokenizing thread: {e}")))
    }

    fn finish(self) -> Result<Vec<Vec<Encoded>>> {
        self.0.join().map_err(|_| Error::Backend("the tokenizing thread panicked".into()))?
    }
}

/// The inverted-dropout mask (rows, width) before the head for micro-batch `micro` of step
/// `step` (0 with probability `dropout`, else 1 / (1 − dropout)): drawn on the host from
/// (seed, step, micro) alone, so a resumed run draws the same masks and a captured step's mask
/// is refreshed like any other input. `None` without dropout.
pub fn head_mask(config: &TrainConfig, step: usize, micro: usize, rows: usize, width: usize) -> Option<TensorData> {
    use rand::{RngExt, SeedableRng};
    let p = config.dropout;
    if p <= 0.0 {
        return None;
    }
    let seed = config.seed.wrapping_mul(1_000_003).wrapping_add(step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(micro as u64);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let keep = (1.0 / (1.0 - p)) as f32;
    let mask: Vec<f32> = (0..rows * width).map(|_| if rng.random::<f64>() < p { 0.0 } else { keep }).collect();
    Some(TensorData::new(mask, [rows, width]))
}

/// Total optimizer steps for `n` groups per epoch.
pub fn total_steps(config: &TrainConfig, n: usize) -> usize {
    config.max_steps.unwrap_or_else(|| (config.epochs * n).div_ceil(groups_per_step(config))).max(1)
}

/// Groups one optimizer step consumes (over all replicas and micro-batches).
pub fn groups_per_step(config: &TrainConfig) -> usize {
    config.batch_groups * config.grad_accum * config.devices.max(1)
}

/// Linear warmup to `lr`, then linear decay to 0 at `total`, as burn schedulers.
fn scheduler(config: &TrainConfig, total: usize) -> Result<ModuleLrScheduler> {
    let bad = |e: String| Error::Input(format!("learning-rate schedule: {e}"));
    let warm = config.warmup_steps.min(total.saturating_sub(1));
    let decay = LrSchedulerConfig::Linear(LinearLrSchedulerConfig::new(config.lr, 0.0, (total - warm).max(1)));
    if warm == 0 {
        return SequentialLrSchedulerConfig::new(vec![decay], vec![]).init().map_err(bad);
    }
    let warmup = LrSchedulerConfig::Linear(LinearLrSchedulerConfig::new(config.lr / warm as f64, config.lr, warm - 1));
    if warm == 1 {
        return SequentialLrSchedulerConfig::new(vec![decay], vec![]).init().map_err(bad);
    }
    SequentialLrSchedulerConfig::new(vec![warmup, decay], vec![warm]).init().map_err(bad)
}

/// A parameter id derived from the parameter's checkpoint name, so the optimizer state saved
/// with a checkpoint finds its parameters again after the model is reloaded.
fn stable_id(name: &str) -> ParamId {
    // FNV-1a 64
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    ParamId::from(h)
}

struct StableIds<'a> {
    names: &'a BTreeMap<ParamId, String>,
    renamed: BTreeMap<ParamId, String>,
    unnamed: usize,
}

impl ModuleMapper for StableIds<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, value, mapper) = param.consume();
        let Some(name) = self.names.get(&id) else {
            self.unnamed += 1;
            return Param::from_mapped_value(id, value, mapper);
        };
        let new = stable_id(name);
        self.renamed.insert(new, name.clone());
        Param::from_mapped_value(new, value, mapper)
    }
}

/// Every float parameter: (checkpoint name, shape, values).
struct Export<'a> {
    names: &'a BTreeMap<ParamId, String>,
    out: Vec<(String, Vec<usize>, Vec<f32>)>,
    error: Option<Error>,
}

impl ModuleVisitor for Export<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if self.error.is_some() {
            return;
        }
        let Some(name) = self.names.get(&param.id) else {
            self.error = Some(Error::Backend(format!("parameter {} has no checkpoint name", param.id)));
            return;
        };
        let t = param.val();
        let shape = t.dims().to_vec();
        match t.into_data().try_to_vec::<f32>() {
            Ok(v) => self.out.push((name.clone(), shape, v)),
            Err(e) => self.error = Some(Error::Backend(format!("reading `{name}` back: {e:?}"))),
        }
    }
}

/// The model's weights as a safetensors file (f32, or f16 for shipping small models).
pub fn weights_safetensors(ranker: &Reranker, f16: bool) -> Result<Vec<u8>> {
    let mut ex = Export { names: ranker.param_names(), out: Vec::new(), error: None };
    ranker.visit(&mut ex);
    if let Some(e) = ex.error {
        return Err(e);
    }
    let bufs: Vec<(String, Vec<usize>, Vec<u8>)> = ex
        .out
        .into_iter()
        .map(|(n, s, v)| {
            let bytes = if f16 {
                v.iter().flat_map(|x| half::f16::from_f32(*x).to_le_bytes()).collect()
            } else {
                v.iter().flat_map(|x| x.to_le_bytes()).collect()
            };
            (n, s, bytes)
        })
        .collect();
    let dtype = if f16 { safetensors::Dtype::F16 } else { safetensors::Dtype::F32 };
    let views = bufs
        .iter()
        .map(|(n, s, b)| safetensors::tensor::TensorView::new(dtype, s.clone(), b).map(|v| (n.clone(), v)))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Backend(format!("building safetensors: {e}")))?;
    let meta = std::collections::HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize(views, Some(meta)).map_err(|e| Error::Backend(format!("serializing safetensors: {e}")))
}

/// Write `ranker` as a checkpoint directory at `dir` (config and tokenizer copied from
/// `base`): built in a temporary sibling and renamed into place.
pub fn save_checkpoint(
    ranker: &Reranker,
    base: &Path,
    dir: &Path,
    f16: bool,
    extra: &dyn Fn(&Path) -> Result<()>,
) -> Result<()> {
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = (|| {
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        for f in ["config.json", "tokenizer.json"] {
            std::fs::copy(base.join(f), tmp.join(f)).map_err(|e| Error::io(&base.join(f), e))?;
        }
        write_atomic(&tmp.join("model.safetensors"), &weights_safetensors(ranker, f16)?)?;
        extra(&tmp)?;
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        std::fs::rename(&tmp, dir).map_err(|e| Error::io(dir, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// The newest checkpoint under `output` and the state saved with it (what `--resume` continues).
pub fn resume_state(output: &Path) -> Result<Option<(PathBuf, TrainerState)>> {
    let Some((_, dir)) = latest_checkpoint(output) else { return Ok(None) };
    let p = dir.join("trainer_state.json");
    let state = serde_json::from_value(crate::loader::read_json(&p)?).map_err(|e| Error::format(&p, e.to_string()))?;
    Ok(Some((dir, state)))
}

/// The `checkpoint-N` directories under `output`, oldest first (none if it does not exist).
fn checkpoints(output: &Path) -> Vec<(usize, PathBuf)> {
    let mut all: Vec<(usize, PathBuf)> = std::fs::read_dir(output)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_string_lossy().strip_prefix("checkpoint-")?.parse::<usize>().ok()?, e.path())))
        .collect();
    all.sort();
    all
}

/// The newest complete `checkpoint-N` (with its trainer_state.json) under `output`.
pub fn latest_checkpoint(output: &Path) -> Option<(usize, PathBuf)> {
    checkpoints(output).into_iter().rev().find(|(_, p)| p.join("trainer_state.json").is_file())
}

/// The optimizer step on whichever model it is: one device's gradients, or several replicas'
/// (summed by burn's `step_multi`).
struct Step<'a> {
    optim: &'a mut ModuleOptimizer,
    lr: ModuleLearningRate,
    grads: Vec<(GradientsParams, Device)>,
}

impl Step<'_> {
    fn apply<M: burn::module::Module>(&mut self, m: M) -> M {
        let mut grads = std::mem::take(&mut self.grads);
        if grads.len() == 1 {
            let (g, _) = grads.remove(0);
            self.optim.step(self.lr.clone(), m, g)
        } else {
            self.optim.step_multi(self.lr.clone(), m, MultiGradientsParams { grads })
        }
    }
}

impl ModelFn for Step<'_> {
    fn mamba(&mut self, m: MambaReranker) -> MambaReranker {
        self.apply(m)
    }
    fn bert(&mut self, m: BertReranker) -> BertReranker {
        self.apply(m)
    }
    fn neox(&mut self, m: GptNeoxReranker) -> GptNeoxReranker {
        self.apply(m)
    }
}

/// Add one micro-batch's gradients into the accumulated ones, parameter by parameter.
struct Accumulate<'a> {
    acc: &'a mut GradientsParams,
    new: GradientsParams,
}

impl ModuleVisitor for Accumulate<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.new.remove::<D>(param.id) {
            let sum = match self.acc.remove::<D>(param.id) {
                Some(a) => a + g,
                None => g,
            };
            self.acc.register::<D>(param.id, sum);
        }
    }
}

/// Everything a run needs besides the data.
pub struct Trainer {
    pub ranker: Reranker,
    pub config: TrainConfig,
    pub base: PathBuf,
    pub output: PathBuf,
    optim: ModuleOptimizer,
    sched: ModuleLrScheduler,
    pub step: usize,
    pub total: usize,
    log: std::fs::File,
    last_loss: Option<f64>,
    /// One autodiff device per data-parallel replica (the first is the model's).
    devices: Vec<Device>,
    /// The optimizer inside `optim` (shares its step scalars).
    adamw: FusedAdamW,
    /// `--graph`: where the captured step stands.
    graph: graph::GraphState,
}

impl Trainer {
    /// Load `base` onto `device` (made an autodiff device) for training; with `resume`, continue
    /// from the newest checkpoint in `output` instead (its config wins).
    pub fn new(base: &Path, output: &Path, device: Device, device_name: &str, config: TrainConfig, groups_per_epoch: usize, resume: bool) -> Result<Self> {
        let devices = vec![device; config.devices.max(1)];
        Self::on_devices(base, output, devices, device_name, config, groups_per_epoch, resume)
    }

    /// [`Trainer::new`] with one data-parallel replica per device in `devices` (the first holds
    /// the model the optimizer updates).
    pub fn on_devices(base: &Path, output: &Path, devices: Vec<Device>, device_name: &str, mut config: TrainConfig, groups_per_epoch: usize, resume: bool) -> Result<Self> {
        let counts = [
            ("--batch-groups", config.batch_groups),
            ("--grad-accum", config.grad_accum),
            ("--save-every", config.save_every),
            ("--log-every", config.log_every),
            ("--devices", devices.len()),
        ];
        if let Some((flag, _)) = counts.iter().find(|(_, n)| *n == 0) {
            return Err(Error::Input(format!("{flag} must be at least 1")));
        }
        config.devices = devices.len();
        let devices: Vec<Device> = devices.into_iter().map(|d| d.autodiff()).collect();
        let device = devices[0].clone();
        let resumed = if resume { resume_state(output)? } else { None };
        if resume && resumed.is_none() {
            return Err(Error::io(output, std::io::Error::new(std::io::ErrorKind::NotFound, "no checkpoint-N with trainer_state.json to resume from")));
        }
        if !resume && latest_checkpoint(output).is_some() {
            return Err(Error::Input(format!("{} already holds checkpoints: pass --resume to continue, or choose another --output", output.display())));
        }
        let mut state: Option<TrainerState> = None;
        let mut from = base.to_path_buf();
        if let Some((dir, s)) = &resumed {
            if s.config.devices != devices.len() {
                return Err(Error::Input(format!(
                    "{} was trained with {} data-parallel devices: resume with the same number (data order depends on it)",
                    dir.display(),
                    s.config.devices
                )));
            }
            config = s.config.clone();
            from = dir.clone();
            state = Some(s.clone());
        }
        let options = RerankerOptions { max_length: config.max_length, batch_size: config.batch_groups * config.group_size, ..Default::default() };
        let mut ranker = Reranker::load_on(&from, device.clone(), device_name, options)?;
        let names = ranker.param_names().clone();
        let mut ids = StableIds { names: &names, renamed: BTreeMap::new(), unnamed: 0 };
        ranker.map_params(&mut ids);
        if ids.unnamed > 0 {
            return Err(Error::Backend(format!("{} parameters have no checkpoint name", ids.unnamed)));
        }
        ranker.set_param_names(ids.renamed);
        if !(0.0..1.0).contains(&config.dropout) {
            return Err(Error::Input(format!("dropout {} is not in [0, 1)", config.dropout)));
        }
        match config.precision.as_str() {
            "f32" => {}
            "mixed" => {
                ranker.set_mixed_precision(true);
                if !crate::ops::matmul::coop_matmul_available(ranker.device()) {
                    ranker.prepend_warnings(vec!["--precision mixed: this device has no cooperative matrices (tensor cores through wgpu); the linear layers stay f32".into()]);
                }
            }
            other => return Err(Error::Input(format!("precision `{other}` is not one of f32, mixed"))),
        }

        if config.graph {
            let why = if !crate::ops::kernel::is_wgsl_device(&device) || crate::ops::reference_ops() {
                Some("needs --device wgpu (and RANKMAMBA_REFERENCE_OPS unset)")
            } else if devices.len() > 1 {
                Some("runs on one device")
            } else if ranker.info().architecture != "mamba" {
                Some("supports Mamba models (the attention models upload their masks and rotary tables inside the step)")
            } else {
                None
            };
            if let Some(why) = why {
                return Err(Error::Input(format!("--graph {why}")));
            }
        }
        let adamw = FusedAdamW::new(config.beta_1, config.beta_2, config.epsilon, config.weight_decay);
        let mut optim = ModuleOptimizer::from(adamw.clone());
        if let Some(c) = config.clip_norm {
            optim = optim.with_grad_clipping(GradientClippingConfig::Norm(c).init());
        }
        let total = state.as_ref().map(|s| s.total_steps).unwrap_or_else(|| total_steps(&config, groups_per_epoch));
        let mut sched = scheduler(&config, total)?;
        let step = state.as_ref().map(|s| s.step).unwrap_or(0);
        if let Some((dir, _)) = &resumed {
            let o = dir.join("optimizer.bpk");
            optim = optim.load_record(OptimizerRecord::load(&o).map_err(|e| Error::format(&o, format!("optimizer state: {e:?}")))?);
            let s = dir.join("scheduler.bpk");
            sched = sched.load_record(LrSchedulerRecord::load(&s).map_err(|e| Error::format(&s, format!("scheduler state: {e:?}")))?);
        }
        std::fs::create_dir_all(output).map_err(|e| Error::io(output, e))?;
        let log_path = output.join("log.jsonl");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path).map_err(|e| Error::io(&log_path, e))?;
        let base = state.as_ref().map(|s| s.base_model.clone()).unwrap_or_else(|| base.to_path_buf());
        Ok(Self {
            ranker,
            config,
            base,
            output: output.to_path_buf(),
            optim,
            sched,
            step,
            total,
            log,
            last_loss: state.and_then(|s| s.last_loss),
            devices,
            adamw,
            graph: graph::GraphState::Eager,
        })
    }

    /// The groups of step `step`: its slice of the endless sequence epoch 0, epoch 1, ...
    fn groups_for_step(&self, step: usize, data: &TrainData, cache: &mut (usize, Vec<Group>)) -> Vec<Group> {
        let per_step = groups_per_step(&self.config);
        (step * per_step..(step + 1) * per_step)
            .map(|k| {
                let (epoch, pos) = (k / data.len(), k % data.len());
                if cache.1.is_empty() || cache.0 != epoch {
                    *cache = (epoch, data.epoch(self.config.seed, epoch));
                }
                cache.1[pos].clone()
            })
            .collect()
    }

    /// Queue one optimizer step over the micro-batches of `batch` (batch_groups × grad_accum
    /// groups per replica): forward, backward and update, without waiting for the GPU. Returns
    /// the step's losses, still on the device ([`Self::read_loss`]), and the lr used.
    fn queue_step(&mut self, batch: &[Vec<Encoded>]) -> Result<(Vec<Tensor<1>>, f64)> {
        let lr = self.sched.step();
        let lr_value = lr.base();
        // every parameter is updated at every step: AdamW's time is the step's number
        self.adamw.prepare_step(self.ranker.device(), lr_value, self.step + 1);
        if self.config.graph {
            return Ok((self.queue_graph_step(batch, lr)?, lr_value));
        }
        let mut losses = Vec::new();
        let mut grads = Vec::with_capacity(self.devices.len());
        for (r, shard) in batch.chunks(self.config.grad_accum).enumerate() {
            // replica 0 is the model itself; the others are forked from it every step, so they
            // always hold the weights the optimizer just wrote
            let forked;
            let replica = if r == 0 {
                &self.ranker
            } else {
                forked = self.ranker.forked(&self.devices[r]);
                &forked
            };
            let uploads = self.upload_micro_batches(replica, shard, r * self.config.grad_accum, None)?;
            let g = self.replica_gradients(replica, &uploads, &mut losses);
            grads.push((g, replica.device().clone()));
        }
        let mut step = Step { optim: &mut self.optim, lr, grads };
        self.ranker.map_model(&mut step);
        Ok((losses, lr_value))
    }

    /// The micro-batches of one replica on its device (the `first`-th micro-batch of the step
    /// onwards: dropout masks are drawn per micro-batch), padded to `width` tokens if given.
    fn upload_micro_batches(&self, replica: &Reranker, shard: &[Vec<Encoded>], first: usize, width: Option<usize>) -> Result<Vec<BatchTensors>> {
        let mut uploads = Vec::with_capacity(shard.len());
        for (i, seqs) in shard.iter().enumerate() {
            let host = replica.training_batch(seqs, width)?;
            uploads.push(replica.upload(&host, head_mask(&self.config, self.step, first + i, seqs.len(), replica.pooled_width())));
        }
        Ok(uploads)
    }

    /// The pool warm-up of [`TrainConfig::warm_up`]: the first micro-batch of `batch` padded to
    /// the widest width, forward and backward, its gradients dropped. Only where it can matter:
    /// wgpu, eager steps (a `--graph` run pads every batch to that width already), a first batch
    /// narrower than that.
    fn warm_up(&self, batch: &[Vec<Encoded>]) -> Result<()> {
        let width = self.graph_width();
        let Some(seqs) = batch.first() else { return Ok(()) };
        if !self.config.warm_up || self.config.graph || !crate::ops::kernel::is_wgsl_device(self.ranker.device()) || self.ranker.training_width(seqs) >= width {
            return Ok(());
        }
        let host = self.ranker.training_batch(seqs, Some(width))?;
        // no dropout mask: the masks are drawn per step and micro-batch, and none is used here
        let upload = self.ranker.upload(&host, None);
        let scores = self.ranker.forward_tensors(&upload);
        let loss = lce_loss(scores, seqs.len() / self.config.group_size, self.config.group_size);
        drop(self.ranker.gradients(loss.backward()));
        Ok(())
    }

    /// Tokens per row of every batch of a `--graph` run (one shape to replay).
    fn graph_width(&self) -> usize {
        self.config.max_length.next_multiple_of(crate::reranker::TRAIN_PAD_MULTIPLE)
    }

    /// Tokens of one step's batches as padded (what the device computes on).
    fn padded_tokens(&self, batch: &[Vec<Encoded>]) -> usize {
        let width = |seqs: &[Encoded]| if self.config.graph { self.graph_width() } else { self.ranker.training_width(seqs) };
        batch.iter().map(|seqs| seqs.len() * width(seqs)).sum()
    }

    /// A step of a `--graph` run: two eager steps (the first compiles and autotunes, the
    /// second is the warm-up whose memory the capture reuses), then the third captured and
    /// replayed, and every later one a replay with its inputs written in place.
    fn queue_graph_step(&mut self, batch: &[Vec<Encoded>], lr: ModuleLearningRate) -> Result<Vec<Tensor<1>>> {
        let width = self.graph_width();
        if let graph::GraphState::Captured(g) = &self.graph {
            for (i, (inputs, seqs)) in g.inputs.iter().zip(batch).enumerate() {
                let host = self.ranker.training_batch(seqs, Some(width))?;
                inputs.refresh(&host, head_mask(&self.config, self.step, i, seqs.len(), self.ranker.pooled_width()))?;
            }
            g.replay()?;
            return Ok(g.losses.clone());
        }
        let uploads = self.upload_micro_batches(&self.ranker, batch, 0, Some(width))?;
        let device = self.ranker.device().clone();
        let run = |this: &mut Self| {
            let mut losses = Vec::new();
            let g = this.replica_gradients(&this.ranker, &uploads, &mut losses);
            let mut step = Step { optim: &mut this.optim, lr, grads: vec![(g, device.clone())] };
            this.ranker.map_model(&mut step);
            losses
        };
        match std::mem::replace(&mut self.graph, graph::GraphState::Eager) {
            graph::GraphState::Eager => {
                let losses = run(self);
                graph::prepare(&device)?;
                self.graph = graph::GraphState::WarmingUp;
                Ok(losses)
            }
            graph::GraphState::WarmingUp => {
                let losses = run(self);
                self.graph = graph::GraphState::Ready;
                Ok(losses)
            }
            graph::GraphState::Ready | graph::GraphState::Captured(_) => {
                let copies = self.adamw.copies();
                let inputs = uploads.iter().map(graph::StepInputs::of).collect();
                let g = graph::capture(&device, || Ok((run(self), inputs)))?;
                if self.adamw.copies() != copies {
                    return Err(Error::Backend(
                        "capturing the training step: AdamW copied a weight instead of updating it in place, so replays \
                         would not see the update; run without --graph, resuming from the last checkpoint"
                            .into(),
                    ));
                }
                let losses = g.losses.clone();
                self.graph = graph::GraphState::Captured(g);
                Ok(losses)
            }
        }
    }

    /// The summed loss of step `step` (waits for the GPU); an error if it is not finite.
    fn read_loss(losses: Vec<Tensor<1>>, step: usize) -> Result<f64> {
        let mut total = 0.0;
        for loss in losses {
            let value = loss.into_data().try_to_vec::<f32>().map_err(|e| Error::Backend(format!("{e:?}")))?[0] as f64;
            if !value.is_finite() {
                // the weights in memory took this step; the checkpoints on disk did not
                return Err(Error::Backend(format!("the loss became {value} at step {step}")));
            }
            total += value;
        }
        Ok(total)
    }

    /// The gradients of one replica's micro-batches, their losses (still on the device) pushed
    /// to `losses`; losses are scaled so that the sum over replicas and micro-batches is the
    /// mean over the step.
    fn replica_gradients(&self, replica: &Reranker, uploads: &[BatchTensors], losses: &mut Vec<Tensor<1>>) -> GradientsParams {
        let parts = (self.config.grad_accum * self.devices.len()) as f32;
        let mut grads: Option<GradientsParams> = None;
        for batch in uploads {
            let scores = replica.forward_tensors(batch);
            let n = batch.lens.len();
            let loss = lce_loss(scores, n / self.config.group_size, self.config.group_size).div_scalar(parts);
            let new = replica.gradients(loss.backward());
            losses.push(loss.detach());
            grads = Some(match grads {
                None => new,
                Some(mut acc) => {
                    replica.visit(&mut Accumulate { acc: &mut acc, new });
                    acc
                }
            });
        }
        grads.unwrap_or_default()
    }

    /// Train until `total` steps (or `stop_after`, as if interrupted there), checkpointing.
    pub fn run(&mut self, data: &TrainData, stop_after: Option<usize>, progress: &mut dyn FnMut(&StepLog)) -> Result<()> {
        let start = std::time::Instant::now();
        let seqs_per_step = (groups_per_step(&self.config) * self.config.group_size) as f64;
        let mut cache = (0, Vec::new());
        let first = self.step;
        let text = std::sync::Arc::new(self.ranker.pair_encoding());
        let (batch_groups, group_size) = (self.config.batch_groups, self.config.group_size);
        let mut next = if self.step < self.total {
            Some(encode_groups(&text, &self.groups_for_step(self.step, data, &mut cache), batch_groups, group_size)?)
        } else {
            None
        };
        // a replay of a captured step rewrites the buffers of its losses: read each before the next
        let read_every = if self.config.graph { 1 } else { self.config.log_every };
        // steps queued whose losses are not read yet
        struct Queued {
            step: usize,
            losses: Vec<Tensor<1>>,
            lr: f64,
            queue_s: f64,
            tokens: usize,
        }
        let mut unread: Vec<Queued> = Vec::new();
        if let Some(batch) = &next {
            self.warm_up(batch)?;
        }
        while let Some(batch) = next.take() {
            let step = self.step + 1;
            let last = step == self.total || stop_after == Some(step);
            // the next batch is tokenized on a worker while this step is queued and runs (an
            // error there is reported after this step is logged and checkpointed)
            let upcoming = if last { None } else { Some(Tokenizing::start(&text, self.groups_for_step(step, data, &mut cache), batch_groups, group_size)?) };
            let tokens = self.padded_tokens(&batch);
            let queued = std::time::Instant::now();
            let (losses, lr) = self.queue_step(&batch)?;
            let queue_s = queued.elapsed().as_secs_f64();
            self.step = step;
            unread.push(Queued { step, losses, lr, queue_s, tokens });
            let save = step % self.config.save_every == 0 || last;
            if save || step % read_every == 0 {
                // waits for the device; an error (a non-finite loss) comes before any checkpoint
                // of the steps after it
                let read: Vec<(Queued, f64)> = unread
                    .drain(..)
                    .map(|mut q| {
                        let loss = Self::read_loss(std::mem::take(&mut q.losses), q.step)?;
                        Ok((q, loss))
                    })
                    .collect::<Result<_>>()?;
                // the rate as of this read (the steps before it were logged late)
                let elapsed = start.elapsed().as_secs_f64();
                let rate = (step - first) as f64 * seqs_per_step / elapsed.max(1e-9);
                for (q, loss) in read {
                    self.last_loss = Some(loss);
                    let log = StepLog {
                        step: q.step,
                        epoch: (q.step * groups_per_step(&self.config)) as f64 / data.len() as f64,
                        loss,
                        lr: q.lr,
                        sequences_per_s: rate,
                        elapsed_s: elapsed,
                        queue_s: q.queue_s,
                        tokens: q.tokens,
                    };
                    let line = serde_json::to_string(&log).map_err(|e| Error::Backend(e.to_string()))?;
                    writeln!(self.log, "{line}").map_err(|e| Error::io(&self.output.join("log.jsonl"), e))?;
                    progress(&log);
                }
            }
            if save {
                self.checkpoint()?;
            }
            next = upcoming.map(Tokenizing::finish).transpose()?;
        }
        Ok(())
    }

    /// The loss of the latest step.
    pub fn last_loss(&self) -> Option<f64> {
        self.last_loss
    }

    /// `output/checkpoint-{step}` (and the newest `keep` only).
    pub fn checkpoint(&self) -> Result<PathBuf> {
        let dir = self.output.join(format!("checkpoint-{}", self.step));
        let state = TrainerState {
            step: self.step,
            total_steps: self.total,
            config: self.config.clone(),
            base_model: self.base.clone(),
            last_loss: self.last_loss,
        };
        let extra = |tmp: &Path| -> Result<()> {
            let o = tmp.join("optimizer.bpk");
            self.optim.save(&o).map_err(|e| Error::Backend(format!("{}: saving the optimizer state: {e:?}", o.display())))?;
            let s = tmp.join("scheduler.bpk");
            self.sched.to_record().save(&s).map_err(|e| Error::Backend(format!("{}: saving the scheduler state: {e:?}", s.display())))?;
            let json = serde_json::to_vec_pretty(&state).map_err(|e| Error::Backend(e.to_string()))?;
            write_atomic(&tmp.join("trainer_state.json"), &json)
        };
        save_checkpoint(&self.ranker, &self.base, &dir, false, &extra)?;
        // prune old checkpoints
        let mut all = checkpoints(&self.output);
        while all.len() > self.config.keep.max(1) {
            let (_, old) = all.remove(0);
            let _ = std::fs::remove_dir_all(old);
        }
        Ok(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Several tokenizing threads give the same micro-batches as one, in order.
    #[test]
    fn threads_tokenize_as_one_does() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-hf");
        let text = Reranker::load(&dir, crate::device::DeviceChoice::Cpu).unwrap().pair_encoding();
        let groups: Vec<Group> = (0..5)
            .map(|g| Group { query: format!("query {g}"), docs: (0..3).map(|d| format!("document {d} of group {g}{}", " word".repeat(d * 7 + g))).collect() })
            .collect();
        let one = encode_groups_on(&text, &groups, 2, 3, 1).unwrap();
        assert_eq!(one.iter().map(Vec::len).collect::<Vec<_>>(), [6, 6, 3]);
        for workers in [2, 4, 16] {
            assert_eq!(encode_groups_on(&text, &groups, 2, 3, workers).unwrap(), one, "{workers} threads");
        }
        let short = vec![Group { query: "q".into(), docs: vec!["d".into()] }];
        let err = encode_groups_on(&text, &short, 2, 3, 4).unwrap_err().to_string();
        assert!(err.contains("a group has 1 documents, expected 3"), "{err}");
    }

    /// A count knob's bad value names the variable; an unset one is none.
    #[test]
    fn count_knobs_name_the_variable() {
        assert_eq!(parse_count("RANKMAMBA_TOKENIZE_THREADS", Some("4")).unwrap(), Some(4));
        assert_eq!(parse_count("RANKMAMBA_TOKENIZE_THREADS", None).unwrap(), None);
        let err = parse_count("RANKMAMBA_TOKENIZE_THREADS", Some("eight")).unwrap_err().to_string();
        assert!(err.contains("RANKMAMBA_TOKENIZE_THREADS: expected a whole number, got \"eight\""), "{err}");
    }
}
