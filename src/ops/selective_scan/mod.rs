//! Selective scan (Mamba-1, spec §6.1), fused with the Δ bias + softplus, the D skip and the
//! SiLU(z) gate:
//!
//! Δ_t = softplus(delta_t + delta_bias)
//! h_t = exp(Δ_t·A) ⊙ h_{t−1} + Δ_t·B_t·u_t   (ZOH for A, Euler for B; h_{−1} = 0, f32)
//! out_t = (C_t·h_t + D ⊙ u_t) ⊙ SiLU(z_t)
//!
//! [`selective_scan`] runs the WGSL kernels on burn's wgpu backend (`shaders/selective_scan*.wgsl`;
//! under autodiff with the WGSL backward registered, see [`autodiff`]) and the reference in burn
//! tensor ops everywhere else, where burn's autodiff differentiates it.

pub mod autodiff;
pub mod reference;
pub mod wgpu;

pub use reference::{selective_scan_reference, HostScan};

use burn::tensor::Tensor;

/// Inputs of one scan. All f32.
pub struct ScanInputs {
    /// (batch, len, d_inner): the post-conv SiLU activation
    pub u: Tensor<3>,
    /// (batch, len, d_inner): dt_proj output *before* its bias and the softplus
    pub delta: Tensor<3>,
    /// (d_inner): dt_proj bias, added inside the softplus
    pub delta_bias: Tensor<1>,
    /// (d_inner, N): A = −exp(A_log), strictly negative
    pub a: Tensor<2>,
    /// (batch, len, N), shared by all channels
    pub b: Tensor<3>,
    /// (batch, len, N), shared by all channels
    pub c: Tensor<3>,
    /// (d_inner)
    pub d: Tensor<1>,
    /// (batch, len, d_inner): gate input; `None` returns the ungated y
    pub z: Option<Tensor<3>>,
}

/// Results the WGSL kernels write in f16 instead of f32, for tensor-core linear layers that
/// would cast them (`ops::linear::takes_f16`: the same rounding, without the cast). The
/// reference path writes f32 whatever this says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct HalfResults {
    /// the output
    pub out: bool,
    /// the gradient of `delta`
    pub delta_grad: bool,
    /// the gradient of `z`
    pub z_grad: bool,
}

/// The scan on the best path for the inputs' device.
pub fn selective_scan(x: ScanInputs) -> Tensor<3> {
    selective_scan_with(x, HalfResults::default())
}

/// [`selective_scan`], writing what `half` says in f16 where the WGSL kernels run.
pub fn selective_scan_with(x: ScanInputs, half: HalfResults) -> Tensor<3> {
    use burn::backend::autodiff::checkpoint::strategy::{BalancedCheckpointing, NoCheckpointing};
    use burn::backend::GradientCheckpointingStrategy as Strategy;
    let device = x.u.device();
    if !wgpu::is_wgsl_device(&device) {
        return selective_scan_reference(x);
    }
    match device.gradient_checkpointing_strategy() {
        None => wgpu::forward(x, &wgpu::ScanOptions { half, ..Default::default() }).out,
        // the WGSL backward reduces across channels with subgroup operations
        Some(_) if x.z.is_none() || !crate::device::wgpu_has_subgroups() => selective_scan_reference(x),
        Some(Strategy::Balanced) => autodiff::selective_scan_autodiff::<BalancedCheckpointing>(x, half),
        Some(_) => autodiff::selective_scan_autodiff::<NoCheckpointing>(x, half),
    }
}
