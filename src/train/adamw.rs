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
use burn::cubecl::bytes::Bytes;
use burn::tensor::{DType, Device, Shape, Tensor};
use std::sync::{Arc, Mutex};

const ADAMW_WGSL: &str = include_str!("../../shaders/adamw.wgsl");

/// burn's AdamW hyperparameters, and burn's AdamW for the reference path.
#[derive(Clone)]
pub struct FusedAdamW {
    reference: AdamW,
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    weight_decay: f32,
    /// shared by the clones burn's optimizer keeps
    step: Arc<Mutex<StepScalars>>,
}

/// The scalars that change from step to step (1 − β₁ᵗ, 1 − β₂ᵗ, 1 − lr·λ, lr) in one small
/// device buffer that every launch of a step reads. A captured training step reads the same
/// buffer on every replay, so `train` refreshes it before each step ([`FusedAdamW::prepare_step`]).
#[derive(Default)]
struct StepScalars {
    buffer: Option<CubeTensor>,
    /// the bits the buffer holds
    values: Option<[u32; 4]>,
    /// steps of this optimizer that copied a parameter or moment instead of updating it in place
    copies: usize,
    /// AdamW's time for the next step, from the caller ([`FusedAdamW::prepare_step`]): replays
    /// of a captured step do not advance the time kept in the per-parameter state
    time: Option<usize>,
}

impl FusedAdamW {
    /// β₁, β₂, ε and the decoupled weight decay λ (burn's AdamW without AMSGrad or cautious
    /// weight decay, which `train` does not offer).
    pub fn new(beta_1: f32, beta_2: f32, epsilon: f32, weight_decay: f32) -> Self {
        let config = AdamWConfig::new().with_beta_1(beta_1).with_beta_2(beta_2).with_epsilon(epsilon).with_weight_decay(weight_decay);
        Self { reference: config.build(), beta_1, beta_2, epsilon, weight_decay, step: Arc::default() }
    }

    /// The step scalars of learning rate `lr` at AdamW time `time` (as burn computes them: f64
    /// decay, f32 powers).
    fn scalars(&self, lr: f64, time: usize) -> [u32; 4] {
        let decay = (1.0 - lr * self.weight_decay as f64) as f32;
        let c1 = 1f32 - self.beta_1.powi(time as i32);
        let c2 = 1f32 - self.beta_2.powi(time as i32);
        [c1.to_bits(), c2.to_bits(), decay.to_bits(), (lr as f32).to_bits()]
    }

    /// The step-scalars buffer on `like`'s device holding (lr, time): written only when it
    /// holds other values (a write is queued after the launches before it, so earlier steps
    /// read their own values).
    fn step_buffer(&self, like: &CubeTensor, lr: f64, time: usize) -> CubeTensor {
        let values = self.scalars(lr, time);
        let mut slot = self.step.lock().unwrap_or_else(|e| e.into_inner());
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        match &slot.buffer {
            Some(b) if slot.values == Some(values) => return b.clone(),
            Some(b) => like.client.write(&b.handle, Bytes::from_bytes_vec(bytes)),
            None => {
                let handle = like.client.create_from_slice(&bytes);
                slot.buffer = Some(CubeTensor::new_contiguous(like.client.clone(), like.device.clone(), Shape::new([4]), handle, DType::F32));
            }
        }
        slot.values = Some(values);
        slot.buffer.clone().expect("set above")
    }

    /// The next step's learning rate `lr` and AdamW time `time` (the same for every parameter:
    /// the step's number), before it is queued. The step scalars are written to the device
    /// here, because a captured step must not write them itself and a replayed one reads them
    /// from the buffer; and `time` overrides the one kept in each parameter's state, which
    /// replays do not advance (so their records hold the capture's).
    pub fn prepare_step(&self, device: &Device, lr: f64, time: usize) {
        self.step.lock().unwrap_or_else(|e| e.into_inner()).time = Some(time);
        if !is_wgsl_device(device) || crate::ops::reference_ops() {
            return;
        }
        let existing = self.step.lock().unwrap_or_else(|e| e.into_inner()).buffer.clone();
        let like = existing.unwrap_or_else(|| raw(Tensor::<1>::zeros([1], device).inner()));
        self.step_buffer(&like, lr, time);
    }

    /// How many parameter updates so far copied a tensor instead of updating it in place (a
    /// captured step is only replayable when none did).
    pub fn copies(&self) -> usize {
        self.step.lock().unwrap_or_else(|e| e.into_inner()).copies
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
/// copy (counted in `copies`). (The allocation may be larger than the tensor, e.g. a 1-element
/// bias: the kernel writes only the tensor's elements.)
fn writable(t: CubeTensor, copies: &mut usize) -> CubeTensor {
    let t = burn::backend::wgpu::into_contiguous(t);
    if t.can_mut() {
        t
    } else {
        *copies += 1;
        t.copy()
    }
}

impl Optimizer for FusedAdamW {
    type State<const D: usize> = AdamWState<D>;

    fn step<const D: usize>(&self, lr: LearningRate, tensor: Tensor<D>, grad: Tensor<D>, state: Option<Self::State<D>>) -> (Tensor<D>, Option<Self::State<D>>) {
        let (shape, device) = (tensor.shape(), tensor.device());
        let prepared = self.step.lock().unwrap_or_else(|e| e.into_inner()).time;
        let time = prepared.unwrap_or_else(|| state.as_ref().map_or(0, |s| s.momentum.time) + 1);
        if !is_wgsl_device(&device) || tensor.dtype() != DType::F32 || crate::ops::reference_ops() {
            let state = state.map(|mut s| {
                s.momentum.time = time - 1;
                s
            });
            return self.reference.step(lr, tensor, grad, state);
        }
        let n = shape.num_elements();
        let mut copies = 0;
        let (param, grad) = (writable(raw(tensor.reshape([n])), &mut copies), cube(grad.reshape([n])));
        let (m, v) = match state {
            Some(s) => (writable(raw(s.momentum.moment_1.reshape([n])), &mut copies), writable(raw(s.momentum.moment_2.reshape([n])), &mut copies)),
            // first step: fresh buffers, written before they are read
            None => (raw(Tensor::<1>::empty([n], &device)), raw(Tensor::<1>::empty([n], &device))),
        };
        let width = if n % 4 == 0 { 4 } else { 1 };
        let count = n / width;
        if count > 0 {
            let step = self.step_buffer(&param, lr, time);
            let params = [
                count as u32,
                (time == 1) as u32,
                self.beta_1.to_bits(),
                (1.0 - self.beta_1).to_bits(),
                self.beta_2.to_bits(),
                (1.0 - self.beta_2).to_bits(),
                self.epsilon.to_bits(),
                0,
            ];
            let client = &param.client;
            let props = client.properties();
            let workgroup = props.hardware.max_units_per_cube.clamp(32, 256);
            let groups = (count as u32).div_ceil(workgroup).clamp(1, props.hardware.max_cube_count.0);
            let args = arguments(&[&param, &grad, &m, &v, &step], &params);
            client.launch(Box::new(SourceKernel::new(AdamWKernel { workgroup, width: width as u32 }, CubeDim::new_1d(workgroup))), CubeCount::Static(groups, 1, 1), args);
        }
        if copies > 0 {
            self.step.lock().unwrap_or_else(|e| e.into_inner()).copies += 1;
        }
        let back = |t: CubeTensor| plain::<1>(t).reshape(shape.clone());
        let momentum = AdaptiveMomentumState::new(time, back(m), back(v));
        (back(param), Some(AdamWState::new(momentum)))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        <AdamW as Optimizer>::to_device(state, device)
    }
}
