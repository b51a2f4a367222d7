//! The `rankmamba` command line (native only): score and rerank with Mamba rerankers, convert
//! PyTorch checkpoints. Results go to stdout (JSON lines); progress and warnings to stderr.

use crate::loader::pytorch;
use crate::{DeviceChoice, Error, Mode, Reranker, RerankerOptions, Result};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "rankmamba",
    version,
    about = "Document reranking with Mamba (selective state-space) models and their attention baselines (BERT-family cross-encoders, GPT-NeoX)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fine-tune a checkpoint with the RankMamba recipe (same as the `train` binary).
    Train(TrainArgs),
    /// Score (query, document) pairs from a JSONL file; prints {"score": ..} per line, same order.
    Score {
        #[command(flatten)]
        model: ModelArgs,
        /// JSONL file, one {"query": "...", "document": "..."} per line ("-" for stdin).
        #[arg(long)]
        input: PathBuf,
    },
    /// Rerank documents for one query; prints {"rank", "index", "id", "score"} per line, best first.
    Rerank {
        #[command(flatten)]
        model: ModelArgs,
        /// The query text.
        #[arg(long)]
        query: String,
        /// Documents: JSONL with {"id": .., "text": ".."} per line, or plain text, one per line.
        #[arg(long)]
        docs: PathBuf,
        /// Keep only the best N.
        #[arg(long)]
        top_k: Option<usize>,
        /// Output format.
        #[arg(long, default_value = "jsonl", value_parser = ["jsonl", "table"])]
        format: String,
    },
    /// Evaluate a TREC run against qrels (trec_eval semantics); prints one JSON object with
    /// queries, MRR@10, MRR@100, NDCG@10, Recall@100 and MAP. With --model, --queries and
    /// --collection the run's top-k of each query is reranked first, written to --output as a
    /// TREC run, and that run is evaluated.
    Eval {
        /// Relevance judgments: `qid 0 docid label` per line.
        #[arg(long)]
        qrels: PathBuf,
        /// Run: `qid Q0 docid rank score tag` per line (or `qid docid rank score`).
        #[arg(long)]
        run: PathBuf,
        /// Average over every query of the qrels, scoring missing ones 0 (trec_eval -c).
        #[arg(short = 'c', long)]
        complete: bool,
        /// Drop run documents that have no judgment before computing.
        #[arg(long)]
        judged_only: bool,
        /// Rerank with this model first (needs --queries, --collection, --output).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Queries: `qid \t query` per line.
        #[arg(long)]
        queries: Option<PathBuf>,
        /// Documents: `docid \t text` per line (further tabs are part of the text).
        #[arg(long)]
        collection: Option<PathBuf>,
        /// Where to write the reranked TREC run (written atomically).
        #[arg(long)]
        output: Option<PathBuf>,
        /// Candidates per query taken from the run.
        #[arg(long, default_value_t = 100)]
        top_k: usize,
        #[command(flatten)]
        run_args: RunArgs,
    },
    /// Convert a PyTorch checkpoint (pytorch_model.bin, zip pickle) to model.safetensors.
    /// The pickle is read by a restricted parser: no pickle code is executed.
    Convert {
        /// A pytorch_model.bin (or .pt) file, or a directory holding pytorch_model.bin.
        #[arg(long)]
        input: PathBuf,
        /// Output directory (Hugging Face layout); config.json and tokenizer files beside the
        /// input are copied along.
        #[arg(long)]
        output: PathBuf,
        /// Replace an existing model.safetensors.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Args)]
struct ModelArgs {
    /// Checkpoint directory: config.json, model.safetensors (or its shard index), tokenizer.json.
    /// The architecture (mamba, bert, electra, gpt_neox) comes from config.json's model_type.
    #[arg(long)]
    model: PathBuf,
    #[command(flatten)]
    run: RunArgs,
}

/// How a model runs.
#[derive(Args)]
struct RunArgs {
    /// Where to run: cpu (burn's Rust CPU backend) or wgpu (Vulkan).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Maximum sequence length; Mamba documents keep max_length - 50 tokens, BERT pairs are
    /// truncated longest-first.
    #[arg(long, default_value_t = 512)]
    max_length: usize,
    /// Sequences per forward pass.
    #[arg(long, default_value_t = 16)]
    batch_size: usize,
    /// `exact` (default: scores independent of the batch) or `rankmamba-v1` (reproduce the
    /// released code: for Mamba the evaluation template — "[query]" prefix, 718-token documents,
    /// left padding with id 0 — for BERT encoders "[query]q[SEP][passage]d" as one sequence).
    #[arg(long, default_value = "exact")]
    compat: String,
}

impl ModelArgs {
    fn load(&self) -> Result<Reranker> {
        let r = &self.run;
        let device: DeviceChoice = r.device.parse()?;
        let options = RerankerOptions { max_length: r.max_length, batch_size: r.batch_size, mode: r.compat.parse::<Mode>()? };
        let ranker = Reranker::load_with(&self.model, device, options)?;
        for w in ranker.warnings() {
            eprintln!("warning: {w}");
        }
        Ok(ranker)
    }
}

/// Parse the process arguments and run; the exit code says whether it worked.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Train(args) => train(args),
        Command::Score { model, input } => {
            let pairs = read_pairs(&input)?;
            let ranker = model.load()?;
            let refs: Vec<(&str, &str)> = pairs.iter().map(|(q, d)| (q.as_str(), d.as_str())).collect();
            let bar = progress(refs.len());
            let scores = ranker.score_pairs(&refs, &mut |n| bar.set_position(n as u64))?;
            bar.finish_and_clear();
            let mut out = std::io::stdout().lock();
            for s in scores {
                writeln!(out, "{}", json!({ "score": s })).map_err(stdout_err)?;
            }
            Ok(())
        }
        Command::Rerank { model, query, docs, top_k, format } => {
            if query.trim().is_empty() {
                return Err(Error::Input("--query is empty".into()));
            }
            let docs = read_docs(&docs)?;
            let ranker = model.load()?;
            let texts: Vec<&str> = docs.iter().map(|(_, t)| t.as_str()).collect();
            let pairs: Vec<(&str, &str)> = texts.iter().map(|d| (query.as_str(), *d)).collect();
            let bar = progress(pairs.len());
            let scores = ranker.score_pairs(&pairs, &mut |n| bar.set_position(n as u64))?;
            bar.finish_and_clear();
            let ranked = crate::rank_scores(&scores, top_k);
            let mut out = std::io::stdout().lock();
            if format == "table" {
                let id_of = |v: &Value| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let w = ranked.iter().map(|x| id_of(&docs[x.index].0).chars().count()).max().unwrap_or(2).max(2);
                writeln!(out, "{:>4}  {:>5}  {:>10}  {:<w$}  text", "rank", "index", "score", "id").map_err(stdout_err)?;
                for (r, x) in ranked.iter().enumerate() {
                    let (id, text) = &docs[x.index];
                    writeln!(out, "{:>4}  {:>5}  {:>10.5}  {:<w$}  {}", r + 1, x.index, x.score, id_of(id), preview(text, 60)).map_err(stdout_err)?;
                }
            } else {
                for (r, x) in ranked.iter().enumerate() {
                    let line = json!({"rank": r + 1, "index": x.index, "id": docs[x.index].0, "score": x.score});
                    writeln!(out, "{line}").map_err(stdout_err)?;
                }
            }
            Ok(())
        }
        Command::Eval { qrels, run, complete, judged_only, model, queries, collection, output, top_k, run_args } => {
            let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| Error::io(p, e));
            let q = crate::eval::parse_qrels(&qrels, &read(&qrels)?)?;
            let mut r = crate::eval::parse_run(&run, &read(&run)?)?;
            if let Some(model) = model {
                let need = |v: Option<PathBuf>, flag: &str| v.ok_or_else(|| Error::Input(format!("--model needs {flag}")));
                let (queries, collection, output) = (need(queries, "--queries")?, need(collection, "--collection")?, need(output, "--output")?);
                let args = ModelArgs { model, run: run_args };
                r = rerank_run(&args.load()?, &r, &queries, &collection, &output, top_k)?;
            }
            let m = crate::eval::evaluate(&q, &r, complete, judged_only);
            println!("{}", serde_json::to_string(&m).expect("metrics serialize"));
            Ok(())
        }
        Command::Convert { input, output, force } => {
            let report = pytorch::convert(&input, &output, force)?;
            for w in &report.warnings {
                eprintln!("warning: {w}");
            }
            eprintln!(
                "wrote {} ({} tensors, {} bytes); copied: {}",
                report.output.display(),
                report.tensors,
                report.bytes,
                if report.copied.is_empty() { "nothing".to_string() } else { report.copied.join(", ") }
            );
            Ok(())
        }
    }
}

