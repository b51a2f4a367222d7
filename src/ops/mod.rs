//! Tensor operations with a reference implementation in burn tensor ops. The fast WGSL kernels
//! (`shaders/`) plug in behind the same signatures.

pub mod attention;
pub mod selective_scan;

use burn::tensor::Tensor;

/// `x · wᵀ (+ b)` for `x` of shape (batch, len, in) and a PyTorch-layout weight (out, in).
pub fn linear3(x: Tensor<3>, weight: &Tensor<2>, bias: Option<&Tensor<1>>) -> Tensor<3> {
    let [b, l, i] = x.dims();
    let out = weight.dims()[0];
    let y = x.reshape([b * l, i]).matmul(weight.clone().transpose());
    let y = match bias {
        Some(bias) => y + bias.clone().unsqueeze_dim(0),
        None => y,
    };
    y.reshape([b, l, out])
}

/// RMSNorm over the last dim: `x / sqrt(mean(x²) + eps) · g` (weight only, f32).
pub fn rms_norm<const D: usize>(x: Tensor<D>, weight: &Tensor<1>, eps: f64) -> Tensor<D> {
    let rms = x.clone().powi_scalar(2).mean_dim(D - 1).add_scalar(eps).sqrt();
    let g: Tensor<D> = weight.clone().unsqueeze();
    x.div(rms).mul(g)
}
