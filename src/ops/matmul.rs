//! A tensor-core matmul in hand-written WGSL (`shaders/matmul_coop.wgsl`): f16 inputs, f32
//! accumulation, on wgpu's experimental cooperative matrices. burn's own WGSL matmul cannot reach
//! the tensor cores; this kernel runs on the same wgpu device as the scan and attention kernels.
//! `train --precision mixed` runs the Mamba projections through [`linear_mixed`] (BENCHMARKS.md §5).

use crate::error::{Error, Result};
use crate::ops::kernel::{arguments, client_of, cube, is_wgsl_device, kernel_id, plain};
use burn::backend::wgpu::{CubeDim, CubeTensor, KernelSource, SourceKernel, SourceTemplate};
use burn::cubecl::prelude::{CubeCount, KernelId};
use burn::tensor::{DType, Device, Shape, Tensor};

const MATMUL_COOP_WGSL: &str = include_str!("../../shaders/matmul_coop.wgsl");

/// Rows and columns of C one workgroup computes (four subgroups of 4 × 4 tiles of 16 × 16), and
/// the K slice staged in workgroup memory per step.
const BLOCK_M: usize = 128;
const BLOCK_N: usize = 128;
const STEP_K: usize = 64;

/// Whether `device` runs the kernel: WGSL on wgpu with cooperative matrices, f16 storage and
/// subgroups.
pub fn coop_matmul_available(device: &Device) -> bool {
    is_wgsl_device(device) && crate::device::wgpu_has_shader_f16() && crate::device::wgpu_has_cooperative_matrix() && crate::device::wgpu_has_subgroups()
}

#[derive(Debug)]
struct CoopKernel {
    subgroup: u32,
}

