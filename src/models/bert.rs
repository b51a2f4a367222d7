//! BERT-family cross-encoder (BERT, MiniLM, ELECTRA): the encoder of HF `BertModel` plus a
//! one-logit head, as `BertForSequenceClassification` (num_labels = 1: tanh pooler on [CLS],
//! then the classifier), as `ElectraForSequenceClassification` (embeddings projected to the
//! hidden size; head dense → GELU → out_proj on [CLS]) or as RankMamba's encoder rerankers
//! (classifier on the [CLS] hidden state).
//!
//! Reference: transformers `modeling_bert.py`. Attention here is the plain tensor-op reference
//! (scaled dot product with the padding mask); the fused WGSL kernel plugs in behind it.

use super::layers::{layer_norm, lin_apply, LayerNorm, Linear, NamedWeights};
use super::{expect_shape, fresh_head, param, Fields};
use crate::error::{Error, Result};
use crate::loader::{HostTensor, TensorSet};
use crate::ops::attention::{attention, AttentionMask};
use crate::ops::embedding::{embedding, TokenSegments};
use burn::module::{Module, Param};
use burn::tensor::activation::gelu;
use burn::tensor::{Device, Int, Tensor};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

// ------------------------------------------------------------------------------------------
// Config
// ------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct BertConfig {
    /// Not from the checkpoint: the linear layers in mixed precision (`ops::linear`).
    pub mixed_precision: bool,
    pub hidden_size: usize,
    /// Width of the embeddings (ELECTRA's `embedding_size`; = hidden_size for BERT).
    pub embedding_size: usize,
    /// As declared; the loaded model counts its layers from the weight keys.
    pub num_layers: usize,
    pub num_heads: usize,
    pub intermediate_size: usize,
    pub vocab_size: usize,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
}

impl BertConfig {
    pub fn from_json(path: &Path, v: &Value) -> Result<Self> {
        let obj = v.as_object().ok_or_else(|| Error::format(path, "config.json is not a JSON object"))?;
        let f = Fields { path, obj };
        let get = |k: &str| f.usize(k);
        f.only("hidden_act", "gelu")?;
        f.only("position_embedding_type", "absolute")?;
        let cfg = BertConfig {
            mixed_precision: false,
            hidden_size: get("hidden_size")?,
            embedding_size: if obj.contains_key("embedding_size") { get("embedding_size")? } else { get("hidden_size")? },
            num_layers: get("num_hidden_layers")?,
            num_heads: get("num_attention_heads")?,
            intermediate_size: get("intermediate_size")?,
            vocab_size: get("vocab_size")?,
            max_position_embeddings: get("max_position_embeddings")?,
            type_vocab_size: f.usize_or("type_vocab_size", 2)?,
            layer_norm_eps: f.f64_or("layer_norm_eps", 1e-12)?,
        };
        if cfg.hidden_size % cfg.num_heads != 0 {
            return Err(Error::config(
                path,
                "num_attention_heads",
                format!("{} does not divide hidden_size {}", cfg.num_heads, cfg.hidden_size),
            ));
        }
        Ok(cfg)
    }

    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_heads
    }
}

// ------------------------------------------------------------------------------------------
// Weights
// ------------------------------------------------------------------------------------------

#[derive(Module, Debug)]
pub struct BertLayer {
    pub query: Linear,
    pub key: Linear,
    pub value: Linear,
    pub attn_out: Linear,
    pub attn_norm: LayerNorm,
    pub intermediate: Linear,
    pub output: Linear,
    pub out_norm: LayerNorm,
}

/// How the head reads the encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// `BertForSequenceClassification`: classifier(tanh(pooler([CLS]))).
    Pooler,
    /// RankMamba's encoders: classifier([CLS]).
    Cls,
    /// `ElectraForSequenceClassification`: out_proj(gelu(dense([CLS]))).
    Electra,
}

