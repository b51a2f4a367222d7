//! Mamba's causal depthwise convolution and its SiLU, `u = SiLU(conv1d(x) + bias)` with K − 1
//! zeros before each sequence (spec §6.1), on (batch, len, E) activations.
//!
//! The reference is burn's `conv1d` (channels first, grouped, left padding) and `silu`; burn's
//! wgpu backend runs it as a general 2-D direct convolution plus a transposed convolution for
//! the input gradient, with transposes to and from the channels-first layout around it
//! (BENCHMARKS.md §5). On wgpu the WGSL kernels (`shaders/causal_conv1d*.wgsl`) read the
//! (batch, len, E) layout directly, fuse the SiLU, and under autodiff the backward
//! recomputes the pre-activation instead of keeping it; dw and dbias come out as per-chunk
//! partials summed by `ops::sum_rows`.

use crate::ops::kernel::{arguments, cube, empty, empty_f32, f32_lanes, is_wgsl_device, kernel_id, out_lanes, plain};
use crate::ops::sum_rows::{row_chunks, sum_rows_wgpu};
use burn::backend::wgpu::{CubeDim, CubeTensor, KernelSource, SourceKernel, SourceTemplate};
use burn::cubecl::prelude::{CubeCount, KernelId};
use burn::tensor::activation::silu;
use burn::tensor::module::conv1d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Tensor};

const FORWARD_WGSL: &str = include_str!("../../shaders/causal_conv1d.wgsl");
const BACKWARD_WGSL: &str = include_str!("../../shaders/causal_conv1d_backward.wgsl");

/// Threads a launch aims for (see `ops::sum_rows`); the backward's threads each sum their rows'
/// share of dw and dbias, so it keeps longer runs of rows.
const FORWARD_THREADS: usize = 1 << 20;
const BACKWARD_THREADS: usize = 1 << 17;
const MIN_ROWS_PER_THREAD: usize = 8;

/// `SiLU(causal_conv1d(x, weight) + bias)` for `x` (batch, len, E), `weight` (E, 1, K) as
/// PyTorch stores it, `bias` (E): (batch, len, E).
pub fn causal_conv1d_silu(x: Tensor<3>, weight: Tensor<3>, bias: Option<Tensor<1>>) -> Tensor<3> {
    causal_conv1d_silu_grad_as(x, weight, bias, DType::F32)
}

/// [`causal_conv1d_silu`] whose backward writes x's gradient in `dx` (f32 or f16) where the WGSL
/// kernels run, else in f32: for a tensor-core linear layer's backward that would cast it
/// (`ops::linear::takes_f16`).
pub fn causal_conv1d_silu_grad_as(x: Tensor<3>, weight: Tensor<3>, bias: Option<Tensor<1>>, dx: DType) -> Tensor<3> {
    use burn::backend::autodiff::checkpoint::strategy::{BalancedCheckpointing, NoCheckpointing};
    use burn::backend::GradientCheckpointingStrategy as Strategy;
    let device = x.device();
    if !is_wgsl_device(&device) || x.dtype() != DType::F32 || crate::ops::reference_ops() {
        return reference(x, weight, bias);
    }
    let [e, _, _] = weight.dims();
    let bias = bias.unwrap_or_else(|| Tensor::zeros([e], &device));
    match device.gradient_checkpointing_strategy() {
        None => {
            let [b, l, _] = x.dims();
            plain(forward_wgpu(cube(x), cube(weight_t(weight)), cube(bias), b, l))
        }
        Some(Strategy::Balanced) => autodiff::conv_autodiff::<BalancedCheckpointing>(x, weight, bias, dx),
        Some(_) => autodiff::conv_autodiff::<NoCheckpointing>(x, weight, bias, dx),
    }
}

/// burn's conv1d on the channels-first transpose, cut back to `len` outputs.
pub fn reference(x: Tensor<3>, weight: Tensor<3>, bias: Option<Tensor<1>>) -> Tensor<3> {
    let [_, l, e] = x.dims();
    let k = weight.dims()[2];
    let conv = conv1d(x.swap_dims(1, 2), weight, bias, ConvOptions::new_with_padding([1], [(k - 1, 0)], [1], e));
    silu(conv.narrow(2, 0, l).swap_dims(1, 2))
}

