//! LayerNorm (BERT, GPT-NeoX) and RMSNorm (Mamba) over the last dim.
//!
//! The references are burn tensor ops (a mean, a variance, elementwise steps; under autodiff
//! each one is a node, and the weight gradients are reductions along the row axis, which burn's
//! wgpu backend runs slowly: BENCHMARKS.md §5). On wgpu, where the width is a multiple of 4, the
//! WGSL kernels (`shaders/norm*.wgsl`) do a row per workgroup step in one launch each way; the
//! forward keeps each row's mean and sqrt(var + ε) for the backward, whose weight and bias
//! gradients come out as per-chunk partials summed by `ops::sum_rows`.

use crate::ops::kernel::{arguments, cube, empty, empty_f32, is_wgsl_device, kernel_id, out_lanes, plain};
use crate::ops::sum_rows::{row_chunks, sum_rows_wgpu};
use burn::backend::wgpu::{CubeDim, CubeTensor, KernelSource, SourceKernel, SourceTemplate};
use burn::cubecl::prelude::{CubeCount, KernelId};
use burn::tensor::{DType, Tensor};

const FORWARD_WGSL: &str = include_str!("../../shaders/norm.wgsl");
const BACKWARD_WGSL: &str = include_str!("../../shaders/norm_backward.wgsl");
const WORKGROUP_SUM_WGSL: &str = include_str!("../../shaders/workgroup_sum.wgsl");

/// Workgroups a launch aims for (each walks a chunk of rows), and the fewest rows per chunk.
const TARGET_WORKGROUPS: usize = 2048;
const MIN_ROWS_PER_GROUP: usize = 4;

/// LayerNorm of `x` (…, d) with weight `g` and bias `b` (d).
pub fn layer_norm<const D: usize>(x: Tensor<D>, g: Tensor<1>, b: Tensor<1>, eps: f64) -> Tensor<D> {
    norm(x, g, Some(b), eps, DType::F32)
}

/// RMSNorm of `x` (…, d) with weight `g` (d): `x / sqrt(mean(x²) + eps) · g`.
pub fn rms_norm<const D: usize>(x: Tensor<D>, g: Tensor<1>, eps: f64) -> Tensor<D> {
    norm(x, g, None, eps, DType::F32)
}

/// [`rms_norm`] written in `out` (f32 or f16) where the WGSL kernel runs, else in f32: for a
/// tensor-core matmul that would cast it (`ops::linear::takes_f16`).
pub fn rms_norm_as<const D: usize>(x: Tensor<D>, g: Tensor<1>, eps: f64, out: DType) -> Tensor<D> {
    norm(x, g, None, eps, out)
}

fn norm<const D: usize>(x: Tensor<D>, g: Tensor<1>, b: Option<Tensor<1>>, eps: f64, out: DType) -> Tensor<D> {
    use burn::backend::autodiff::checkpoint::strategy::{BalancedCheckpointing, NoCheckpointing};
    use burn::backend::GradientCheckpointingStrategy as Strategy;
    let device = x.device();
    let dims = x.dims();
    let d = dims[D - 1];
    if !is_wgsl_device(&device) || x.dtype() != DType::F32 || d % 4 != 0 || crate::ops::reference_ops() {
        return reference(x, g, b, eps);
    }
    let rows = dims.iter().product::<usize>() / d.max(1);
    let x2 = x.reshape([rows, d]);
    let y = match device.gradient_checkpointing_strategy() {
        None => plain(forward_wgpu(cube(x2), cube(g), b.map(cube), eps, out).0),
        Some(Strategy::Balanced) => autodiff::norm_autodiff::<BalancedCheckpointing>(x2, g, b, eps, out),
        Some(_) => autodiff::norm_autodiff::<NoCheckpointing>(x2, g, b, eps, out),
    };
    y.reshape(dims)
}

/// burn tensor ops: LayerNorm when `b` is given, else RMSNorm.
pub fn reference<const D: usize>(x: Tensor<D>, g: Tensor<1>, b: Option<Tensor<1>>, eps: f64) -> Tensor<D> {
    let g: Tensor<D> = g.unsqueeze();
    match b {
        Some(b) => {
            let mean = x.clone().mean_dim(D - 1);
            let centered = x - mean;
            let var = centered.clone().powi_scalar(2).mean_dim(D - 1);
            centered.div(var.add_scalar(eps).sqrt()).mul(g).add(b.unsqueeze())
        }
        None => {
            let rms = x.clone().powi_scalar(2).mean_dim(D - 1).add_scalar(eps).sqrt();
            x.div(rms).mul(g)
        }
    }
}

