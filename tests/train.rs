//! Training end to end on the CPU: a tiny Mamba learns a synthetic ranking task (loss falls,
//! held-out MRR beats random), an interrupted run resumes to the same weights bit for bit, a
//! trained BERT saves and reloads to the same scores, and the gradients of the whole Mamba and
//! BERT models equal finite differences of the LCE loss.

mod common;
use burn::module::{ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::{Device, Tensor, TensorData};
use common::*;
use rankmamba::reranker::Encoded;
use rankmamba::train::{lce_loss, weights_safetensors, DataSpec, TrainConfig, TrainData, Trainer};
use rankmamba::{DeviceChoice, Reranker, RerankerOptions};
use std::collections::BTreeMap;
use std::path::Path;

const TOPICS: [&str; 12] = ["apple", "river", "engine", "violin", "comet", "tiger", "castle", "pepper", "glacier", "robot", "tulip", "falcon"];

/// splitmix64, so the data does not depend on a crate's RNG
fn rng(mut s: u64) -> impl FnMut(usize) -> usize {
    move |n| {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}

fn relevant(topic: &str, k: usize) -> String {
    format!("A {topic} is described in note {k} because the {topic} matters here.")
}
fn other(topic: &str, k: usize) -> String {
    format!("A {topic} appears in note {k} and the {topic} is common.")
}

/// queries.tsv, collection.tsv and an LCE group file (`qid pos neg…`) of `n` groups of `g`.
fn write_groups(dir: &Path, n: usize, g: usize, seed: u64) -> DataSpec {
    let mut r = rng(seed);
    let (mut queries, mut collection, mut groups) = (String::new(), String::new(), String::new());
    for q in 0..n {
        let t = TOPICS[r(TOPICS.len())];
        queries.push_str(&format!("q{q}\twhat is a {t}?\n"));
        collection.push_str(&format!("p{q}\t{}\n", relevant(t, q)));
        let mut line = format!("q{q}\tp{q}");
        for j in 1..g {
            let o = TOPICS[(TOPICS.iter().position(|x| *x == t).unwrap() + 1 + r(TOPICS.len() - 1)) % TOPICS.len()];
            collection.push_str(&format!("n{q}_{j}\t{}\n", other(o, q * 10 + j)));
            line.push_str(&format!("\tn{q}_{j}"));
        }
        groups.push_str(&line);
        groups.push('\n');
    }
    let p = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    DataSpec::Groups { queries: p("queries.tsv", &queries), collection: p("collection.tsv", &collection), groups: p("groups.tsv", &groups) }
}

fn cpu() -> Device {
    DeviceChoice::Cpu.device().unwrap()
}

/// Training runs take turns (each would fill this machine's cores, and the wgpu runs share one
/// device).
static TRAINING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    TRAINING.lock().unwrap_or_else(|e| e.into_inner())
}

fn small_config(max_steps: usize) -> TrainConfig {
    TrainConfig {
        group_size: 4,
        batch_groups: 4,
        lr: 5e-3,
        warmup_steps: 10,
        max_steps: Some(max_steps),
        max_length: 128,
        save_every: 50,
        seed: 7,
        ..TrainConfig::default()
    }
}

#[test]
fn a_tiny_mamba_learns_to_rank_and_beats_random_on_held_out_queries() {
    let _turn = one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_groups(tmp.path(), 300, 4, 1);
    let config = small_config(150);
    let data = TrainData::load(&spec, config.group_size).unwrap();
    let out = tmp.path().join("run");
    let mut t = Trainer::new(&fixtures().join("tiny-hf"), &out, cpu(), "cpu", config, data.len(), false).unwrap();
    let mut losses = Vec::new();
    t.run(&data, None, &mut |log| losses.push(log.loss)).unwrap();
    assert_eq!(losses.len(), 150);
    let first: f64 = losses[..10].iter().sum::<f64>() / 10.0;
    let last: f64 = losses[140..].iter().sum::<f64>() / 10.0;
    assert!(last < 0.5 * first, "loss did not fall: first 10 steps {first:.3}, last 10 {last:.3}");

    // held-out: new notes, one relevant among 10 candidates; the saved checkpoint reranks
    let ckpt = out.join("checkpoint-150");
    assert!(ckpt.join("optimizer.bpk").is_file() && ckpt.join("trainer_state.json").is_file());
    let ranker = Reranker::load(&ckpt, DeviceChoice::Cpu).unwrap();
    let mut r = rng(99);
    let mut mrr = 0.0;
    let queries = 40;
    for q in 0..queries {
        let t = TOPICS[r(TOPICS.len())];
        let pos = r(10);
        let docs: Vec<String> = (0..10)
            .map(|k| if k == pos { relevant(t, 5000 + q * 10 + k) } else { other(TOPICS[(TOPICS.iter().position(|x| *x == t).unwrap() + 1 + r(11)) % 12], 5000 + q * 10 + k) })
            .collect();
        let ranked = ranker.rank(&format!("what is a {t}?"), &docs, None).unwrap();
        let rank = ranked.iter().position(|x| x.index == pos).unwrap() + 1;
        mrr += 1.0 / rank as f64;
    }
    mrr /= queries as f64;
    eprintln!("loss: first 10 steps {first:.3}, last 10 {last:.3}; held-out MRR@10 {mrr:.3} (random 0.293)");
    // random order: E[1/rank] over 10 candidates = 0.293
    assert!(mrr > 0.6, "held-out MRR {mrr:.3} (random: 0.293)");
}

#[test]
fn a_resumed_run_ends_with_the_same_weights_bit_for_bit() {
    let _turn = one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_groups(tmp.path(), 40, 4, 2);
    // losses read every 3 steps and at the checkpoints (5, 10) and the interruption (7)
    let config = TrainConfig { max_steps: Some(12), save_every: 5, log_every: 3, dropout: 0.1, grad_accum: 2, batch_groups: 2, ..small_config(12) };
    let data = TrainData::load(&spec, 4).unwrap();
    let base = fixtures().join("tiny-hf");

    let mut whole = Trainer::new(&base, &tmp.path().join("a"), cpu(), "cpu", config.clone(), data.len(), false).unwrap();
    let (mut la, mut steps, mut tokens) = (Vec::new(), Vec::new(), Vec::new());
    whole.run(&data, None, &mut |l| {
        la.push(l.loss);
        steps.push(l.step);
        tokens.push(l.tokens);
    })
    .unwrap();
    assert_eq!(steps, (1..=12).collect::<Vec<_>>(), "one log line per step, in order, however seldom the losses are read");
    // 2 micro-batches of 8 sequences a step, each padded to a multiple of 8 tokens, at most 128
    assert!(tokens.iter().all(|&t| t > 0 && t % 64 == 0 && t <= 16 * 128), "padded tokens per step: {tokens:?}");

    let out = tmp.path().join("b");
    let mut first = Trainer::new(&base, &out, cpu(), "cpu", config.clone(), data.len(), false).unwrap();
    let mut lb = Vec::new();
    first.run(&data, Some(7), &mut |l| lb.push(l.loss)).unwrap();
    drop(first);
    let err = Trainer::new(&base, &out, cpu(), "cpu", config.clone(), data.len(), false).err().unwrap().to_string();
    assert!(err.contains("already holds checkpoints"), "{err}");
    let mut second = Trainer::new(&base, &out, cpu(), "cpu", config, data.len(), true).unwrap();
    assert_eq!(second.step, 7);
    second.run(&data, None, &mut |l| lb.push(l.loss)).unwrap();

    assert_eq!(la, lb, "losses of the uninterrupted and the resumed run");
    assert!(weights_safetensors(&whole.ranker, false).unwrap() == weights_safetensors(&second.ranker, false).unwrap(), "weights differ");
}

#[test]
fn a_trained_bert_saves_and_reloads_to_the_same_scores() {
    let _turn = one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_groups(tmp.path(), 16, 4, 3);
    // mixed precision on a device without tensor cores: the same f32 training, and a warning
    let config = TrainConfig { dropout: 0.0, max_length: 64, precision: "mixed".into(), ..small_config(4) };
    let data = TrainData::load(&spec, 4).unwrap();
    let out = tmp.path().join("run");
    let mut t = Trainer::new(&fixtures().join("tiny-bert"), &out, cpu(), "cpu", config, data.len(), false).unwrap();
    assert!(t.ranker.warnings().iter().any(|w| w.contains("--precision mixed: this device has no cooperative matrices")), "{:?}", t.ranker.warnings());
    let before = t.ranker.score("what is a comet?", &["A comet is here.", "A tiger is there."]).unwrap();
    t.run(&data, None, &mut |_| {}).unwrap();
    let trained = t.ranker.score("what is a comet?", &["A comet is here.", "A tiger is there."]).unwrap();
    assert_ne!(before, trained, "training changed nothing");
    let opts = RerankerOptions { max_length: 64, ..Default::default() };
    let reloaded = Reranker::load_with(out.join("checkpoint-4"), DeviceChoice::Cpu, opts).unwrap();
    assert!(reloaded.warnings().is_empty(), "{:?}", reloaded.warnings());
    let again = reloaded.score("what is a comet?", &["A comet is here.", "A tiger is there."]).unwrap();
    for (a, b) in trained.iter().zip(&again) {
        assert!((a - b).abs() <= 1e-5, "{trained:?} vs {again:?}");
    }
}

/// One parameter's values by checkpoint name.
struct Get<'a> {
    names: &'a BTreeMap<ParamId, String>,
    grads: Option<&'a burn::optim::GradientsParams>,
    want: &'a str,
    out: Option<Vec<f32>>,
}
impl ModuleVisitor for Get<'_> {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        if self.names.get(&p.id).map(String::as_str) == Some(self.want) {
            let t = match self.grads {
                Some(g) => g.get::<D>(p.id).expect("a gradient"),
                None => p.val(),
            };
            self.out = Some(t.into_data().try_to_vec::<f32>().unwrap());
        }
    }
}

