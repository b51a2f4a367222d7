//! GPT-NeoX (Pythia) decoder reranker: the same-recipe attention twin of the Mamba reranker
//! (same tokenizer and template, score on the final-normed last real token). Rotary position
//! embeddings on the first `rotary_pct` of each head, parallel (or sequential) residual,
//! causal attention.
//!
//! Reference: transformers `modeling_gpt_neox.py` (`GPTNeoXModel` + a linear head).

use super::layers::{layer_norm, lin_apply, LayerNorm, Linear, NamedWeights};
use super::{expect_shape, fresh_head, param, Fields};
use crate::error::{Error, Result};
use crate::loader::{HostTensor, TensorSet};
use crate::ops::attention::{attention, AttentionMask};
use crate::ops::embedding::{embedding, TokenSegments};
use burn::module::{Module, Param};
use burn::tensor::activation::gelu;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone)]
pub struct GptNeoxConfig {
    /// Not from the checkpoint: the linear layers in mixed precision (`ops::linear`).
    pub mixed_precision: bool,
    pub hidden_size: usize,
    /// As declared; the loaded model counts its layers from the weight keys.
    pub num_layers: usize,
    pub num_heads: usize,
    pub intermediate_size: usize,
    pub vocab_size: usize,
    pub layer_norm_eps: f64,
    pub use_parallel_residual: bool,
    /// Rotated dimensions per head: int(head_dim · rotary_pct), even.
    pub rotary_ndims: usize,
    pub rotary_base: f64,
    pub attention_bias: bool,
}

impl GptNeoxConfig {
    /// Both dialects: `rotary_pct`/`rotary_emb_base` (published Pythia configs) and
    /// `rope_parameters.{partial_rotary_factor, rope_theta}` (transformers ≥ 5).
    pub fn from_json(path: &Path, v: &Value) -> Result<Self> {
        let obj = v.as_object().ok_or_else(|| Error::format(path, "config.json is not a JSON object"))?;
        let f = Fields { path, obj };
        let get = |k: &str| f.usize(k);
        f.only("hidden_act", "gelu")?;
        let rope = obj.get("rope_parameters").and_then(Value::as_object);
        if let Some(t) = rope.and_then(|r| r.get("rope_type")).and_then(Value::as_str) {
            if t != "default" {
                return Err(Error::config(path, "rope_parameters.rope_type", format!("`{t}` is not supported (only default)")));
            }
        }
        let pct = obj
            .get("rotary_pct")
            .or_else(|| rope.and_then(|r| r.get("partial_rotary_factor")))
            .and_then(Value::as_f64)
            .unwrap_or(0.25);
        let base = obj
            .get("rotary_emb_base")
            .or_else(|| rope.and_then(|r| r.get("rope_theta")))
            .and_then(Value::as_f64)
            .unwrap_or(10000.0);
        let (hidden, heads) = (get("hidden_size")?, get("num_attention_heads")?);
        if hidden % heads != 0 {
            return Err(Error::config(path, "num_attention_heads", format!("{heads} does not divide hidden_size {hidden}")));
        }
        let rotary_ndims = ((hidden / heads) as f64 * pct) as usize;
        if rotary_ndims % 2 != 0 {
            return Err(Error::config(path, "rotary_pct", format!("gives an odd number of rotary dimensions ({rotary_ndims})")));
        }
        Ok(GptNeoxConfig {
            mixed_precision: false,
            hidden_size: hidden,
            num_layers: get("num_hidden_layers")?,
            num_heads: heads,
            intermediate_size: get("intermediate_size")?,
            vocab_size: get("vocab_size")?,
            layer_norm_eps: f.f64_or("layer_norm_eps", 1e-5)?,
            use_parallel_residual: f.bool_or("use_parallel_residual", true)?,
            rotary_ndims,
            rotary_base: base,
            attention_bias: f.bool_or("attention_bias", true)?,
        })
    }
}

#[derive(Module, Debug)]
pub struct NeoxLayer {
    pub input_norm: LayerNorm,
    pub post_attention_norm: LayerNorm,
    /// (3·d, d): per head [q | k | v] of head_dim each
    pub qkv: Linear,
    pub dense: Linear,
    pub h_to_4h: Linear,
    pub four_h_to_h: Linear,
}

#[derive(Module, Debug)]
pub struct GptNeoxReranker {
    /// (vocab, d)
    pub embed_in: Param<Tensor<2>>,
    pub layers: Vec<NeoxLayer>,
    pub final_norm: LayerNorm,
    /// (1, d) weight, (1) bias
    pub head: Linear,
    #[module(skip)]
    pub config: GptNeoxConfig,
}

