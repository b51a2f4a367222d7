//! Building blocks shared by the transformer models: PyTorch-layout linear layers, LayerNorm,
//! and the loaders' named view of a checkpoint.

use super::{expect_shape, param};
use crate::error::{Error, Result};
use crate::loader::HostTensor;
use crate::ops::linear3_with;
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Module, Debug)]
pub struct LayerNorm {
    /// (d)
    pub weight: Param<Tensor<1>>,
    /// (d)
    pub bias: Param<Tensor<1>>,
}

#[derive(Module, Debug)]
pub struct Linear {
    /// (out, in), PyTorch layout
    pub weight: Param<Tensor<2>>,
    /// (out)
    pub bias: Param<Tensor<1>>,
}

/// `x · Wᵀ + b`; in mixed precision (tensor cores, f16 inputs) when `mixed`.
pub fn lin_apply(x: Tensor<3>, lin: &Linear, mixed: bool) -> Tensor<3> {
    linear3_with(x, &lin.weight.val(), Some(&lin.bias.val()), mixed)
}

pub fn layer_norm(x: Tensor<3>, n: &LayerNorm, eps: f64) -> Tensor<3> {
    crate::ops::norm::layer_norm(x, n.weight.val(), n.bias.val(), eps)
}

/// The weights of a transformer checkpoint by canonical name (model prefix stripped), with
/// the loaders' common moves: take a tensor with its shape asserted, build a linear layer or a
/// LayerNorm, count layers from the keys.
pub(crate) struct NamedWeights<'a> {
    /// canonical name → (stored name, tensor)
    pub body: BTreeMap<String, (&'a str, &'a HostTensor)>,
    /// where the weights came from, for "missing" errors
    pub source: &'a Path,
    /// config.json, named in shape errors as where the expectation comes from
    pub config: &'a Path,
    pub device: &'a Device,
}

impl NamedWeights<'_> {
    pub fn take(&self, k: &str, want: &[usize]) -> Result<&HostTensor> {
        let (name, t) = self.body.get(k).copied().ok_or_else(|| Error::tensor(self.source, k, "missing from the checkpoint"))?;
        expect_shape(name, t, want, &format!("from {}", self.config.display()))?;
        Ok(t)
    }

    /// `{prefix}.weight` (out, in) and `{prefix}.bias` (out); a zero bias when `bias` is false.
    pub fn linear(&self, prefix: &str, out: usize, inp: usize, bias: bool) -> Result<Linear> {
        let w = self.take(&format!("{prefix}.weight"), &[out, inp])?;
        let weight = param(w, self.device);
        let bias = if bias {
            param(self.take(&format!("{prefix}.bias"), &[out])?, self.device)
        } else {
            // saved next to the weight once trained
            let name = format!("{}.bias", w.name.strip_suffix(".weight").unwrap_or(&w.name));
            super::named(Param::from_tensor(Tensor::<1>::zeros([out], self.device)), &name)
        };
        Ok(Linear { weight, bias })
    }

    pub fn norm(&self, prefix: &str, width: usize) -> Result<LayerNorm> {
        Ok(LayerNorm {
            weight: param(self.take(&format!("{prefix}.weight"), &[width])?, self.device),
            bias: param(self.take(&format!("{prefix}.bias"), &[width])?, self.device),
        })
    }

    /// Layers counted from the keys `{prefix}N.…`, never from the config; a declared count that
    /// differs becomes a warning. `first` names the tensor a layerless checkpoint lacks.
    pub fn count_layers(&self, prefix: &str, declared: usize, first: &str, warnings: &mut Vec<String>) -> Result<usize> {
        let n = self
            .body
            .keys()
            .filter_map(|k| k.strip_prefix(prefix)?.split('.').next()?.parse::<usize>().ok())
            .max()
            .map_or(0, |m| m + 1);
        if n == 0 {
            return Err(Error::tensor(self.source, first, "missing: the checkpoint has no layers"));
        }
        if n != declared {
            warnings.push(format!("{}: declares {declared} layers, the weights have {n}; using {n}", self.config.display()));
        }
        Ok(n)
    }
}