#[derive(Module, Debug)]
pub struct BertReranker {
    /// (vocab, d)
    pub word_embeddings: Param<Tensor<2>>,
    /// (max_position, d)
    pub position_embeddings: Param<Tensor<2>>,
    /// (type_vocab, d)
    pub token_type_embeddings: Param<Tensor<2>>,
    pub embed_norm: LayerNorm,
    /// ELECTRA: (hidden, embedding_size) when the embeddings are narrower than the encoder
    pub embeddings_project: Option<Linear>,
    pub layers: Vec<BertLayer>,
    pub pooler: Option<Linear>,
    /// ELECTRA's head: the dense layer before `head` (= its out_proj)
    pub head_dense: Option<Linear>,
    /// (1, d) weight, (1) bias
    pub head: Linear,
    #[module(skip)]
    pub config: BertConfig,
    #[module(skip)]
    pub pooling: Pooling,
}

/// Model-prefix styles: `bert.` (BertForSequenceClassification), `electra.`, none (BertModel),
/// `base_model.` (RankMamba).
fn strip_prefix(raw: &str) -> Option<&str> {
    for p in ["bert.", "electra.", "base_model."] {
        if let Some(rest) = raw.strip_prefix(p) {
            return Some(rest);
        }
    }
    if raw.starts_with("embeddings.") || raw.starts_with("encoder.") || raw.starts_with("pooler.") || raw.starts_with("embeddings_project.") {
        return Some(raw);
    }
    None
}

