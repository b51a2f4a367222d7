//! Mamba-1 reranker: the state-spaces Mamba backbone (HF `MambaModel`) plus a linear head on
//! the final-normed hidden state of the last real token.
//!
//! Reference: `state-spaces/mamba` v1.2.0 `mamba_simple.py`, transformers `modeling_mamba.py`;
//! RankMamba (arXiv 2403.18276) `MambaRegressionHead`. Math in `shared/spec/rankmamba.md` §6.
//!
//! - [`MambaConfig`]: sizes, parsed from either config format and checked against the weights.
//! - [`MambaReranker`]: immutable weights (a burn `Module`, so training can reuse it).
//! - [`MambaReranker::forward`]: ids → one score per row; per-call state stays local.

use super::{expect_shape, fresh_head, param, Fields};
use crate::error::{Error, Result};
use crate::loader::{HostTensor, TensorSet};
use crate::ops::causal_conv::causal_conv1d_silu_grad_as;
use crate::ops::embedding::{embedding, TokenSegments};
use crate::ops::linear::takes_f16;
use crate::ops::selective_scan::{selective_scan_with, HalfResults, ScanInputs};
use crate::ops::norm::{rms_norm, rms_norm_as};
use crate::ops::linear3_with;
use burn::module::{Module, Param};
use burn::tensor::{DType, Device, Int, Tensor};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

// ------------------------------------------------------------------------------------------
// Config
// ------------------------------------------------------------------------------------------

/// Which `config.json` dialect a checkpoint uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigFormat {
    /// transformers `MambaConfig` (state-spaces/mamba-*-hf): `hidden_size`, `state_size`, ...
    HuggingFace,
    /// mamba-ssm `MambaConfig` (state-spaces/mamba-*): `d_model`, `n_layer`, `ssm_cfg`, ...
    Original,
}

#[derive(Debug, Clone)]
pub struct MambaConfig {
    pub format: ConfigFormat,
    /// d
    pub hidden_size: usize,
    /// As declared; the loaded model counts its layers from the weight keys.
    pub num_layers: usize,
    /// E = expand · d
    pub intermediate_size: usize,
    /// N
    pub state_size: usize,
    /// K
    pub conv_kernel: usize,
    /// R = ⌈d / 16⌉ for "auto"
    pub dt_rank: usize,
    /// Embedding rows (padded vocabulary).
    pub vocab_size: usize,
    pub norm_eps: f64,
    /// Biases on in_proj / out_proj.
    pub use_bias: bool,
    pub use_conv_bias: bool,
    /// Not from the checkpoint: run the projections in mixed precision (f16 inputs on tensor
    /// cores, `ops::linear`); set for training with `--precision mixed`.
    pub mixed_precision: bool,
}