/// `train`: fine-tune any checkpoint `rankmamba` loads (Mamba, BERT-family, GPT-NeoX) with
/// RankMamba's recipe — LCE over groups (positive first), AdamW, linear warmup and decay.
#[derive(Parser)]
#[command(name = "train", version)]
pub struct TrainArgs {
    /// Checkpoint to start from (config.json, model.safetensors, tokenizer.json).
    #[arg(long)]
    model: PathBuf,
    /// Run directory: checkpoint-N/ (loadable checkpoints with optimizer state), final/, log.jsonl.
    #[arg(long)]
    output: PathBuf,
    /// LCE group file: `qid<TAB>positive_id<TAB>negative_id…` per line (needs --queries, --collection).
    #[arg(long, group = "data")]
    groups: Option<PathBuf>,
    /// TREC qrels: groups are sampled per query and epoch, positives from here, negatives from
    /// the top-k of --run (needs --run, --queries, --collection).
    #[arg(long, group = "data")]
    qrels: Option<PathBuf>,
    /// Text triples: `query<TAB>positive<TAB>negative` per line (groups of two).
    #[arg(long, group = "data")]
    triples: Option<PathBuf>,
    /// First-stage TREC run (with --qrels).
    #[arg(long)]
    run: Option<PathBuf>,
    /// Negatives come from the run's top this-many (with --qrels).
    #[arg(long, default_value_t = 100)]
    top_k: usize,
    /// queries.tsv: `qid<TAB>text`.
    #[arg(long)]
    queries: Option<PathBuf>,
    /// collection.tsv: `id<TAB>text`.
    #[arg(long)]
    collection: Option<PathBuf>,
    /// Where to train: cpu or wgpu (Vulkan).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Documents per LCE group (one positive, the rest negatives).
    #[arg(long, default_value_t = 8)]
    group_size: usize,
    /// Groups per batch (8 × 8 = 64 sequences).
    #[arg(long, default_value_t = 8)]
    batch_groups: usize,
    /// Batches per optimizer step.
    #[arg(long, default_value_t = 1)]
    grad_accum: usize,
    /// Data-parallel replicas, each taking --batch-groups × --grad-accum groups of every step;
    /// their gradients are summed by burn's multi-device optimizer step. On the CPU the replicas
    /// share burn's one CPU device (the code path, not a speed-up); several GPUs are not
    /// supported yet.
    #[arg(long, default_value_t = 1)]
    devices: usize,
    /// f32, or mixed: f16 inputs with f32 accumulation on tensor cores for the linear layers
    /// (Mamba: the projections) where wgpu offers cooperative matrices (e.g. NVIDIA on Vulkan)
    /// and padding the shapes to the kernel's blocks costs at most 3×; weights, gradients and
    /// optimizer state stay f32. Elsewhere mixed runs f32 and says so.
    #[arg(long, default_value = "f32", value_parser = ["f32", "mixed"])]
    precision: String,
    /// Capture one training step and replay it for the rest of the run (wgpu, Mamba models,
    /// one device): launching each of a step's thousands of kernels costs host time, a replay
    /// re-encodes the recorded dispatches. Every batch is padded to --max-length tokens (one
    /// shape to replay), so it pays off when most batches are near it.
    #[arg(long)]
    graph: bool,
    /// Peak learning rate (AdamW, betas 0.9/0.999, eps 1e-8).
    #[arg(long, default_value_t = 2e-5)]
    lr: f64,
    /// AdamW's decoupled weight decay.
    #[arg(long, default_value_t = 0.01)]
    weight_decay: f32,
    /// Linear warmup steps, then linear decay to 0.
    #[arg(long, default_value_t = 1000)]
    warmup_steps: usize,
    /// Passes over the training groups (when --max-steps is not given).
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    /// Optimizer steps (overrides --epochs).
    #[arg(long)]
    max_steps: Option<usize>,
    /// Dropout before the head.
    #[arg(long, default_value_t = 0.1)]
    dropout: f64,
    /// Clip the gradients' global norm to this.
    #[arg(long)]
    clip_norm: Option<f32>,
    /// Seed of the data order, negative sampling and dropout (a resumed run repeats them).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Maximum tokens per (query, document) sequence, as for scoring.
    #[arg(long, default_value_t = 512)]
    max_length: usize,
    /// Checkpoint every N steps (and at the end).
    #[arg(long, default_value_t = 1000)]
    save_every: usize,
    /// Checkpoints to keep.
    #[arg(long, default_value_t = 3)]
    keep: usize,
    /// Read the loss back (log line, progress bar, the check for a non-finite loss) every N steps
    /// and at checkpoints: each read waits for the GPU to finish the queued work, so in between
    /// the next steps are queued while it runs.
    #[arg(long, default_value_t = 10)]
    log_every: usize,
    /// Skip the warm-up on wgpu: one forward and backward at --max-length before the first step,
    /// its gradients dropped, so the GPU memory pool is sized for the widest batch up front
    /// (without it, the first batch wider than all before it stalls for about a second).
    #[arg(long)]
    no_warm_up: bool,
    /// Continue from the newest checkpoint in --output (its settings win).
    #[arg(long)]
    resume: bool,
    /// Stop after step N as if interrupted (checkpointing first); for testing --resume.
    #[arg(long, hide = true)]
    stop_after: Option<usize>,
    /// dtype of the final model in output/final: f32 or f16 (smaller, for shipping).
    #[arg(long, default_value = "f32", value_parser = ["f32", "f16"])]
    final_dtype: String,
}