impl BertReranker {
    pub fn from_tensors(mut config: BertConfig, config_path: &Path, set: &TensorSet, device: &Device) -> Result<(Self, Vec<String>)> {
        let mut warnings = Vec::new();
        let mut body: BTreeMap<String, (&str, &HostTensor)> = BTreeMap::new();
        let mut head: BTreeMap<&str, (&str, &HostTensor, Pooling)> = BTreeMap::new();
        for (name, t) in &set.tensors {
            match name.as_str() {
                "classifier.weight" | "classifier.bias" => {
                    head.insert(if name.ends_with("weight") { "weight" } else { "bias" }, (name, t, Pooling::Pooler));
                }
                "regressor.classifier.weight" | "regressor.classifier.bias" => {
                    head.insert(if name.ends_with("weight") { "weight" } else { "bias" }, (name, t, Pooling::Cls));
                }
                "classifier.out_proj.weight" | "classifier.out_proj.bias" => {
                    head.insert(if name.ends_with("weight") { "weight" } else { "bias" }, (name, t, Pooling::Electra));
                }
                "classifier.dense.weight" | "classifier.dense.bias" => {
                    head.insert(if name.ends_with("weight") { "dense.weight" } else { "dense.bias" }, (name, t, Pooling::Electra));
                }
                _ if name.ends_with("position_ids") => {} // a buffer, 0..max_position
                _ => match strip_prefix(name) {
                    Some(k) => {
                        if let Some((other, _)) = body.insert(k.to_string(), (name.as_str(), t)) {
                            return Err(Error::tensor(&t.file, name, format!("duplicates `{other}`")));
                        }
                    }
                    None => {
                        return Err(Error::tensor(
                            &t.file,
                            name,
                            "unknown key: not a BERT weight (expected `bert.`/`base_model.`/no prefix + `embeddings.*`, \
                             `encoder.layer.N.*`, `pooler.*`, and `classifier.*` or `regressor.classifier.*`)",
                        ))
                    }
                },
            }
        }
        let source = set.source();
        let src = Path::new(&source);
        let (d, inter) = (config.hidden_size, config.intermediate_size);
        let w = NamedWeights { body, source: src, config: config_path, device };
        let take = |k: &str, want: &[usize]| w.take(k, want);
        let linear = |prefix: &str, out: usize, inp: usize| w.linear(prefix, out, inp, true);
        let norm_w = |prefix: &str, width: usize| w.norm(prefix, width);
        let norm = |prefix: &str| w.norm(prefix, d);
        let emb = config.embedding_size;
        let word = w.body.get("embeddings.word_embeddings.weight").map(|x| x.1);
        if let Some(w) = word {
            if w.shape.len() == 2 && w.shape[1] != emb {
                let field = if emb == d { "hidden_size" } else { "embedding_size" };
                return Err(Error::config(config_path, field, format!("{emb} contradicts the weights: word embeddings have shape {:?}", w.shape)));
            }
        }
        let embeddings_project = if emb != d { Some(linear("embeddings_project", d, emb)?) } else { None };
        let n_layers = w.count_layers("encoder.layer.", config.num_layers, "encoder.layer.0.attention.self.query.weight", &mut warnings)?;
        config.num_layers = n_layers;
        let mut layers = Vec::with_capacity(n_layers);
        for i in 0..n_layers {
            let p = format!("encoder.layer.{i}");
            layers.push(BertLayer {
                query: linear(&format!("{p}.attention.self.query"), d, d)?,
                key: linear(&format!("{p}.attention.self.key"), d, d)?,
                value: linear(&format!("{p}.attention.self.value"), d, d)?,
                attn_out: linear(&format!("{p}.attention.output.dense"), d, d)?,
                attn_norm: norm(&format!("{p}.attention.output.LayerNorm"))?,
                intermediate: linear(&format!("{p}.intermediate.dense"), inter, d)?,
                output: linear(&format!("{p}.output.dense"), d, inter)?,
                out_norm: norm(&format!("{p}.output.LayerNorm"))?,
            });
        }
        let pooler = if w.body.contains_key("pooler.dense.weight") { Some(linear("pooler.dense", d, d)?) } else { None };
        let head_dense = match (head.get("dense.weight"), head.get("dense.bias")) {
            (Some((wn, w, _)), Some((bn, b, _))) => {
                expect_shape(wn, w, &[d, d], "ELECTRA's head dense layer")?;
                expect_shape(bn, b, &[d], "ELECTRA's head dense layer")?;
                Some(Linear { weight: param(w, device), bias: param(b, device) })
            }
            (None, None) => None,
            _ => return Err(Error::tensor(src, "classifier.dense.weight", "ELECTRA's head needs both dense `weight` and `bias`")),
        };
        let (head, pooling) = match (head.get("weight"), head.get("bias")) {
            (Some((wn, w, pw)), Some((bn, b, pb))) if pw == pb => {
                expect_shape(wn, w, &[1, d], "one score from the hidden state (num_labels = 1)")?;
                expect_shape(bn, b, &[1], "one score")?;
                if *pw == Pooling::Pooler && pooler.is_none() {
                    return Err(Error::tensor(src, "pooler.dense.weight", "missing: `classifier.*` reads the pooler output"));
                }
                if *pw == Pooling::Electra && head_dense.is_none() {
                    return Err(Error::tensor(src, "classifier.dense.weight", "missing: ELECTRA's `classifier.out_proj` reads it"));
                }
                (Linear { weight: param(w, device), bias: param(b, device) }, *pw)
            }
            (None, None) => {
                warnings.push(super::fresh_head_warning(&source));
                // saved under the name that loads back with the same pooling
                let pooling = if pooler.is_some() { Pooling::Pooler } else { Pooling::Cls };
                let (weight, bias) = fresh_head(d, device, if pooler.is_some() { "classifier" } else { "regressor.classifier" });
                (Linear { weight, bias }, pooling)
            }
            _ => return Err(Error::tensor(src, "classifier.weight", "the head needs one `weight` and one `bias` of the same style")),
        };
        let model = BertReranker {
            word_embeddings: param(take("embeddings.word_embeddings.weight", &[config.vocab_size, emb])?, device),
            position_embeddings: param(take("embeddings.position_embeddings.weight", &[config.max_position_embeddings, emb])?, device),
            token_type_embeddings: param(take("embeddings.token_type_embeddings.weight", &[config.type_vocab_size, emb])?, device),
            embed_norm: norm_w("embeddings.LayerNorm", emb)?,
            embeddings_project,
            layers,
            pooler,
            head_dense,
            head,
            config,
            pooling,
        };
        Ok((model, warnings))
    }