impl MambaConfig {
    /// Parse `config.json` in either format. `path` names the file in errors.
    pub fn from_json(path: &Path, v: &Value) -> Result<Self> {
        let obj = v.as_object().ok_or_else(|| Error::format(path, "config.json is not a JSON object"))?;
        if let Some(mt) = obj.get("model_type").and_then(Value::as_str) {
            if mt != "mamba" {
                return Err(Error::config(path, "model_type", format!("`{mt}` is not a Mamba checkpoint")));
            }
        }
        let f = Fields { path, obj };
        if obj.contains_key("hidden_size") || obj.get("model_type").is_some() {
            // HF format; `d_model`, `n_layer`, `d_inner`, `ssm_cfg` may be stale pass-throughs: ignored
            let hidden = f.usize("hidden_size")?;
            let expand = f.usize_or("expand", 2)?;
            let dt_rank = match obj.get("time_step_rank") {
                None => hidden.div_ceil(16),
                Some(Value::String(s)) if s == "auto" => hidden.div_ceil(16),
                Some(_) => f.usize("time_step_rank")?,
            };
            if let Some(act) = obj.get("hidden_act").and_then(Value::as_str) {
                if act != "silu" {
                    return Err(Error::config(path, "hidden_act", format!("`{act}` is not supported (only silu)")));
                }
            }
            Ok(MambaConfig {
                format: ConfigFormat::HuggingFace,
                hidden_size: hidden,
                num_layers: f.usize("num_hidden_layers")?,
                intermediate_size: f.usize_or("intermediate_size", expand * hidden)?,
                state_size: f.usize_or("state_size", 16)?,
                conv_kernel: f.usize_or("conv_kernel", 4)?,
                dt_rank,
                vocab_size: f.usize("vocab_size")?,
                norm_eps: f.f64_or("layer_norm_epsilon", 1e-5)?,
                use_bias: f.bool_or("use_bias", false)?,
                use_conv_bias: f.bool_or("use_conv_bias", true)?,
                mixed_precision: false,
            })
        } else if obj.contains_key("d_model") {
            let hidden = f.usize("d_model")?;
            if !f.bool_or("rms_norm", true)? {
                return Err(Error::config(path, "rms_norm", "false (LayerNorm Mamba) is not supported"));
            }
            let empty = serde_json::Map::new();
            let ssm = match obj.get("ssm_cfg") {
                None | Some(Value::Null) => &empty,
                Some(Value::Object(m)) => m,
                Some(_) => return Err(Error::config(path, "ssm_cfg", "is not an object")),
            };
            if let Some(layer) = ssm.get("layer").and_then(Value::as_str) {
                if layer != "Mamba1" {
                    return Err(Error::config(path, "ssm_cfg.layer", format!("`{layer}` is not supported (Mamba-1 only)")));
                }
            }
            let s = Fields { path, obj: ssm };
            let expand = s.usize_or("expand", 2)?;
            let dt_rank = match ssm.get("dt_rank") {
                None => hidden.div_ceil(16),
                Some(Value::String(x)) if x == "auto" => hidden.div_ceil(16),
                Some(_) => s.usize("dt_rank")?,
            };
            let vocab = f.usize("vocab_size")?;
            let multiple = f.usize_or("pad_vocab_size_multiple", 8)?.max(1);
            Ok(MambaConfig {
                format: ConfigFormat::Original,
                hidden_size: hidden,
                num_layers: f.usize("n_layer")?,
                intermediate_size: expand * hidden,
                state_size: s.usize_or("d_state", 16)?,
                conv_kernel: s.usize_or("d_conv", 4)?,
                dt_rank,
                vocab_size: vocab.div_ceil(multiple) * multiple,
                norm_eps: f.f64_or("norm_epsilon", 1e-5)?,
                use_bias: s.bool_or("bias", false)?,
                use_conv_bias: s.bool_or("conv_bias", true)?,
                mixed_precision: false,
            })
        } else {
            Err(Error::config(path, "hidden_size", "missing (neither a transformers MambaConfig nor a mamba-ssm config with `d_model`)"))
        }
    }
}

// ------------------------------------------------------------------------------------------
// Weight keys
// ------------------------------------------------------------------------------------------

/// Per-layer tensors (HF names under `layers.{i}.`), with their rank and whether optional.
const LAYER_KEYS: &[&str] = &[
    "norm.weight",
    "mixer.in_proj.weight",
    "mixer.in_proj.bias",
    "mixer.conv1d.weight",
    "mixer.conv1d.bias",
    "mixer.x_proj.weight",
    "mixer.dt_proj.weight",
    "mixer.dt_proj.bias",
    "mixer.A_log",
    "mixer.D",
    "mixer.out_proj.weight",
    "mixer.out_proj.bias",
];

/// Where a stored key lands in the model.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    Embedding,
    NormF,
    Layer(usize, &'static str),
    HeadWeight,
    HeadBias,
}