impl KernelSource for CoopKernel {
    fn source(&self) -> SourceTemplate {
        SourceTemplate::new(MATMUL_COOP_WGSL).register("sg", self.subgroup.to_string())
    }
    fn id(&self) -> KernelId {
        kernel_id::<Self>().info(self.subgroup)
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// `a · b` for `a` (m, k) and `b` (k, n), both cast to f16, accumulated in f32; m and n
/// multiples of 128, k of 64.
pub fn matmul_coop(a: Tensor<2>, b: Tensor<2>) -> Result<Tensor<2>> {
    let device = a.device();
    if !coop_matmul_available(&device) {
        return Err(Error::Backend("this adapter has no cooperative matrices with f16 (wgpu EXPERIMENTAL_COOPERATIVE_MATRIX)".into()));
    }
    let ([m, k], [k2, n]) = (a.dims(), b.dims());
    if k != k2 || m % BLOCK_M != 0 || n % BLOCK_N != 0 || k % STEP_K != 0 {
        return Err(Error::Input(format!("matmul_coop: ({m}, {k}) · ({k2}, {n}) needs equal inner sizes, m % {BLOCK_M}, n % {BLOCK_N}, k % {STEP_K} = 0")));
    }
    let client = client_of(&device);
    // four subgroups per workgroup; the shader needs every subgroup full, so the adapter's one
    // subgroup size (NVIDIA: 32)
    let props = client.properties();
    let (sg, sg_min) = (props.hardware.plane_size_max.max(1), props.hardware.plane_size_min.max(1));
    if sg != sg_min {
        return Err(Error::Backend(format!("matmul_coop: subgroup size varies on this adapter ({sg_min}..{sg})")));
    }
    let f16 = |t: Tensor<2>| if t.dtype() == DType::F16 { t } else { t.cast(DType::F16) };
    let (a, b) = (cube(f16(a)), cube(f16(b)));
    let out = CubeTensor::new_contiguous(client.clone(), a.device.clone(), Shape::new([m, n]), client.empty(m * n * 4), DType::F32);
    let args = arguments(&[&a, &b, &out], &[m as u32, n as u32, k as u32, 0]);
    let count = CubeCount::Static((n / BLOCK_N) as u32, (m / BLOCK_M) as u32, 1);
    client.launch(Box::new(SourceKernel::new(CoopKernel { subgroup: sg }, CubeDim::new_1d(4 * sg))), count, args);
    Ok(plain(out))
}

/// Whether `linear_mixed` takes the tensor-core path for `x` (m, k) · `w`ᵀ (n, k): every side a
/// multiple of 128 (the block; also a multiple of the K step), so the forward and both backward
/// products fit the kernel.
fn fits(m: usize, n: usize, k: usize) -> bool {
    [m, n, k].iter().all(|s| s % BLOCK_M == 0 && s % BLOCK_N == 0 && s % STEP_K == 0)
}

/// `x · wᵀ` for `x` (m, k) and a PyTorch-layout weight `w` (n, k), in mixed precision: f16
/// inputs and f32 accumulation on tensor cores where the device has cooperative matrices and the
/// shapes fit (forward, and under autodiff both backward products); the f32 matmul elsewhere.
/// Weights and gradients stay f32.
pub fn linear_mixed(x: Tensor<2>, w: Tensor<2>) -> Tensor<2> {
    use burn::backend::autodiff::checkpoint::strategy::{BalancedCheckpointing, NoCheckpointing};
    use burn::backend::GradientCheckpointingStrategy as Strategy;
    let device = x.device();
    let ([m, k], n) = (x.dims(), w.dims()[0]);
    if !fits(m, n, k) || !coop_matmul_available(&device) {
        return x.matmul(w.transpose());
    }
    match device.gradient_checkpointing_strategy() {
        None => coop_or_f32(x, w.transpose()),
        Some(Strategy::Balanced) => autodiff::linear_autodiff::<BalancedCheckpointing>(x, w),
        Some(_) => autodiff::linear_autodiff::<NoCheckpointing>(x, w),
    }
}

/// `a · b` on the tensor cores, or in f32 where the kernel declines (e.g. an adapter whose
/// subgroup size varies).
fn coop_or_f32(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    match matmul_coop(a.clone(), b.clone()) {
        Ok(c) => c,
        Err(_) => a.matmul(b),
    }
}

mod autodiff {
    //! `linear_mixed` under burn's autodiff: the forward keeps x and w (f32); the registered
    //! backward computes dx = dy · w and dw = dyᵀ · x with the same tensor-core kernel.
    use super::coop_or_f32;
    use crate::ops::kernel::{plain, raw};
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::wgpu::{CubeBackend, CubeTensor};
    use burn::backend::{Autodiff, DispatchKindConversion, DispatchTensor};
    use burn::tensor::Tensor;

    #[derive(Debug)]
    struct LinearBackward;

    impl Backward<CubeBackend, 2> for LinearBackward {
        type State = (CubeTensor, CubeTensor);
        fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
            let dy = plain::<2>(grads.consume::<CubeBackend>(&ops.node));
            let (x, w) = (plain::<2>(ops.state.0), plain::<2>(ops.state.1));
            let [px, pw] = ops.parents;
            if let Some(node) = px {
                let dx = coop_or_f32(dy.clone(), w);
                grads.register::<CubeBackend>(node.id, raw(dx));
            }
            if let Some(node) = pw {
                let dw = coop_or_f32(dy.transpose(), x);
                grads.register::<CubeBackend>(node.id, raw(dw));
            }
        }
    }

    pub fn linear_autodiff<C: CheckpointStrategy>(x: Tensor<2>, w: Tensor<2>) -> Tensor<2>
    where
        DispatchTensor: DispatchKindConversion<Autodiff<CubeBackend, C>>,
    {
        type Ad<C> = Autodiff<CubeBackend, C>;
        let x = x.try_into_primitive::<Ad<C>>().expect("x on the autodiff device");
        let w = w.try_into_primitive::<Ad<C>>().expect("w on the autodiff device");
        let guards = [x.node(), w.node()];
        let (x, w) = (x.into_primitive(), w.into_primitive());
        let out = coop_or_f32(plain(x.clone()), plain::<2>(w.clone()).transpose());
        let out = raw(out);
        let res = match LinearBackward.prepare::<C>(guards).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((x, w), out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        };
        Tensor::<2>::from_primitive::<Ad<C>>(res)
    }
}
