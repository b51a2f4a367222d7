//! Scaled dot-product attention, reference implementation in burn tensor ops (the oracle and
//! fallback of a fused WGSL kernel).

use burn::tensor::activation::softmax;
use burn::tensor::Tensor;

/// softmax(q·kᵀ·scale + mask)·v with q, k, v (batch, heads, len, head_dim) and an additive
/// mask broadcast over heads and queries: the reference the WGSL attention kernel is checked
/// against.
pub fn attention_reference(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, mask: Tensor<4>, scale: f64) -> Tensor<4> {
    let scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(scale) + mask;
    softmax(scores, 3).matmul(v)
}