/// Map a stored name to its slot. `Ok(None)`: known and ignored (`lm_head.*`, tied).
/// Accepted styles: `backbone.` (HF `MambaForCausalLM`), no prefix (`MambaModel`),
/// `base_model.` (RankMamba), `embeddings` or `embedding` (original), heads
/// `classifier.*` and `regressor.classifier.*` (RankMamba).
fn slot(raw: &str) -> std::result::Result<Option<Slot>, ()> {
    match raw {
        "classifier.weight" | "regressor.classifier.weight" | "score.weight" => return Ok(Some(Slot::HeadWeight)),
        "classifier.bias" | "regressor.classifier.bias" | "score.bias" => return Ok(Some(Slot::HeadBias)),
        _ => {}
    }
    if raw.starts_with("lm_head.") {
        return Ok(None);
    }
    let k = raw.strip_prefix("base_model.").unwrap_or(raw);
    let k = k.strip_prefix("backbone.").unwrap_or(k);
    match k {
        "embeddings.weight" | "embedding.weight" => return Ok(Some(Slot::Embedding)),
        "norm_f.weight" => return Ok(Some(Slot::NormF)),
        _ => {}
    }
    if let Some(rest) = k.strip_prefix("layers.") {
        if let Some((idx, key)) = rest.split_once('.') {
            if let (Ok(i), Some(known)) = (idx.parse::<usize>(), LAYER_KEYS.iter().find(|x| **x == key)) {
                return Ok(Some(Slot::Layer(i, known)));
            }
        }
    }
    Err(())
}

// ------------------------------------------------------------------------------------------
// Weights
// ------------------------------------------------------------------------------------------

#[derive(Module, Debug)]
pub struct MambaMixer {
    /// (2·d_inner, d): rows [0, E) → x, [E, 2E) → z
    pub in_proj: Param<Tensor<2>>,
    /// (2·d_inner)
    pub in_proj_bias: Option<Param<Tensor<1>>>,
    /// (d_inner, 1, K), depthwise; tap K−1 is the current token
    pub conv_weight: Param<Tensor<3>>,
    /// (d_inner)
    pub conv_bias: Option<Param<Tensor<1>>>,
    /// (R + 2N, d_inner): rows [0, R) → Δ_low, [R, R+N) → B, [R+N, R+2N) → C
    pub x_proj: Param<Tensor<2>>,
    /// (d_inner, R)
    pub dt_proj: Param<Tensor<2>>,
    /// (d_inner), added inside the softplus
    pub dt_bias: Param<Tensor<1>>,
    /// (d_inner, N); A = −exp(A_log)
    pub a_log: Param<Tensor<2>>,
    /// (d_inner)
    pub d: Param<Tensor<1>>,
    /// (d, d_inner)
    pub out_proj: Param<Tensor<2>>,
    /// (d)
    pub out_proj_bias: Option<Param<Tensor<1>>>,
}

#[derive(Module, Debug)]
pub struct MambaBlock {
    /// (d), RMSNorm gain
    pub norm: Param<Tensor<1>>,
    pub mixer: MambaMixer,
}

#[derive(Module, Debug)]
pub struct MambaReranker {
    /// (vocab, d)
    pub embeddings: Param<Tensor<2>>,
    pub layers: Vec<MambaBlock>,
    /// (d)
    pub norm_f: Param<Tensor<1>>,
    /// (1, d)
    pub head_weight: Param<Tensor<2>>,
    /// (1)
    pub head_bias: Param<Tensor<1>>,
    #[module(skip)]
    pub config: MambaConfig,
}

/// What loading found out besides the weights.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Non-fatal findings to show the user (fresh head, config fields that were overridden).
    pub warnings: Vec<String>,
    /// True if the checkpoint had no head and one was initialised.
    pub fresh_head: bool,
}

pub use super::FRESH_HEAD_SEED;