/// The `train` binary.
pub fn train_main() -> ExitCode {
    match train(TrainArgs::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn train(a: TrainArgs) -> Result<()> {
    use crate::train::{DataSpec, TrainConfig, TrainData, Trainer};
    let need = |v: &Option<PathBuf>, flag: &str, with: &str| v.clone().ok_or_else(|| Error::Input(format!("{with} needs {flag}")));
    let spec = match (&a.groups, &a.qrels, &a.triples) {
        (Some(g), None, None) => DataSpec::Groups {
            groups: g.clone(),
            queries: need(&a.queries, "--queries", "--groups")?,
            collection: need(&a.collection, "--collection", "--groups")?,
        },
        (None, Some(q), None) => DataSpec::QrelsRun {
            qrels: q.clone(),
            run: need(&a.run, "--run", "--qrels")?,
            queries: need(&a.queries, "--queries", "--qrels")?,
            collection: need(&a.collection, "--collection", "--qrels")?,
            top_k: a.top_k,
        },
        (None, None, Some(t)) => DataSpec::Triples { triples: t.clone() },
        _ => return Err(Error::Input("give the training data: --groups, --qrels (with --run) or --triples".into())),
    };
    let config = TrainConfig {
        group_size: a.group_size,
        batch_groups: a.batch_groups,
        grad_accum: a.grad_accum,
        lr: a.lr,
        weight_decay: a.weight_decay,
        warmup_steps: a.warmup_steps,
        epochs: a.epochs,
        max_steps: a.max_steps,
        dropout: a.dropout,
        clip_norm: a.clip_norm,
        seed: a.seed,
        max_length: a.max_length,
        save_every: a.save_every,
        keep: a.keep,
        devices: a.devices,
        precision: a.precision.clone(),
        graph: a.graph,
        log_every: a.log_every,
        warm_up: !a.no_warm_up,
        ..TrainConfig::default()
    };
    // a resumed run keeps the settings it was started with
    let config = match a.resume.then(|| crate::train::resume_state(&a.output)).transpose()?.flatten() {
        Some((_, state)) => state.config,
        None => config,
    };
    let device: DeviceChoice = a.device.parse()?;
    if config.devices > 1 && device != DeviceChoice::Cpu {
        return Err(Error::Input("--devices > 1 runs CPU replicas only for now: data-parallel training over several GPUs is not available yet".into()));
    }
    let data = TrainData::load(&spec, config.group_size)?;
    eprintln!("data: {} groups of {} per epoch", data.len(), data.group_size);
    let mut trainer = Trainer::new(&a.model, &a.output, device.device()?, &device.to_string(), config, data.len(), a.resume)?;
    for w in trainer.ranker.warnings() {
        eprintln!("warning: {w}");
    }
    if a.resume {
        eprintln!("resuming at step {} of {}", trainer.step, trainer.total);
    }
    let bar = ProgressBar::new(trainer.total as u64).with_position(trainer.step as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}  [{elapsed_precise} < {eta_precise}]")
            .expect("valid template"),
    );
    #[cfg(feature = "host-profile")]
    let mut host_profile = crate::train::host_profile::HostProfile::from_env()?;
    #[cfg(not(feature = "host-profile"))]
    if std::env::var_os("RANKMAMBA_HOST_PROFILE").is_some() {
        eprintln!("warning: RANKMAMBA_HOST_PROFILE is set, but this `train` was built without the host-profile feature: no profile");
    }
    #[cfg(feature = "host-profile")]
    let mut profile_error = None;
    trainer.run(&data, a.stop_after, &mut |log| {
        bar.set_position(log.step as u64);
        bar.set_message(format!("loss {:.4}  lr {:.2e}  {:.1} seq/s", log.loss, log.lr, log.sequences_per_s));
        #[cfg(feature = "host-profile")]
        if let Some(Err(e)) = host_profile.as_mut().map(|p| p.logged(log.step)) {
            profile_error.get_or_insert(e);
        }
    })?;
    bar.finish();
    #[cfg(feature = "host-profile")]
    if let Some(e) = profile_error {
        return Err(e);
    }
    #[cfg(feature = "host-profile")]
    if let Some(p) = host_profile {
        let (path, samples) = p.finish()?;
        eprintln!("host profile: {samples} samples in {}", path.display());
    }
    if trainer.step == trainer.total {
        let dir = a.output.join("final");
        crate::train::save_checkpoint(&trainer.ranker, &trainer.base, &dir, a.final_dtype == "f16", &|_| Ok(()))?;
        eprintln!("wrote {} (step {}, last loss {:.4})", dir.display(), trainer.step, trainer.last_loss().unwrap_or(f64::NAN));
    } else {
        eprintln!("stopped at step {} of {}: continue with --resume", trainer.step, trainer.total);
    }
    Ok(())
}

/// Rerank the top `top_k` (by the run's score) of every query, write the new run to `output`
/// (`qid Q0 docid rank score rankmamba`), and return it.
fn rerank_run(ranker: &Reranker, run: &crate::eval::Run, queries: &Path, collection: &Path, output: &Path, top_k: usize) -> Result<crate::eval::Run> {
    let mut cands: Vec<(&String, Vec<&String>)> = Vec::new();
    for (qid, docs) in run {
        let mut d: Vec<&(String, f64)> = docs.iter().collect();
        d.sort_by(|a, b| crate::eval::trec_cmp(a, b));
        cands.push((qid, d.into_iter().take(top_k).map(|(id, _)| id).collect()));
    }
    let wanted: std::collections::HashSet<String> = cands.iter().flat_map(|(_, d)| d.iter().map(|s| s.to_string())).collect();
    let texts = crate::eval::read_id_texts(collection, Some(&wanted))?;
    let qtexts = crate::eval::read_id_texts(queries, None)?;
    let bar = progress(cands.len());
    let mut out = crate::eval::Run::new();
    let mut lines = String::new();
    for (n, (qid, docs)) in cands.iter().enumerate() {
        let query = qtexts.get(*qid).ok_or_else(|| Error::format(queries, format!("no query `{qid}` (it is in the run)")))?;
        let doc_texts = docs
            .iter()
            .map(|d| texts.get(*d).map(String::as_str).ok_or_else(|| Error::format(collection, format!("no document `{d}` (query `{qid}` of the run lists it)"))))
            .collect::<Result<Vec<&str>>>()?;
        let ranked = ranker.rank(query, &doc_texts, None)?;
        let entry = out.entry(qid.to_string()).or_default();
        for (rank, x) in ranked.iter().enumerate() {
            lines.push_str(&format!("{qid} Q0 {} {} {} rankmamba\n", docs[x.index], rank + 1, x.score));
            entry.push((docs[x.index].clone(), x.score as f64));
        }
        bar.set_position(n as u64 + 1);
    }
    bar.finish_and_clear();
    crate::loader::write_atomic(output, lines.as_bytes())?;
    Ok(out)
}

fn stdout_err(e: std::io::Error) -> Error {
    Error::io(Path::new("<stdout>"), e)
}

fn progress(n: usize) -> ProgressBar {
    let bar = ProgressBar::new(n as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} scoring {pos}/{len} [{elapsed_precise}] {bar:30} {per_sec} eta {eta}")
            .expect("static template"),
    );
    bar
}

