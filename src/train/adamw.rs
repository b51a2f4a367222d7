//! AdamW with one fused WGSL kernel per parameter tensor on wgpu (`shaders/adamw.wgsl`).
//!
//! burn's AdamW (burn-optim 0.22.1) updates a tensor with about 17 elementwise kernels (9 of them
//! scalar); with Mamba-130m's ~220 parameter tensors that is most of a training step's ~6,400
//! kernel launches (BENCHMARKS.md §5). [`FusedAdamW`] is a `burn::optim::Optimizer` with burn's
//! own state type (`AdamWState`), so its optimizer records are burn's AdamW records and
//! `--resume` reads either. Elsewhere (the CPU backend, and wgpu with
//! `RANKMAMBA_REFERENCE_OPS=1`) it is burn's AdamW itself, so CPU runs stay bit-for-bit what
//! they were.

use crate::ops::kernel::{arguments, cube, f32_lanes, is_wgsl_device, kernel_id, plain, raw};
use burn::backend::wgpu::{CubeDim, CubeTensor, KernelSource, SourceKernel, SourceTemplate};
use burn::cubecl::prelude::{CubeCount, KernelId};
use burn::optim::{AdamW, AdamWConfig, AdamWState, AdaptiveMomentumState, LearningRate, Optimizer};
use burn::tensor::{DType, Device, Tensor};

const ADAMW_WGSL: &str = include_str!("../../shaders/adamw.wgsl");

/// burn's AdamW hyperparameters, and burn's AdamW for the reference path.
#[derive(Clone)]
pub struct FusedAdamW {
    reference: AdamW,
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    weight_decay: f32,
}

impl FusedAdamW {
    /// β₁, β₂, ε and the decoupled weight decay λ (burn's AdamW without AMSGrad or cautious
    /// weight decay, which `train` does not offer).
    pub fn new(beta_1: f32, beta_2: f32, epsilon: f32, weight_decay: f32) -> Self {
        let config = AdamWConfig::new().with_beta_1(beta_1).with_beta_2(beta_2).with_epsilon(epsilon).with_weight_decay(weight_decay);
        Self { reference: config.build(), beta_1, beta_2, epsilon, weight_decay }
    }
}

#[derive(Debug)]
struct AdamWKernel {
    workgroup: u32,
    width: u32,
}

impl KernelSource for AdamWKernel {
    fn source(&self) -> SourceTemplate {
        SourceTemplate::new(ADAMW_WGSL).register("wg", self.workgroup.to_string()).register("width", self.width.to_string()).register("ty", f32_lanes(self.width))
    }
    fn id(&self) -> KernelId {
        kernel_id::<Self>().info((self.workgroup, self.width))
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// A contiguous buffer this step may overwrite: `t` itself when nothing else holds it, else a
/// copy.
fn writable(t: CubeTensor) -> CubeTensor {
    let t = burn::backend::wgpu::into_contiguous(t);
    if t.can_mut() && t.is_contiguous_buffer() {
        t
    } else {
        t.copy()
    }
}

impl Optimizer for FusedAdamW {
    type State<const D: usize> = AdamWState<D>;

    fn step<const D: usize>(&self, lr: LearningRate, tensor: Tensor<D>, grad: Tensor<D>, state: Option<Self::State<D>>) -> (Tensor<D>, Option<Self::State<D>>) {
        let (shape, device) = (tensor.shape(), tensor.device());
        if !is_wgsl_device(&device) || tensor.dtype() != DType::F32 || crate::ops::reference_ops() {
            return self.reference.step(lr, tensor, grad, state);
        }
        let n = shape.num_elements();
        let time = state.as_ref().map_or(0, |s| s.momentum.time) + 1;
        let (param, grad) = (writable(raw(tensor.reshape([n]))), cube(grad.reshape([n])));
        let (m, v) = match state {
            Some(s) => (writable(raw(s.momentum.moment_1.reshape([n]))), writable(raw(s.momentum.moment_2.reshape([n])))),
            // first step: fresh buffers, written before they are read
            None => (raw(Tensor::<1>::empty([n], &device)), raw(Tensor::<1>::empty([n], &device))),
        };
        let width = if n % 4 == 0 { 4 } else { 1 };
        let count = n / width;
        if count > 0 {
            // the scalars as burn computes them (f64 decay, f32 powers)
            let decay = (1.0 - lr * self.weight_decay as f64) as f32;
            let c1 = 1f32 - self.beta_1.powi(time as i32);
            let c2 = 1f32 - self.beta_2.powi(time as i32);
            let params = [
                count as u32,
                (time == 1) as u32,
                self.beta_1.to_bits(),
                (1.0 - self.beta_1).to_bits(),
                self.beta_2.to_bits(),
                (1.0 - self.beta_2).to_bits(),
                c1.to_bits(),
                c2.to_bits(),
                self.epsilon.to_bits(),
                decay.to_bits(),
                (lr as f32).to_bits(),
                0,
            ];
            let client = &param.client;
            let props = client.properties();
            let workgroup = props.hardware.max_units_per_cube.clamp(32, 256);
            let groups = (count as u32).div_ceil(workgroup).clamp(1, props.hardware.max_cube_count.0);
            let args = arguments(&[&param, &grad, &m, &v], &params);
            client.launch(Box::new(SourceKernel::new(AdamWKernel { workgroup, width: width as u32 }, CubeDim::new_1d(workgroup))), CubeCount::Static(groups, 1, 1), args);
        }
        let back = |t: CubeTensor| plain::<1>(t).reshape(shape.clone());
        let momentum = AdaptiveMomentumState::new(time, back(m), back(v));
        (back(param), Some(AdamWState::new(momentum)))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        <AdamW as Optimizer>::to_device(state, device)
    }
}