/// (E, 1, K) → (K, E), the layout the kernels read a tap of all channels from.
fn weight_t(weight: Tensor<3>) -> Tensor<2> {
    let [e, _, k] = weight.dims();
    weight.reshape([e, k]).transpose()
}

#[derive(Debug)]
struct ConvKernel {
    backward: bool,
    workgroup: u32,
    width: u32,
    k: u32,
    /// the backward's dx in f16
    dx_f16: bool,
}

impl KernelSource for ConvKernel {
    fn source(&self) -> SourceTemplate {
        SourceTemplate::new(if self.backward { BACKWARD_WGSL } else { FORWARD_WGSL })
            .register("wg", self.workgroup.to_string())
            .register("width", self.width.to_string())
            .register("ty", f32_lanes(self.width))
            .register("k", self.k.to_string())
            .register("enable_f16", if self.dx_f16 { "enable f16;" } else { "" })
            .register("dx_ty", out_lanes(if self.dx_f16 { DType::F16 } else { DType::F32 }, self.width))
    }
    fn id(&self) -> KernelId {
        kernel_id::<Self>().info((self.backward, self.workgroup, self.width, self.k, self.dx_f16))
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// Sizes of one launch: (E, K, column width, column groups, workgroup, chunks, rows per chunk).
struct Launch {
    e: usize,
    k: usize,
    width: usize,
    groups: usize,
    workgroup: u32,
    chunks: usize,
    per: usize,
}

fn launch_plan(x: &CubeTensor, wt: &CubeTensor, rows: usize, threads: usize) -> Launch {
    let props = x.client.properties();
    let (k, e) = (wt.meta.shape()[0], wt.meta.shape()[1]);
    let width = if e % 4 == 0 { 4 } else { 1 };
    let groups = e / width;
    let workgroup = props.hardware.max_units_per_cube.clamp(32, 256).min(groups.next_power_of_two().max(32) as u32);
    let (chunks, per) = row_chunks(rows, groups, threads, MIN_ROWS_PER_THREAD, props.hardware.max_cube_count.1 as usize);
    Launch { e, k, width, groups, workgroup, chunks, per }
}

/// u for contiguous x (batch, len, E), wt (K, E), bias (E).
fn forward_wgpu(x: CubeTensor, wt: CubeTensor, bias: CubeTensor, batch: usize, len: usize) -> CubeTensor {
    let rows = batch * len;
    let p = launch_plan(&x, &wt, rows, FORWARD_THREADS);
    let u = empty_f32(&x, &[batch, len, p.e]);
    if rows > 0 {
        let args = arguments(&[&x, &wt, &bias, &u], &[rows as u32, len as u32, p.groups as u32, p.per as u32]);
        let kernel = ConvKernel { backward: false, workgroup: p.workgroup, width: p.width as u32, k: p.k as u32, dx_f16: false };
        let count = CubeCount::Static((p.groups as u32).div_ceil(p.workgroup), p.chunks as u32, 1);
        x.client.launch(Box::new(SourceKernel::new(kernel, CubeDim::new_1d(p.workgroup))), count, args);
    }
    u
}

/// (dx (batch, len, E) in `dx_dtype`, dw (E, 1, K), dbias (E)) for contiguous inputs.
fn backward_wgpu(x: CubeTensor, wt: CubeTensor, bias: CubeTensor, du: CubeTensor, batch: usize, len: usize, dx_dtype: DType) -> (Tensor<3>, Tensor<3>, Tensor<1>) {
    let rows = batch * len;
    let p = launch_plan(&x, &wt, rows, BACKWARD_THREADS);
    let dx = empty(&x, &[batch, len, p.e], dx_dtype);
    let part = empty_f32(&x, &[p.chunks, (p.k + 1) * p.e]);
    let args = arguments(&[&x, &wt, &bias, &du, &dx, &part], &[rows as u32, len as u32, p.groups as u32, p.per as u32]);
    let kernel = ConvKernel { backward: true, workgroup: p.workgroup, width: p.width as u32, k: p.k as u32, dx_f16: dx_dtype == DType::F16 };
    let count = CubeCount::Static((p.groups as u32).div_ceil(p.workgroup), p.chunks as u32, 1);
    x.client.launch(Box::new(SourceKernel::new(kernel, CubeDim::new_1d(p.workgroup))), count, args);
    let sums = plain::<2>(sum_rows_wgpu(part, p.chunks, (p.k + 1) * p.e)).reshape([p.k + 1, p.e]);
    let dw = sums.clone().narrow(0, 0, p.k).transpose().reshape([p.e, 1, p.k]);
    let db = sums.narrow(0, p.k, 1).reshape([p.e]);
    (plain(dx), dw, db)
}

mod autodiff {
    //! [`causal_conv1d_silu`](super::causal_conv1d_silu) under burn's autodiff: the forward
    //! keeps x, the transposed weight and the bias as the kernels read them; the registered
    //! backward runs the WGSL backward.
    use super::{backward_wgpu, forward_wgpu, weight_t};
    use crate::ops::kernel::{cube, plain, raw};
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::wgpu::{CubeBackend, CubeTensor};
    use burn::backend::{Autodiff, DispatchKindConversion, DispatchTensor};
    use burn::tensor::{DType, Tensor};

    /// the dtype dx is written in
    #[derive(Debug)]
    struct ConvBackward(DType);

    impl Backward<CubeBackend, 3> for ConvBackward {
        /// contiguous x (batch, len, E), wt (K, E), bias (E)
        type State = (CubeTensor, CubeTensor, CubeTensor);
        fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
            let du = cube(plain::<3>(grads.consume::<CubeBackend>(&ops.node)).cast(DType::F32));
            let (x, wt, bias) = ops.state;
            let (b, l) = (x.meta.shape()[0], x.meta.shape()[1]);
            let (dx, dw, db) = backward_wgpu(x, wt, bias, du, b, l, self.0);
            let [px, pw, pb] = ops.parents;
            for (parent, grad) in [(px, raw(dx)), (pw, raw(dw)), (pb, raw(db))] {
                if let Some(node) = parent {
                    grads.register::<CubeBackend>(node.id, grad);
                }
            }
        }
    }

    pub fn conv_autodiff<C: CheckpointStrategy>(x: Tensor<3>, w: Tensor<3>, bias: Tensor<1>, dx: DType) -> Tensor<3>
    where
        DispatchTensor: DispatchKindConversion<Autodiff<CubeBackend, C>>,
    {
        type Ad<C> = Autodiff<CubeBackend, C>;
        let [b, l, _] = x.dims();
        let x = x.try_into_primitive::<Ad<C>>().expect("x on the autodiff device");
        let w = w.try_into_primitive::<Ad<C>>().expect("w on the autodiff device");
        let bias = bias.try_into_primitive::<Ad<C>>().expect("bias on the autodiff device");
        let guards = [x.node(), w.node(), bias.node()];
        let x = cube(plain::<3>(x.into_primitive()));
        let wt = cube(weight_t(plain(w.into_primitive())));
        let bias = cube(plain::<1>(bias.into_primitive()));
        let out = forward_wgpu(x.clone(), wt.clone(), bias.clone(), b, l);
        let res = match ConvBackward(dx).prepare::<C>(guards).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((x, wt, bias), out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        };
        Tensor::<3>::from_primitive::<Ad<C>>(res)
    }
}

#[cfg(test)]
mod tests {
    /// Both passes' variants (widths, tap counts, f16 dx) compile.
    #[cfg(not(target_family = "wasm"))]
    #[test]
    fn every_conv_variant_compiles_to_spirv() {
        use burn::backend::wgpu::KernelSource;
        for (backward, width, k, dx_f16) in [(false, 4, 4, false), (true, 4, 4, true), (true, 1, 3, false), (true, 4, 4, false), (true, 1, 1, false)] {
            let kernel = super::ConvKernel { backward, workgroup: 256, width, k, dx_f16 };
            crate::ops::kernel::wgsl_to_spirv(&kernel.source().complete(), &format!("{kernel:?}"));
        }
    }
}