/// Add `eps · v` to one parameter.
struct Nudge<'a> {
    names: &'a BTreeMap<ParamId, String>,
    want: &'a str,
    v: &'a [f32],
    eps: f32,
}
impl ModuleMapper for Nudge<'_> {
    fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if self.names.get(&p.id).map(String::as_str) != Some(self.want) {
            return p;
        }
        let (v, eps) = (self.v.to_vec(), self.eps);
        p.map(|t| {
            let shape = t.shape();
            let dev = t.device();
            t + Tensor::<D>::from_data(TensorData::new(v, shape), &dev).mul_scalar(eps)
        })
    }
}

/// The training forward pads its batch to a multiple of 8 tokens; the scores are those of
/// scoring, which pads to the longest sequence only.
#[test]
fn the_training_forward_pads_without_changing_scores() {
    for fixture in ["tiny-hf", "tiny-bert"] {
        let r = Reranker::load_on(&fixtures().join(fixture), cpu(), "cpu", RerankerOptions { max_length: 128, ..Default::default() }).unwrap();
        // a longest document that needs padding with this tokenizer
        let seqs: Vec<Encoded> = (0..8)
            .map(|k| {
                let long = format!("Castles are old, and the castle on the hill is the oldest{}.", " of all".repeat(k));
                ["A comet is described because the comet matters.", "A tiger appears.", long.as_str(), "Robots."].iter().map(|d| r.encode_pair("what is a comet?", d).unwrap()).collect::<Vec<_>>()
            })
            .find(|seqs| seqs.iter().map(|s| s.ids.len()).max().unwrap() % 8 != 0)
            .unwrap();
        let want = r.score_encoded(&seqs, &mut |_| {}).unwrap();
        let got = r.forward_scores(&seqs, None).unwrap().into_data().try_to_vec::<f32>().unwrap();
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-5 * w.abs().max(1.0), "{fixture}: {got:?} vs {want:?}");
        }
    }
}

