//! Reranker models, one file per architecture (config, weights, forward).

pub mod bert;
pub mod gpt_neox;
pub mod layers;
pub mod mamba;

use crate::error::{Error, Result};
use crate::loader::HostTensor;
use burn::module::{Param, ParamId};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;

/// What one forward pass reads besides the weights, already on the device: the token ids,
/// the row of each sequence's pooled token, and in training the dropout mask before the head.
/// Built by `Reranker` (and refreshed in place between replays of a captured training step,
/// `train`), so the models create no tensors from host data themselves.
#[derive(Clone, Debug)]
pub struct BatchTensors {
    /// (batch, len)
    pub ids: Tensor<2, Int>,
    /// (batch, len) token types (encoders)
    pub types: Option<Tensor<2, Int>>,
    /// (batch): for each sequence the row `i · len + position` of the token its score is read
    /// from (decoders: the last real token; encoders: CLS)
    pub rows: Tensor<1, Int>,
    /// (batch): real tokens per sequence (encoders mask the keys past them)
    pub lens: Vec<usize>,
    /// (batch, hidden): inverted-dropout mask before the head (0 or 1 / (1 − p)), training only
    pub head_mask: Option<Tensor<2>>,
    /// the token positions grouped by id, for the embedding gradient (training)
    pub segments: Option<crate::ops::embedding::TokenSegments>,
}

/// Dropout before the head as a mask the caller drew (none at inference).
pub fn apply_head_mask(pooled: Tensor<2>, mask: Option<&Tensor<2>>) -> Tensor<2> {
    match mask {
        Some(m) => pooled * m.clone(),
        None => pooled,
    }
}

thread_local! {
    /// While [`collect_names`] runs: the checkpoint name of each parameter created, so a trained
    /// model is saved under the names it was loaded from (and loads back the same way).
    static NAMES: RefCell<Option<BTreeMap<ParamId, String>>> = const { RefCell::new(None) };
}

/// Run `build` (a model's `from_tensors`) and return the checkpoint name of every parameter
/// it created.
pub fn collect_names<R>(build: impl FnOnce() -> R) -> (R, BTreeMap<ParamId, String>) {
    NAMES.with(|n| *n.borrow_mut() = Some(BTreeMap::new()));
    let out = build();
    let names = NAMES.with(|n| n.borrow_mut().take()).unwrap_or_default();
    (out, names)
}

/// Record that `p` is stored as `name`.
pub(crate) fn named<T: burn::module::Parameter>(p: Param<T>, name: &str) -> Param<T> {
    NAMES.with(|n| {
        if let Some(map) = n.borrow_mut().as_mut() {
            map.insert(p.id, name.to_string());
        }
    });
    p
}

/// Seed of the freshly initialised head of a headless checkpoint.
pub const FRESH_HEAD_SEED: u64 = 0;

/// A one-logit head as PyTorch's `nn.Linear(d, 1)` initialises it (U(±1/√d) for weight and
/// bias), seeded: ((1, d) weight, (1) bias), saved as `{prefix}.weight` / `{prefix}.bias`.
pub(crate) fn fresh_head(d: usize, device: &Device, prefix: &str) -> (Param<Tensor<2>>, Param<Tensor<1>>) {
    let w = uniform(d + 1, 1.0 / (d as f32).sqrt(), FRESH_HEAD_SEED);
    (
        named(Param::from_tensor(Tensor::<2>::from_data(TensorData::new(w[..d].to_vec(), [1, d]), device)), &format!("{prefix}.weight")),
        named(Param::from_tensor(Tensor::<1>::from_data(TensorData::new(vec![w[d]], [1]), device)), &format!("{prefix}.bias")),
    )
}

pub(crate) fn fresh_head_warning(source: &str) -> String {
    format!(
        "{source}: no ranking head (`classifier.*` or `regressor.classifier.*`): using a freshly initialised head \
         (seed {FRESH_HEAD_SEED}); scores are not meaningful until it is trained"
    )
}

/// Typed access to config fields with errors that name the field.
pub(crate) struct Fields<'a> {
    pub path: &'a Path,
    pub obj: &'a serde_json::Map<String, Value>,
}

impl Fields<'_> {
    pub fn usize(&self, key: &str) -> Result<usize> {
        match self.obj.get(key) {
            None => Err(Error::config(self.path, key, "missing")),
            Some(v) => v
                .as_u64()
                .filter(|x| *x > 0)
                .map(|x| x as usize)
                .ok_or_else(|| Error::config(self.path, key, format!("expected a positive integer, found {v}"))),
        }
    }
    pub fn usize_or(&self, key: &str, default: usize) -> Result<usize> {
        if self.obj.get(key).is_none_or(Value::is_null) { Ok(default) } else { self.usize(key) }
    }
    pub fn f64_or(&self, key: &str, default: f64) -> Result<f64> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_f64()
                .filter(|x| *x > 0.0)
                .ok_or_else(|| Error::config(self.path, key, format!("expected a positive number, found {v}"))),
        }
    }
    /// A string field that, when given, must be `only` (a variant this code does not implement
    /// is an error, never a silently different model).
    pub fn only(&self, key: &str, only: &str) -> Result<()> {
        match self.obj.get(key).and_then(Value::as_str) {
            Some(v) if v != only => Err(Error::config(self.path, key, format!("`{v}` is not supported (only {only})"))),
            _ => Ok(()),
        }
    }
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v.as_bool().ok_or_else(|| Error::config(self.path, key, format!("expected true or false, found {v}"))),
        }
    }
}


/// Move a checked host tensor to the device as a parameter of rank `D`.
pub(crate) fn param<const D: usize>(t: &HostTensor, device: &Device) -> Param<Tensor<D>> {
    named(Param::from_tensor(Tensor::<D>::from_data(TensorData::new(t.to_f32(), t.shape.clone()), device)), &t.name)
}

/// Assert a tensor's shape, naming the tensor, its file, and where the expectation comes from.
pub(crate) fn expect_shape(name: &str, t: &HostTensor, want: &[usize], why: &str) -> Result<()> {
    if t.shape != want {
        return Err(Error::tensor(&t.file, name, format!("has shape {:?}, expected {:?} ({why})", t.shape, want)));
    }
    Ok(())
}

/// Deterministic uniform samples in [-bound, bound) for freshly initialised layers
/// (splitmix64; the seed is part of the reported result).
pub(crate) fn uniform(n: usize, bound: f32, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let unit = (z >> 40) as f32 / (1u64 << 24) as f32; // [0, 1)
            (unit * 2.0 - 1.0) * bound
        })
        .collect()
}

/// The flat rows `i · len + last[i]` that pool each sequence of a (batch, len) batch.
pub fn pooled_rows(last: &[usize], len: usize, device: &Device) -> Tensor<1, Int> {
    Tensor::<1, Int>::from_data(pooled_rows_data(last, len), device)
}

/// [`pooled_rows`] on the host.
pub fn pooled_rows_data(last: &[usize], len: usize) -> TensorData {
    let rows: Vec<i64> = last.iter().enumerate().map(|(i, p)| (i * len + p) as i64).collect();
    let n = rows.len();
    TensorData::new(rows, [n])
}