    pub fn parameter_count(&self) -> usize {
        Module::num_params(self)
    }

    /// Scores for a right-padded batch: `ids`, `type_ids` (batch, len); `lens` real lengths.
    pub fn forward(&self, ids: Tensor<2, Int>, type_ids: Tensor<2, Int>, lens: &[usize]) -> Tensor<1> {
        self.forward_masked(ids, type_ids, lens, None, None)
    }

    /// [`Self::forward`] with `head_mask` (batch, d), dropout before the head, and `segments`,
    /// the ids' positions grouped by id for the word embeddings' gradient (training).
    pub fn forward_masked(
        &self,
        ids: Tensor<2, Int>,
        type_ids: Tensor<2, Int>,
        lens: &[usize],
        head_mask: Option<&Tensor<2>>,
        segments: Option<&TokenSegments>,
    ) -> Tensor<1> {
        let [b, l] = ids.dims();
        let cfg = &self.config;
        let mixed = cfg.mixed_precision;
        let (d, h, dh) = (cfg.hidden_size, cfg.num_heads, cfg.head_dim());
        let e = cfg.embedding_size;
        let words = embedding(self.word_embeddings.val(), ids.reshape([b * l]), segments).reshape([b, l, e]);
        let types = self.token_type_embeddings.val().select(0, type_ids.reshape([b * l])).reshape([b, l, e]);
        let pos: Tensor<3> = self.position_embeddings.val().narrow(0, 0, l).unsqueeze();
        let mut x = layer_norm(words + types + pos, &self.embed_norm, cfg.layer_norm_eps);
        if let Some(p) = &self.embeddings_project {
            x = lin_apply(x, p, mixed);
        }
        let mask = AttentionMask { key_lens: Some(lens.to_vec()), causal: false };
        for layer in &self.layers {
            let heads = |lin: &Linear| lin_apply(x.clone(), lin, mixed).reshape([b, l, h, dh]).swap_dims(1, 2); // (b, h, l, dh)
            let (q, k, v) = (heads(&layer.query), heads(&layer.key), heads(&layer.value));
            let ctx = attention(q, k, v, &mask, (dh as f64).sqrt().recip());
            let ctx = ctx.swap_dims(1, 2).reshape([b, l, d]);
            let a = layer_norm(lin_apply(ctx, &layer.attn_out, mixed) + x, &layer.attn_norm, cfg.layer_norm_eps);
            let f = lin_apply(gelu(lin_apply(a.clone(), &layer.intermediate, mixed)), &layer.output, mixed);
            x = layer_norm(f + a, &layer.out_norm, cfg.layer_norm_eps);
        }
        let cls = x.narrow(1, 0, 1).reshape([b, d]);
        let dense = |p: &Linear, x: Tensor<2>| x.matmul(p.weight.val().transpose()) + p.bias.val().unsqueeze_dim(0);
        let pooled = match (&self.pooler, &self.head_dense, self.pooling) {
            (Some(p), _, Pooling::Pooler) => dense(p, cls).tanh(),
            (_, Some(p), Pooling::Electra) => gelu(dense(p, cls)),
            _ => cls,
        };
        let pooled = super::apply_head_mask(pooled, head_mask);
        let s = pooled.matmul(self.head.weight.val().transpose()) + self.head.bias.val().unsqueeze_dim(0);
        s.reshape([b])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_checks_heads_and_activation() {
        let p = Path::new("c.json");
        let base = json!({"model_type": "bert", "hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12,
                          "intermediate_size": 1536, "vocab_size": 30522, "max_position_embeddings": 512});
        assert_eq!(BertConfig::from_json(p, &base).unwrap().head_dim(), 32);
        let mut bad = base.clone();
        bad["num_attention_heads"] = 7.into();
        assert!(BertConfig::from_json(p, &bad).unwrap_err().to_string().contains("num_attention_heads"));
        let mut bad = base;
        bad["hidden_act"] = "relu".into();
        assert!(BertConfig::from_json(p, &bad).unwrap_err().to_string().contains("hidden_act"));
    }
}