impl MambaReranker {
    /// Build the model from parsed config and tensors, checking every shape against the
    /// config. `config_path` names `config.json` in errors.
    pub fn from_tensors(mut config: MambaConfig, config_path: &Path, set: &TensorSet, device: &Device) -> Result<(Self, LoadReport)> {
        let mut report = LoadReport::default();
        // stored name by slot
        let mut slots: BTreeMap<Slot, (&str, &HostTensor)> = BTreeMap::new();
        for (name, t) in &set.tensors {
            match slot(name) {
                Ok(None) => {}
                Ok(Some(s)) => {
                    if let Some((other, _)) = slots.insert(s, (name.as_str(), t)) {
                        return Err(Error::tensor(&t.file, name, format!("duplicates `{other}` (two key styles in one checkpoint)")));
                    }
                }
                Err(()) => {
                    return Err(Error::tensor(
                        &t.file,
                        name,
                        "unknown key: not a Mamba weight (expected `backbone.`/`base_model.`/no prefix + `embeddings`, \
                         `layers.N.norm`, `layers.N.mixer.*`, `norm_f`, and `classifier.*` or `regressor.classifier.*`)",
                    ))
                }
            }
        }
        let source = set.source();
        let src = Path::new(&source);
        let get = |s: &Slot, hf: &str| -> Result<(&str, &HostTensor)> {
            slots.get(s).copied().ok_or_else(|| Error::tensor(src, hf, "missing from the checkpoint"))
        };

        // width and vocabulary from the embedding; every other size from config, checked
        let (emb_name, emb) = get(&Slot::Embedding, "backbone.embeddings.weight")?;
        if emb.shape.len() != 2 {
            return Err(Error::tensor(&emb.file, emb_name, format!("has shape {:?}, expected (vocab, hidden_size)", emb.shape)));
        }
        if emb.shape[1] != config.hidden_size {
            return Err(Error::config(
                config_path,
                if config.format == ConfigFormat::Original { "d_model" } else { "hidden_size" },
                format!("{} contradicts the weights: `{emb_name}` has shape {:?}", config.hidden_size, emb.shape),
            ));
        }
        if emb.shape[0] != config.vocab_size {
            return Err(Error::config(
                config_path,
                "vocab_size",
                format!("{} (padded) contradicts the weights: `{emb_name}` has {} rows", config.vocab_size, emb.shape[0]),
            ));
        }

        // layers counted from keys, never from the config
        let mut n_layers = 0;
        for s in slots.keys() {
            if let Slot::Layer(i, _) = s {
                n_layers = n_layers.max(i + 1);
            }
        }
        if n_layers == 0 {
            return Err(Error::tensor(src, "layers.0.mixer.in_proj.weight", "missing: the checkpoint has no Mamba layers"));
        }
        if n_layers != config.num_layers {
            report.warnings.push(format!(
                "{}: declares {} layers, the weights have {n_layers}; using {n_layers}",
                config_path.display(),
                config.num_layers
            ));
            config.num_layers = n_layers;
        }

        let (d, e, n, k, r) = (config.hidden_size, config.intermediate_size, config.state_size, config.conv_kernel, config.dt_rank);
        let cfg_name = config_path.display().to_string();
        let mut layers = Vec::with_capacity(n_layers);
        for i in 0..n_layers {
            let fetch = |key: &'static str, want: Vec<usize>, why: String| -> Result<&HostTensor> {
                let (name, t) = get(&Slot::Layer(i, key), &format!("layers.{i}.{key}"))?;
                expect_shape(name, t, &want, &why)?;
                Ok(t)
            };
            let optional = |key: &'static str, want: Vec<usize>, enabled: bool, field: &str| -> Result<Option<&HostTensor>> {
                match (slots.get(&Slot::Layer(i, key)), enabled) {
                    (Some((name, t)), true) => {
                        expect_shape(name, t, &want, &format!("{field} from {cfg_name}"))?;
                        Ok(Some(t))
                    }
                    (None, false) => Ok(None),
                    (Some((name, t)), false) => Err(Error::tensor(&t.file, name, format!("present, but {cfg_name} says {field} = false"))),
                    (None, true) => Err(Error::tensor(src, &format!("layers.{i}.{key}"), format!("missing, but {cfg_name} says {field} = true"))),
                }
            };
            let why = |what: &str| format!("{what} from {cfg_name}");
            let norm = fetch("norm.weight", vec![d], why("hidden_size"))?;
            let in_proj = fetch("mixer.in_proj.weight", vec![2 * e, d], why("2·intermediate_size, hidden_size"))?;
            let in_bias = optional("mixer.in_proj.bias", vec![2 * e], config.use_bias, "use_bias")?;
            let conv_w = fetch("mixer.conv1d.weight", vec![e, 1, k], why("intermediate_size, 1, conv_kernel"))?;
            let conv_b = optional("mixer.conv1d.bias", vec![e], config.use_conv_bias, "use_conv_bias")?;
            let x_proj = fetch("mixer.x_proj.weight", vec![r + 2 * n, e], why("time_step_rank + 2·state_size, intermediate_size"))?;
            let dt_proj = fetch("mixer.dt_proj.weight", vec![e, r], why("intermediate_size, time_step_rank"))?;
            let dt_bias = fetch("mixer.dt_proj.bias", vec![e], why("intermediate_size"))?;
            let a_log = fetch("mixer.A_log", vec![e, n], why("intermediate_size, state_size"))?;
            let dd = fetch("mixer.D", vec![e], why("intermediate_size"))?;
            let out_proj = fetch("mixer.out_proj.weight", vec![d, e], why("hidden_size, intermediate_size"))?;
            let out_bias = optional("mixer.out_proj.bias", vec![d], config.use_bias, "use_bias")?;
            layers.push(MambaBlock {
                norm: param(norm, device),
                mixer: MambaMixer {
                    in_proj: param(in_proj, device),
                    in_proj_bias: in_bias.map(|t| param(t, device)),
                    conv_weight: param(conv_w, device),
                    conv_bias: conv_b.map(|t| param(t, device)),
                    x_proj: param(x_proj, device),
                    dt_proj: param(dt_proj, device),
                    dt_bias: param(dt_bias, device),
                    a_log: param(a_log, device),
                    d: param(dd, device),
                    out_proj: param(out_proj, device),
                    out_proj_bias: out_bias.map(|t| param(t, device)),
                },
            });
        }
        let (nf_name, norm_f) = get(&Slot::NormF, "backbone.norm_f.weight")?;
        expect_shape(nf_name, norm_f, &[d], &format!("hidden_size from {cfg_name}"))?;

        let (head_weight, head_bias) = match (slots.get(&Slot::HeadWeight), slots.get(&Slot::HeadBias)) {
            (Some((wn, w)), Some((bn, b))) => {
                expect_shape(wn, w, &[1, d], "one score from the hidden state")?;
                expect_shape(bn, b, &[1], "one score")?;
                (param(w, device), param(b, device))
            }
            (None, None) => {
                report.fresh_head = true;
                report.warnings.push(super::fresh_head_warning(&source));
                fresh_head(d, device, "classifier")
            }
            (Some((name, t)), None) | (None, Some((name, t))) => {
                return Err(Error::tensor(&t.file, name, "the head needs both `weight` and `bias`; only this one is stored"))
            }
        };
        let model = MambaReranker {
            embeddings: param(emb, device),
            layers,
            norm_f: param(norm_f, device),
            head_weight,
            head_bias,
            config,
        };
        Ok((model, report))
    }

    /// Number of parameters (tied `lm_head` not counted).
    pub fn parameter_count(&self) -> usize {
        Module::num_params(self)
    }

    /// Scores for a batch. `ids` (batch, len); `last` (batch): the position read per row.
    /// Right padding after `last` cannot change a score (causal model); left padding does.
    pub fn forward(&self, ids: Tensor<2, Int>, last: &[usize]) -> Tensor<1> {
        let rows = super::pooled_rows(last, ids.dims()[1], &ids.device());
        self.forward_pooled(ids, rows, None, None)
    }

    /// Scores for a batch: `ids` (batch, len), `rows` (batch) the flat row `i · len + position`
    /// each score is read from, `head_mask` (batch, d) dropout before the head and `segments`
    /// the ids' positions grouped by id for the embedding gradient (training).
    pub fn forward_pooled(&self, ids: Tensor<2, Int>, rows: Tensor<1, Int>, head_mask: Option<&Tensor<2>>, segments: Option<&TokenSegments>) -> Tensor<1> {
        let [b, l] = ids.dims();
        let d = self.config.hidden_size;
        let mut h = embedding(self.embeddings.val(), ids.reshape([b * l]), segments).reshape([b, l, d]);
        // (the same for every layer)
        let f16 = Halves::of(&self.config, &h.device(), b * l);
        for layer in &self.layers {
            // pre-norm residual block; the residual stream stays f32
            let normed = rms_norm_as(h.clone(), layer.norm.val(), self.config.norm_eps, dtype(f16.in_proj));
            h = h + layer.mixer.forward(normed, &self.config, f16);
        }
        let pooled = h.reshape([b * l, d]).select(0, rows); // (batch, d)
        let pooled = rms_norm(pooled, self.norm_f.val(), self.config.norm_eps);
        let pooled = super::apply_head_mask(pooled, head_mask);
        let score = pooled.matmul(self.head_weight.val().transpose()) + self.head_bias.val().unsqueeze_dim(0);
        score.reshape([b])
    }
}