/// Buffers some checkpoints store beside the weights (masks, rotary tables): recomputed here.
fn is_buffer(k: &str) -> bool {
    k.ends_with(".attention.bias") || k.ends_with(".attention.masked_bias") || k.ends_with("rotary_emb.inv_freq")
}

impl GptNeoxReranker {
    pub fn from_tensors(mut config: GptNeoxConfig, config_path: &Path, set: &TensorSet, device: &Device) -> Result<(Self, Vec<String>)> {
        let mut warnings = Vec::new();
        let mut body: BTreeMap<String, (&str, &HostTensor)> = BTreeMap::new();
        let mut head: BTreeMap<&str, (&str, &HostTensor)> = BTreeMap::new();
        for (name, t) in &set.tensors {
            let n = name.as_str();
            if let Some(part) = n.strip_prefix("regressor.classifier.").or_else(|| n.strip_prefix("classifier.")) {
                head.insert(if part == "weight" { "weight" } else { "bias" }, (n, t));
                continue;
            }
            if n.starts_with("embed_out.") {
                continue; // the LM head
            }
            let k = n.strip_prefix("gpt_neox.").or_else(|| n.strip_prefix("base_model.")).unwrap_or(n);
            if is_buffer(k) {
                continue;
            }
            let known = k == "embed_in.weight" || k.starts_with("final_layer_norm.") || k.starts_with("layers.");
            if !known {
                return Err(Error::tensor(
                    &t.file,
                    n,
                    "unknown key: not a GPT-NeoX weight (expected `gpt_neox.`/`base_model.`/no prefix + `embed_in`, \
                     `layers.N.*`, `final_layer_norm`, and `classifier.*` or `regressor.classifier.*`)",
                ));
            }
            if let Some((other, _)) = body.insert(k.to_string(), (n, t)) {
                return Err(Error::tensor(&t.file, n, format!("duplicates `{other}`")));
            }
        }
        let source = set.source();
        let src = Path::new(&source);
        let (d, inter) = (config.hidden_size, config.intermediate_size);
        let w = NamedWeights { body, source: src, config: config_path, device };
        if let Some((_, e)) = w.body.get("embed_in.weight") {
            if e.shape.len() == 2 && e.shape[1] != d {
                return Err(Error::config(config_path, "hidden_size", format!("{d} contradicts the weights: `embed_in.weight` has shape {:?}", e.shape)));
            }
        }
        let n_layers = w.count_layers("layers.", config.num_layers, "layers.0.attention.query_key_value.weight", &mut warnings)?;
        config.num_layers = n_layers;
        let linear = |prefix: &str, out: usize, inp: usize, bias: bool| w.linear(prefix, out, inp, bias);
        let norm = |prefix: &str| w.norm(prefix, d);
        let ab = config.attention_bias;
        let mut layers = Vec::with_capacity(n_layers);
        for i in 0..n_layers {
            let p = format!("layers.{i}");
            layers.push(NeoxLayer {
                input_norm: norm(&format!("{p}.input_layernorm"))?,
                post_attention_norm: norm(&format!("{p}.post_attention_layernorm"))?,
                qkv: linear(&format!("{p}.attention.query_key_value"), 3 * d, d, ab)?,
                dense: linear(&format!("{p}.attention.dense"), d, d, ab)?,
                h_to_4h: linear(&format!("{p}.mlp.dense_h_to_4h"), inter, d, true)?,
                four_h_to_h: linear(&format!("{p}.mlp.dense_4h_to_h"), d, inter, true)?,
            });
        }
        let head = match (head.get("weight"), head.get("bias")) {
            (Some((wn, w)), Some((bn, b))) => {
                expect_shape(wn, w, &[1, d], "one score from the hidden state")?;
                expect_shape(bn, b, &[1], "one score")?;
                Linear { weight: param(w, device), bias: param(b, device) }
            }
            (None, None) => {
                warnings.push(super::fresh_head_warning(&source));
                let (weight, bias) = fresh_head(d, device, "classifier");
                Linear { weight, bias }
            }
            _ => return Err(Error::tensor(src, "classifier.weight", "the head needs both `weight` and `bias`")),
        };
        let model = GptNeoxReranker {
            embed_in: param(w.take("embed_in.weight", &[config.vocab_size, d])?, device),
            layers,
            final_norm: norm("final_layer_norm")?,
            head,
            config,
        };
        Ok((model, warnings))
    }

    pub fn parameter_count(&self) -> usize {
        Module::num_params(self)
    }

    /// Scores for a batch. `ids` (batch, len), right-padded; `last` (batch): the position read.
    pub fn forward(&self, ids: Tensor<2, Int>, last: &[usize]) -> Tensor<1> {
        let rows = super::pooled_rows(last, ids.dims()[1], &ids.device());
        self.forward_pooled(ids, rows, None, None)
    }