fn preview(s: &str, n: usize) -> String {
    let flat: String = s.chars().map(|c| if c.is_whitespace() { ' ' } else { c }).collect();
    if flat.chars().count() <= n { flat } else { format!("{}…", flat.chars().take(n).collect::<String>()) }
}

fn open_lines(path: &Path) -> Result<Box<dyn BufRead>> {
    if path == Path::new("-") {
        return Ok(Box::new(BufReader::new(std::io::stdin())));
    }
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    Ok(Box::new(BufReader::new(f)))
}

fn line_err(path: &Path, line: usize, msg: impl Into<String>) -> Error {
    Error::Line { path: path.to_path_buf(), line, msg: msg.into() }
}

/// `{"query": .., "document": ..}` per line; blank lines are skipped, everything else must parse.
fn read_pairs(path: &Path) -> Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for (i, line) in open_lines(path)?.lines().enumerate() {
        let line = line.map_err(|e| Error::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(&line).map_err(|e| line_err(path, i + 1, format!("invalid JSON: {e}")))?;
        let field = |k: &str| -> Result<String> {
            match v.get(k) {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(other) => Err(line_err(path, i + 1, format!("`{k}` must be a string, found {other}"))),
                None => Err(line_err(path, i + 1, format!("missing field `{k}` (expected {{\"query\": ..., \"document\": ...}})"))),
            }
        };
        let (q, d) = (field("query")?, field("document")?);
        if q.trim().is_empty() {
            return Err(line_err(path, i + 1, "the query is empty"));
        }
        pairs.push((q, d));
    }
    Ok(pairs)
}

/// JSONL `{"id", "text"}` if the first non-blank line is a JSON object, else one document per line.
fn read_docs(path: &Path) -> Result<Vec<(Value, String)>> {
    let lines: Vec<String> = open_lines(path)?.lines().collect::<std::io::Result<_>>().map_err(|e| Error::io(path, e))?;
    let jsonl = lines
        .iter()
        .find(|l| !l.trim().is_empty())
        .map(|l| matches!(serde_json::from_str::<Value>(l), Ok(Value::Object(_))))
        .unwrap_or(false);
    let mut docs = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if jsonl {
            let v: Value = serde_json::from_str(line).map_err(|e| line_err(path, i + 1, format!("invalid JSON: {e}")))?;
            let text = match v.get("text") {
                Some(Value::String(s)) => s.clone(),
                _ => return Err(line_err(path, i + 1, "missing string field `text` (expected {\"id\": ..., \"text\": ...})")),
            };
            let id = v.get("id").cloned().unwrap_or(json!(docs.len()));
            docs.push((id, text));
        } else {
            docs.push((json!(docs.len()), line.clone()));
        }
    }
    Ok(docs)
}