#[derive(Debug)]
struct NormKernel {
    backward: bool,
    rms: bool,
    workgroup: u32,
    cols: u32,
    /// y's dtype (the forward)
    out: DType,
}

impl KernelSource for NormKernel {
    fn source(&self) -> SourceTemplate {
        SourceTemplate::new(if self.backward { BACKWARD_WGSL } else { FORWARD_WGSL })
            .register("wg", self.workgroup.to_string())
            .register("cols", self.cols.to_string())
            .register("rms", self.rms.to_string())
            .register("workgroup_sum", WORKGROUP_SUM_WGSL)
            .register("enable_f16", if self.out == DType::F16 { "enable f16;" } else { "" })
            .register("y_ty", out_lanes(self.out, 4))
    }
    fn id(&self) -> KernelId {
        kernel_id::<Self>().info((self.backward, self.rms, self.workgroup, self.cols, self.out == DType::F16))
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// (workgroup, vec4 columns per thread, chunks, rows per chunk) for `rows` rows of `d4` vec4s.
fn plan(x: &CubeTensor, rows: usize, d4: usize) -> (u32, u32, usize, usize) {
    let props = x.client.properties();
    // a power of two (the tree reduction), about four vec4 per thread
    let workgroup = (d4.div_ceil(4).next_power_of_two() as u32).clamp(32, props.hardware.max_units_per_cube.clamp(32, 256));
    let cols = (d4 as u32).div_ceil(workgroup).max(1);
    let (chunks, per) = row_chunks(rows, 1, TARGET_WORKGROUPS, MIN_ROWS_PER_GROUP, props.hardware.max_cube_count.0 as usize);
    (workgroup, cols, chunks, per)
}

/// (y (rows, d) in `out`, stats (rows, 2)) for contiguous x (rows, d), g and b (d).
fn forward_wgpu(x: CubeTensor, g: CubeTensor, b: Option<CubeTensor>, eps: f64, out: DType) -> (CubeTensor, CubeTensor) {
    let (rows, d) = (x.meta.shape()[0], x.meta.shape()[1]);
    let (workgroup, cols, chunks, per) = plan(&x, rows, d / 4);
    let y = empty(&x, &[rows, d], out);
    let stats = empty_f32(&x, &[rows, 2]);
    let rms = b.is_none();
    // RMSNorm reads no bias, but the binding needs a buffer of its own: WebGPU refuses one
    // buffer bound twice as writable storage in a dispatch
    let b = b.unwrap_or_else(|| empty_f32(&x, &[4]));
    if rows > 0 {
        let args = arguments(&[&x, &g, &b, &y, &stats], &[rows as u32, (d / 4) as u32, per as u32, (eps as f32).to_bits()]);
        let kernel = NormKernel { backward: false, rms, workgroup, cols, out };
        x.client.launch(Box::new(SourceKernel::new(kernel, CubeDim::new_1d(workgroup))), CubeCount::Static(chunks as u32, 1, 1), args);
    }
    (y, stats)
}

/// (dx (rows, d), dg (d), db (d)) for contiguous inputs.
fn backward_wgpu(x: CubeTensor, g: CubeTensor, stats: CubeTensor, dy: CubeTensor, rms: bool) -> (Tensor<2>, Tensor<1>, Tensor<1>) {
    let (rows, d) = (x.meta.shape()[0], x.meta.shape()[1]);
    let (workgroup, cols, chunks, per) = plan(&x, rows, d / 4);
    let dx = empty_f32(&x, &[rows, d]);
    let part = empty_f32(&x, &[chunks, 2 * d]);
    let args = arguments(&[&x, &g, &stats, &dy, &dx, &part], &[rows as u32, (d / 4) as u32, per as u32, 0]);
    let kernel = NormKernel { backward: true, rms, workgroup, cols, out: DType::F32 };
    x.client.launch(Box::new(SourceKernel::new(kernel, CubeDim::new_1d(workgroup))), CubeCount::Static(chunks as u32, 1, 1), args);
    let sums = plain::<2>(sum_rows_wgpu(part, chunks, 2 * d)).reshape([2, d]);
    (plain(dx), sums.clone().narrow(0, 0, 1).reshape([d]), sums.narrow(0, 1, 1).reshape([d]))
}

mod autodiff {
    //! The norms under burn's autodiff: the forward keeps x, g and the row statistics; the
    //! registered backward runs `shaders/norm_backward.wgsl`.
    use super::{backward_wgpu, forward_wgpu};
    use crate::ops::kernel::{cube, plain, raw};
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::wgpu::{CubeBackend, CubeTensor};
    use burn::backend::{Autodiff, DispatchKindConversion, DispatchTensor};
    use burn::tensor::{DType, Tensor};

    /// x (rows, d), g (d), stats (rows, 2)
    type State = (CubeTensor, CubeTensor, CubeTensor);

    #[derive(Debug)]
    struct RmsBackward;

    #[derive(Debug)]
    struct LayerNormBackward;

    impl Backward<CubeBackend, 2> for RmsBackward {
        type State = State;
        fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
            // (f32 for the kernel; a no-op unless an f16 y's gradient came in f16)
            let dy = cube(plain::<2>(grads.consume::<CubeBackend>(&ops.node)).cast(DType::F32));
            let (x, g, stats) = ops.state;
            let (dx, dg, _) = backward_wgpu(x, g, stats, dy, true);
            let [px, pg] = ops.parents;
            for (parent, grad) in [(px, raw(dx)), (pg, raw(dg))] {
                if let Some(node) = parent {
                    grads.register::<CubeBackend>(node.id, grad);
                }
            }
        }
    }

    impl Backward<CubeBackend, 3> for LayerNormBackward {
        type State = State;
        fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
            // (f32 for the kernel; a no-op unless an f16 y's gradient came in f16)
            let dy = cube(plain::<2>(grads.consume::<CubeBackend>(&ops.node)).cast(DType::F32));
            let (x, g, stats) = ops.state;
            let (dx, dg, db) = backward_wgpu(x, g, stats, dy, false);
            let [px, pg, pb] = ops.parents;
            for (parent, grad) in [(px, raw(dx)), (pg, raw(dg)), (pb, raw(db))] {
                if let Some(node) = parent {
                    grads.register::<CubeBackend>(node.id, grad);
                }
            }
        }
    }