fn loss_of(r: &Reranker, seqs: &[Encoded]) -> Tensor<1> {
    lce_loss(r.forward_scores(seqs, None).unwrap(), seqs.len() / 4, 4)
}

/// Directional derivatives along random directions: autodiff's <g, v> against central finite
/// differences of the LCE loss, in f32 (hence the tolerance).
fn check_fd(fixture: &str, params: &[&str]) {
    let dir = fixtures().join(fixture);
    let opts = RerankerOptions { max_length: 64, ..Default::default() };
    let ad = Reranker::load_on(&dir, cpu().autodiff(), "cpu", opts.clone()).unwrap();
    let group = ["A comet is described because the comet matters.", "A tiger appears.", "Castles are old.", "A robot is here and it beeps."];
    let seqs: Vec<Encoded> = group.iter().map(|d| ad.encode_pair("what is a comet?", d).unwrap()).collect();
    let grads = ad.gradients(loss_of(&ad, &seqs).backward());
    let mut r = rng(5);
    for name in params {
        let mut get = Get { names: ad.param_names(), grads: Some(&grads), want: name, out: None };
        ad.visit(&mut get);
        let g = get.out.unwrap_or_else(|| panic!("{fixture}: no gradient for `{name}`"));
        let v: Vec<f32> = (0..g.len()).map(|_| r(2001) as f32 / 1000.0 - 1.0).collect();
        let analytic: f64 = g.iter().zip(&v).map(|(a, b)| (*a as f64) * (*b as f64)).sum();
        let eps = 1e-2;
        let at = |sign: f32| {
            let mut m = Reranker::load_on(&dir, cpu(), "cpu", opts.clone()).unwrap();
            let names = m.param_names().clone();
            m.map_params(&mut Nudge { names: &names, want: name, v: &v, eps: sign * eps });
            loss_of(&m, &seqs).into_data().try_to_vec::<f32>().unwrap()[0] as f64
        };
        let numeric = (at(1.0) - at(-1.0)) / (2.0 * eps as f64);
        let err = (analytic - numeric).abs() / analytic.abs().max(numeric.abs()).max(1e-3);
        eprintln!("{fixture} {name}: autodiff {analytic:.6e}, finite differences {numeric:.6e}");
        assert!(err <= 2e-2, "{fixture} `{name}`: autodiff {analytic:.6e} vs finite differences {numeric:.6e} (relative {err:.2e})");
    }
}

