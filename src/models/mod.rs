//! Reranker models, one file per architecture (config, weights, forward).

pub mod bert;
pub mod gpt_neox;
pub mod layers;
pub mod mamba;

use crate::error::{Error, Result};
use crate::loader::HostTensor;
use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};

/// Move a checked host tensor to the device as a parameter of rank `D`.
pub(crate) fn param<const D: usize>(t: &HostTensor, device: &Device) -> Param<Tensor<D>> {
    Param::from_tensor(Tensor::<D>::from_data(TensorData::new(t.data.clone(), t.shape.clone()), device))
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
