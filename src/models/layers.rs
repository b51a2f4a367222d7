//! Building blocks shared by the transformer models: PyTorch-layout linear layers and LayerNorm.

use crate::ops::linear3;
use burn::module::{Module, Param};
use burn::tensor::Tensor;

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

pub fn lin_apply(x: Tensor<3>, lin: &Linear) -> Tensor<3> {
    linear3(x, &lin.weight.val(), Some(&lin.bias.val()))
}

pub fn layer_norm(x: Tensor<3>, n: &LayerNorm, eps: f64) -> Tensor<3> {
    let mean = x.clone().mean_dim(2);
    let centered = x - mean;
    let var = centered.clone().powi_scalar(2).mean_dim(2);
    let g: Tensor<3> = n.weight.val().unsqueeze();
    let b: Tensor<3> = n.bias.val().unsqueeze();
    centered.div(var.add_scalar(eps).sqrt()).mul(g).add(b)
}