/// Which activations of a Mamba block its kernels write in f16 because a tensor-core linear
/// layer would cast them (`ops::linear::takes_f16`; none outside mixed precision): the normed
/// input and the scan's output (forward), the gradients of the in_proj halves' outputs and of
/// Δ (backward).
#[derive(Debug, Clone, Copy)]
pub struct Halves {
    /// in_proj's: the normed input, and the gradients of its x and z halves (from the conv and
    /// the scan)
    in_proj: bool,
    /// the gradient of Δ (dt_proj's output)
    delta_grad: bool,
    /// the scan's gated output (out_proj's input)
    gated: bool,
}

impl Halves {
    pub fn of(cfg: &MambaConfig, device: &Device, rows: usize) -> Self {
        let (d, e, r) = (cfg.hidden_size, cfg.intermediate_size, cfg.dt_rank);
        // linear(x (rows, k), w (n, k)) keeps x and dy in f16
        let takes = |n: usize, k: usize| takes_f16(device, rows, n, k, cfg.mixed_precision);
        Halves { in_proj: takes(e, d), delta_grad: takes(e, r), gated: takes(d, e) }
    }
}

fn dtype(f16: bool) -> DType {
    if f16 { DType::F16 } else { DType::F32 }
}

impl MambaMixer {
    /// x (batch, len, d), already normed (f32, or f16 for tensor-core products) → (batch, len, d);
    /// `f16`: what its kernels write in f16 ([`Halves::of`] the model's batch).
    pub fn forward(&self, x: Tensor<3>, cfg: &MambaConfig, f16: Halves) -> Tensor<3> {
        let (e, n, r) = (cfg.intermediate_size, cfg.state_size, cfg.dt_rank);
        // in_proj as its two halves (x and the gate z): each output is contiguous, where the
        // halves of one product would be strided views that the conv and the scan copy (and
        // whose gradients burn assembles with fills and slice-assigns)
        let (w, bias) = (self.in_proj.val(), self.in_proj_bias.as_ref().map(|p| p.val()));
        let half = |i: usize| {
            let b = bias.clone().map(|b| b.narrow(0, i * e, e));
            linear3_with(x.clone(), &w.clone().narrow(0, i * e, e), b.as_ref(), cfg.mixed_precision)
        };
        let (xs, z) = (half(0), half(1));

        // causal depthwise conv + SiLU: output t sees inputs t−K+1..t
        let conv_bias = self.conv_bias.as_ref().map(|p| p.val());
        let u = causal_conv1d_silu_grad_as(xs, self.conv_weight.val(), conv_bias, dtype(f16.in_proj)); // (batch, len, E)

        let x_dbl = linear3_with(u.clone(), &self.x_proj.val(), None, cfg.mixed_precision); // (batch, len, R + 2N)
        let dt_low = x_dbl.clone().narrow(2, 0, r);
        let b = x_dbl.clone().narrow(2, r, n);
        let c = x_dbl.narrow(2, r + n, n);
        // Δ bias + softplus, the D skip and the SiLU(z) gate are fused into the scan
        let delta = linear3_with(dt_low, &self.dt_proj.val(), None, cfg.mixed_precision);
        let a = self.a_log.val().exp().neg();
        let half = HalfResults { out: f16.gated, delta_grad: f16.delta_grad, z_grad: f16.in_proj };
        let gated = selective_scan_with(ScanInputs {
            u,
            delta,
            delta_bias: self.dt_bias.val(),
            a,
            b,
            c,
            d: self.d.val(),
            z: Some(z),
        }, half);
        linear3_with(gated, &self.out_proj.val(), self.out_proj_bias.as_ref().map(|p| p.val()).as_ref(), cfg.mixed_precision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_styles_map_to_the_same_slots() {
        for raw in ["backbone.embeddings.weight", "backbone.embedding.weight", "base_model.embeddings.weight", "embeddings.weight"] {
            assert_eq!(slot(raw), Ok(Some(Slot::Embedding)), "{raw}");
        }
        assert_eq!(slot("base_model.layers.3.mixer.A_log"), Ok(Some(Slot::Layer(3, "mixer.A_log"))));
        assert_eq!(slot("regressor.classifier.bias"), Ok(Some(Slot::HeadBias)));
        assert_eq!(slot("lm_head.weight"), Ok(None));
        assert_eq!(slot("bert.encoder.layer.0.attention.self.query.weight"), Err(()));
        assert_eq!(slot("backbone.layers.x.mixer.D"), Err(()));
    }

    #[test]
    fn both_config_formats_give_the_same_sizes() {
        let p = Path::new("config.json");
        let hf = MambaConfig::from_json(
            p,
            &json!({"model_type": "mamba", "hidden_size": 768, "num_hidden_layers": 24, "intermediate_size": 1536,
                    "state_size": 16, "conv_kernel": 4, "time_step_rank": 48, "vocab_size": 50280,
                    "d_model": 2048, "n_layer": 48}),
        )
        .unwrap();
        let orig = MambaConfig::from_json(
            p,
            &json!({"d_model": 768, "n_layer": 24, "vocab_size": 50277, "ssm_cfg": {}, "rms_norm": true,
                    "pad_vocab_size_multiple": 8}),
        )
        .unwrap();
        for c in [&hf, &orig] {
            assert_eq!((c.hidden_size, c.num_layers, c.intermediate_size, c.state_size, c.dt_rank, c.vocab_size), (768, 24, 1536, 16, 48, 50280));
        }
    }

    #[test]
    fn config_errors_name_the_field() {
        let p = Path::new("m/config.json");
        let e = MambaConfig::from_json(p, &json!({"model_type": "mamba", "hidden_size": "big"})).unwrap_err().to_string();
        assert!(e.contains("m/config.json") && e.contains("`hidden_size`"), "{e}");
        let e = MambaConfig::from_json(p, &json!({"model_type": "bert", "hidden_size": 4})).unwrap_err().to_string();
        assert!(e.contains("`model_type`") && e.contains("bert"), "{e}");
        let e = MambaConfig::from_json(p, &json!({"d_model": 8, "n_layer": 1, "vocab_size": 9, "ssm_cfg": {"layer": "Mamba2"}}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("ssm_cfg.layer"), "{e}");
    }
}