#[test]
fn mamba_gradients_match_finite_differences() {
    check_fd(
        "tiny-hf",
        &["backbone.embeddings.weight", "backbone.layers.0.mixer.in_proj.weight", "backbone.layers.1.mixer.A_log", "backbone.layers.0.mixer.dt_proj.bias", "backbone.layers.1.mixer.conv1d.weight", "backbone.norm_f.weight", "classifier.weight"],
    );
}

#[test]
fn bert_gradients_match_finite_differences() {
    check_fd(
        "tiny-bert",
        &["bert.embeddings.word_embeddings.weight", "bert.encoder.layer.0.attention.self.query.weight", "bert.encoder.layer.1.output.dense.weight", "bert.pooler.dense.weight", "classifier.weight"],
    );
}

/// Data parallelism through burn's multi-device optimizer step (`MultiGradientsParams`): two
/// replicas of 4 groups each follow the loss curve of one device taking the same 8 groups as two
/// accumulated micro-batches, up to floating-point order. (burn's CPU backend has one device, so
/// both replicas live on it: this checks the code path; GPUs are the point of it.)
#[test]
fn two_data_parallel_replicas_follow_the_single_device_loss_curve() {
    let _turn = one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_groups(tmp.path(), 64, 4, 4);
    let data = TrainData::load(&spec, 4).unwrap();
    let base = fixtures().join("tiny-hf");
    // no dropout: the two schedules draw their masks in a different order
    let single = TrainConfig { batch_groups: 4, grad_accum: 2, devices: 1, dropout: 0.0, ..small_config(10) };
    let multi = TrainConfig { batch_groups: 4, grad_accum: 1, devices: 2, dropout: 0.0, ..small_config(10) };
    let run = |config: TrainConfig, name: &str| {
        let mut t = Trainer::new(&base, &tmp.path().join(name), cpu(), "cpu", config, data.len(), false).unwrap();
        let mut losses = Vec::new();
        t.run(&data, None, &mut |l| losses.push(l.loss)).unwrap();
        (losses, t)
    };
    let (la, ta) = run(single, "single");
    let (lb, tb) = run(multi, "multi");
    assert_eq!(tb.config.devices, 2);
    for (i, (a, b)) in la.iter().zip(&lb).enumerate() {
        assert!((a - b).abs() <= 1e-4 * a.abs().max(1.0), "step {}: loss {a} on one device, {b} with two replicas", i + 1);
    }
    let (wa, wb) = (weights_safetensors(&ta.ranker, false).unwrap(), weights_safetensors(&tb.ranker, false).unwrap());
    let (sa, sb) = (safetensors::SafeTensors::deserialize(&wa).unwrap(), safetensors::SafeTensors::deserialize(&wb).unwrap());
    for (name, va) in sa.tensors() {
        let vb = sb.tensor(&name).unwrap();
        let f = |b: &[u8]| b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect::<Vec<f32>>();
        let (xa, xb) = (f(va.data()), f(vb.data()));
        let diff = xa.iter().zip(&xb).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        let scale = xa.iter().map(|a| a.abs()).fold(0f32, f32::max).max(1e-3);
        assert!(diff <= 1e-4 * scale, "`{name}`: replicas and one device differ by {diff} (scale {scale})");
    }
    // a run keeps its replica count: resuming with another one is refused
    let err = Trainer::new(&base, &tmp.path().join("multi"), cpu(), "cpu", TrainConfig { devices: 1, ..small_config(10) }, data.len(), true)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("trained with 2 data-parallel devices"), "{err}");
}