    pub fn norm_autodiff<C: CheckpointStrategy>(x: Tensor<2>, g: Tensor<1>, b: Option<Tensor<1>>, eps: f64, out: DType) -> Tensor<2>
    where
        DispatchTensor: DispatchKindConversion<Autodiff<CubeBackend, C>>,
    {
        type Ad<C> = Autodiff<CubeBackend, C>;
        let x = x.try_into_primitive::<Ad<C>>().expect("x on the autodiff device");
        let g = g.try_into_primitive::<Ad<C>>().expect("g on the autodiff device");
        let (xn, gn) = (x.node(), g.node());
        let (x, g) = (cube(plain::<2>(x.into_primitive())), cube(plain::<1>(g.into_primitive())));
        let res = match b {
            None => {
                let (y, stats) = forward_wgpu(x.clone(), g.clone(), None, eps, out);
                match RmsBackward.prepare::<C>([xn, gn]).compute_bound().stateful() {
                    OpsKind::Tracked(prep) => prep.finish((x, g, stats), y),
                    OpsKind::UnTracked(prep) => prep.finish(y),
                }
            }
            Some(b) => {
                let b = b.try_into_primitive::<Ad<C>>().expect("b on the autodiff device");
                let bn = b.node();
                let b = cube(plain::<1>(b.into_primitive()));
                let (y, stats) = forward_wgpu(x.clone(), g.clone(), Some(b), eps, out);
                match LayerNormBackward.prepare::<C>([xn, gn, bn]).compute_bound().stateful() {
                    OpsKind::Tracked(prep) => prep.finish((x, g, stats), y),
                    OpsKind::UnTracked(prep) => prep.finish(y),
                }
            }
        };
        Tensor::<2>::from_primitive::<Ad<C>>(res)
    }
}