    /// Scores for a batch: `ids` (batch, len), `rows` (batch) the flat row `i · len + position`
    /// each score is read from, `head_mask` (batch, d) dropout before the head and `segments`
    /// the ids' positions grouped by id for the embedding gradient (training).
    pub fn forward_pooled(&self, ids: Tensor<2, Int>, rows: Tensor<1, Int>, head_mask: Option<&Tensor<2>>, segments: Option<&TokenSegments>) -> Tensor<1> {
        let [b, l] = ids.dims();
        let cfg = &self.config;
        let mixed = cfg.mixed_precision;
        let (d, h) = (cfg.hidden_size, cfg.num_heads);
        let dh = d / h;
        let device = ids.device();
        let (cos, sin) = rotary_tables(l, cfg.rotary_ndims, cfg.rotary_base, &device);
        // causal; right padding sits after every real token, so it needs no mask of its own
        let mask = AttentionMask { key_lens: None, causal: true };
        let mut x = embedding(self.embed_in.val(), ids.reshape([b * l]), segments).reshape([b, l, d]);
        for layer in &self.layers {
            let a_in = layer_norm(x.clone(), &layer.input_norm, cfg.layer_norm_eps);
            let qkv = lin_apply(a_in, &layer.qkv, mixed).reshape([b, l, h, 3 * dh]).swap_dims(1, 2); // (b, h, l, 3·dh)
            let q = rotate(qkv.clone().narrow(3, 0, dh), &cos, &sin, cfg.rotary_ndims);
            let k = rotate(qkv.clone().narrow(3, dh, dh), &cos, &sin, cfg.rotary_ndims);
            let v = qkv.narrow(3, 2 * dh, dh);
            let ctx = attention(q, k, v, &mask, (dh as f64).sqrt().recip());
            let attn = lin_apply(ctx.swap_dims(1, 2).reshape([b, l, d]), &layer.dense, mixed);
            let mlp = |y: Tensor<3>| {
                let y = layer_norm(y, &layer.post_attention_norm, cfg.layer_norm_eps);
                lin_apply(gelu(lin_apply(y, &layer.h_to_4h, mixed)), &layer.four_h_to_h, mixed)
            };
            x = if cfg.use_parallel_residual {
                let m = mlp(x.clone());
                x + attn + m
            } else {
                let y = x + attn;
                y.clone() + mlp(y)
            };
        }
        let pooled: Tensor<3> = x.reshape([b * l, d]).select(0, rows).unsqueeze();
        let pooled = layer_norm(pooled, &self.final_norm, cfg.layer_norm_eps).reshape([b, d]);
        let pooled = super::apply_head_mask(pooled, head_mask);
        let s = pooled.matmul(self.head.weight.val().transpose()) + self.head.bias.val().unsqueeze_dim(0);
        s.reshape([b])
    }
}

/// cos and sin tables (1, 1, len, rot) of rotary embeddings: angle = pos · base^(−2i/rot),
/// the frequencies repeated for both halves (transformers' layout).
fn rotary_tables(len: usize, rot: usize, base: f64, device: &Device) -> (Tensor<4>, Tensor<4>) {
    let half = rot / 2;
    let inv: Vec<f32> = (0..half).map(|i| (1.0 / base.powf((2 * i) as f64 / rot as f64)) as f32).collect();
    let mut cos = Vec::with_capacity(len * rot);
    let mut sin = Vec::with_capacity(len * rot);
    for p in 0..len {
        for j in 0..rot {
            let angle = p as f32 * inv[j % half.max(1)];
            cos.push(angle.cos());
            sin.push(angle.sin());
        }
    }
    let t = |v: Vec<f32>| Tensor::<4>::from_data(TensorData::new(v, [1, 1, len, rot]), device);
    (t(cos), t(sin))
}

/// Rotary embedding on the first `rot` dims of x (batch, heads, len, head_dim).
fn rotate(x: Tensor<4>, cos: &Tensor<4>, sin: &Tensor<4>, rot: usize) -> Tensor<4> {
    if rot == 0 {
        return x;
    }
    let dh = x.dims()[3];
    let xr = x.clone().narrow(3, 0, rot);
    let half = rot / 2;
    let rotated = Tensor::cat(vec![xr.clone().narrow(3, half, half).neg(), xr.clone().narrow(3, 0, half)], 3);
    let embedded = xr * cos.clone() + rotated * sin.clone();
    if rot == dh {
        embedded
    } else {
        Tensor::cat(vec![embedded, x.narrow(3, rot, dh - rot)], 3)
    }
}