/// The tensors of a safetensors file as f32 vectors.
fn tensors_of(bytes: &[u8]) -> BTreeMap<String, Vec<f32>> {
    let st = safetensors::SafeTensors::deserialize(bytes).unwrap();
    st.tensors().into_iter().map(|(name, view)| (name, view.data().chunks(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())).collect()
}

#[test]
fn a_captured_training_step_replays_as_the_eager_steps_run_on_wgpu() {
    let _turn = one_at_a_time();
    let Ok(gpu) = DeviceChoice::Wgpu.device() else {
        eprintln!("no wgpu adapter: skipped");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_groups(tmp.path(), 24, 4, 3);
    // long documents: every sequence is cut to max_length, so the eager batches have the fixed
    // width of the captured step and both runs compute the same thing
    if let DataSpec::Groups { collection, .. } = &spec {
        let long: String = std::fs::read_to_string(collection).unwrap().lines().map(|l| format!("{l} {}\n", l.split('\t').nth(1).unwrap().repeat(8))).collect();
        std::fs::write(collection, long).unwrap();
    }
    let data = TrainData::load(&spec, 4).unwrap();
    let base = fixtures().join("tiny-hf");
    let config = TrainConfig { max_length: 64, dropout: 0.1, lr: 1e-3, warmup_steps: 1, ..small_config(7) };
    let run = |graph: bool, dir: &str| {
        let mut t = Trainer::new(&base, &tmp.path().join(dir), gpu.clone(), "wgpu", TrainConfig { graph, ..config.clone() }, data.len(), false).unwrap();
        let mut losses = Vec::new();
        t.run(&data, None, &mut |l| losses.push(l.loss)).unwrap();
        (losses, tensors_of(&weights_safetensors(&t.ranker, false).unwrap()))
    };
    let (le, we) = run(false, "eager");
    // steps 1–2 eager, 3 captured and replayed, 4–7 replays with their inputs written in place
    let (lg, wg) = run(true, "graph");
    assert_eq!(le.len(), 7);
    for (s, (a, b)) in le.iter().zip(&lg).enumerate() {
        assert!((a - b).abs() <= 1e-5 * a.abs().max(1.0), "step {}: eager loss {a}, replayed {b}", s + 1);
    }
    // LCE is unchanged by adding one constant to all scores, so the head bias has a zero
    // gradient: AdamW turns its rounding noise into full-size steps, which differ between the
    // runs; every other weight must agree
    for (name, a) in &we {
        if name.ends_with("classifier.bias") {
            continue;
        }
        let b = &wg[name];
        let scale = a.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-6);
        let diff = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(diff <= 1e-4 * scale, "{name}: eager and replayed weights differ by {diff} (max |w| {scale})");
    }
    // and the moments moved: the replays did train
    assert!(lg.windows(2).any(|w| w[0] != w[1]));
}

/// The pool warm-up (a forward and backward at max_length before the first step, gradients
/// dropped) leaves training as it was: the same losses and weights as a run without it.
#[test]
fn the_warm_up_before_the_first_step_changes_no_loss_or_weight_on_wgpu() {
    let _turn = one_at_a_time();
    let Ok(gpu) = DeviceChoice::Wgpu.device() else {
        eprintln!("no wgpu adapter: skipped");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    // short documents: every batch is narrower than max_length, so the warm-up runs
    let spec = write_groups(tmp.path(), 12, 4, 5);
    let data = TrainData::load(&spec, 4).unwrap();
    let config = TrainConfig { dropout: 0.1, lr: 1e-3, warmup_steps: 1, ..small_config(3) };
    let run = |warm_up: bool, dir: &str| {
        let mut t = Trainer::new(&fixtures().join("tiny-hf"), &tmp.path().join(dir), gpu.clone(), "wgpu", TrainConfig { warm_up, ..config.clone() }, data.len(), false).unwrap();
        let mut logs = Vec::new();
        t.run(&data, None, &mut |l| logs.push((l.loss, l.tokens))).unwrap();
        (logs, tensors_of(&weights_safetensors(&t.ranker, false).unwrap()))
    };
    let (cold, wc) = run(false, "cold");
    let (warm, ww) = run(true, "warm");
    assert_eq!(cold.len(), 3);
    assert!(cold.iter().all(|&(_, tokens)| tokens < 16 * 128), "a batch reached max_length: {cold:?}");
    // (within rounding: burn's reductions on wgpu need not add in the same order every run)
    for (s, (a, b)) in cold.iter().zip(&warm).enumerate() {
        assert_eq!(a.1, b.1, "step {}: padded tokens", s + 1);
        assert!((a.0 - b.0).abs() <= 1e-6 * a.0.abs().max(1.0), "step {}: loss {} without the warm-up, {} with it", s + 1, a.0, b.0);
    }
    // (the head bias has a zero gradient under LCE: AdamW scales its rounding noise to full
    // steps, see the graph test)
    for (name, a) in wc.iter().filter(|(n, _)| !n.ends_with("classifier.bias")) {
        let scale = a.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-6);
        let diff = a.iter().zip(&ww[name]).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(diff <= 1e-5 * scale, "{name}: the warm-up changed the weights by {diff} (max |w| {scale})");
    }
}

#[test]
fn graph_mode_needs_wgpu() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_groups(tmp.path(), 8, 4, 1);
    let data = TrainData::load(&spec, 4).unwrap();
    let config = TrainConfig { graph: true, ..small_config(2) };
    let err = Trainer::new(&fixtures().join("tiny-hf"), &tmp.path().join("o"), cpu(), "cpu", config, data.len(), false).err().unwrap().to_string();
    assert!(err.contains("--graph needs --device wgpu"), "{err}");
}

#[test]
fn a_zero_interval_names_its_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let config = TrainConfig { log_every: 0, ..small_config(2) };
    let err = Trainer::new(&fixtures().join("tiny-hf"), &tmp.path().join("o"), cpu(), "cpu", config, 8, false).err().unwrap().to_string();
    assert!(err.contains("--log-every must be at least 1"), "{err}");
    let config = TrainConfig { save_every: 0, ..small_config(2) };
    let err = Trainer::new(&fixtures().join("tiny-hf"), &tmp.path().join("o"), cpu(), "cpu", config, 8, false).err().unwrap().to_string();
    assert!(err.contains("--save-every must be at least 1"), "{err}");
}
