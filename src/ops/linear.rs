//! The linear layer `x · wᵀ + b` (PyTorch-layout weight (out, in)) with its own backward on
//! wgpu. burn's autodiff of the same expression computes the weight gradient as one matmul whose
//! output is small and whose inner size is every token of the batch (a 64 × 512 step: 32768), and
//! the bias gradient as a reduction along the rows, both of which leave most of a large GPU idle
//! (BENCHMARKS.md §5). Here:
//!
//! - dW = dyᵀ · x splits the rows into chunks when the output has few tiles (split-K: one batched
//!   matmul of the chunks, then their partial products summed by `ops::sum_rows`);
//! - db = Σ_rows dy by `ops::sum_rows`;
//! - in mixed precision (`train --precision mixed`) the forward and both products run on the
//!   tensor cores (`ops::matmul::matmul_coop`: f16 products, f32 accumulation, its own split-K,
//!   transposed operands read in place) where padding the sizes to the kernel's blocks costs
//!   little; weights, gradients and bias stay f32.
//!
//! The reference is burn's autodiff of `x.matmul(wᵀ) + b` (every backend but WGSL-on-wgpu, and
//! wgpu with `RANKMAMBA_REFERENCE_OPS=1`, see [`crate::ops::reference_ops`]).

use crate::ops::matmul::{coop_matmul_available, coop_shape, matmul_coop, product_shape};
use crate::ops::sum_rows::sum_rows;
use burn::tensor::{DType, Device, Tensor};

/// `x · wᵀ (+ b)` for `x` (m, in), `w` (out, in), `b` (out).
pub fn linear(x: Tensor<2>, w: &Tensor<2>, b: Option<&Tensor<1>>, mixed: bool) -> Tensor<2> {
    use burn::backend::autodiff::checkpoint::strategy::{BalancedCheckpointing, NoCheckpointing};
    use burn::backend::GradientCheckpointingStrategy as Strategy;
    let device = x.device();
    let mixed = mixed && coop_matmul_available(&device);
    if !crate::ops::kernel::is_wgsl_device(&device) || crate::ops::reference_ops() {
        // the reference, except that mixed precision keeps its tensor-core products
        if mixed && fits_coop(&x, w) {
            let y = match device.gradient_checkpointing_strategy() {
                None => forward(x, w.clone(), None, true),
                Some(Strategy::Balanced) => autodiff::linear_autodiff::<BalancedCheckpointing>(x, w.clone(), None, Plan::REFERENCE_MIXED),
                Some(_) => autodiff::linear_autodiff::<NoCheckpointing>(x, w.clone(), None, Plan::REFERENCE_MIXED),
            };
            return add_bias(y, b);
        }
        return add_bias(x.matmul(w.clone().transpose()), b);
    }
    let plan = Plan { mixed, fast_backward: true };
    match device.gradient_checkpointing_strategy() {
        None => forward(x, w.clone(), b.cloned(), mixed),
        Some(Strategy::Balanced) => autodiff::linear_autodiff::<BalancedCheckpointing>(x, w.clone(), b.cloned(), plan),
        Some(_) => autodiff::linear_autodiff::<NoCheckpointing>(x, w.clone(), b.cloned(), plan),
    }
}

fn add_bias(y: Tensor<2>, b: Option<&Tensor<1>>) -> Tensor<2> {
    match b {
        Some(b) => y + b.clone().unsqueeze_dim(0),
        None => y,
    }
}

#[derive(Debug, Clone, Copy)]
struct Plan {
    /// tensor-core products where the sizes fit
    mixed: bool,
    /// split-K weight gradient (else one matmul; the reference adds its bias outside the op)
    fast_backward: bool,
}

impl Plan {
    const REFERENCE_MIXED: Plan = Plan { mixed: true, fast_backward: false };
}

fn fits_coop(x: &Tensor<2>, w: &Tensor<2>) -> bool {
    let ([m, k], n) = (x.dims(), w.dims()[0]);
    fits(m, n, k)
}

/// Every side a multiple of the tensor-core kernel's block (also a multiple of its K step), so
/// the forward and both backward products fit it.
fn fits(m: usize, n: usize, k: usize) -> bool {
    let shape = coop_shape();
    [m, n, k].iter().all(|s| s % shape.block_m() == 0 && s % shape.block_n() == 0 && s % shape.step_k() == 0)
}

/// How much larger (in multiply-adds) the zero-padded product on the tensor cores may be than
/// the real one (the tensor-core kernel is ~7× burn's f32 matmul, BENCHMARKS.md §5). Mamba's
/// x_proj (80 outputs) and dt_proj (rank 48) run in blocks of those sides
/// (`CoopShape::for_product`), so only sides off the 16s pad.
const MAX_PADDING: usize = 3;

/// (m, n, k) rounded up to the tensor-core kernel's blocks, when that costs at most
/// [`MAX_PADDING`]× the product.
fn coop_dims(m: usize, n: usize, k: usize) -> Option<(usize, usize, usize)> {
    if m * n * k == 0 {
        return None;
    }
    let shape = product_shape(m, n, k);
    let (mp, np, kp) = (m.next_multiple_of(shape.block_m()), n.next_multiple_of(shape.block_n()), k.next_multiple_of(shape.step_k()));
    (mp * np * kp <= MAX_PADDING * m * n * k).then_some((mp, np, kp))
}

/// `a · b` on the tensor cores when `mixed` and the kernel's zero padding of the sizes costs at
/// most [`MAX_PADDING`]×; else burn's f32 matmul (also where the kernel declines: no
/// cooperative matrices, an adapter whose subgroup size varies, a side not a multiple of 4).
fn product(a: Tensor<2>, b: Tensor<2>, mixed: bool) -> Tensor<2> {
    let ([m, k], n) = (a.dims(), b.dims()[1]);
    if mixed && coop_dims(m, n, k).is_some() {
        if let Ok(c) = matmul_coop(a.clone(), b.clone()) {
            return c;
        }
    }
    // operands the caller already cast for the tensor cores go back to f32 here
    let f32 = |t: Tensor<2>| if t.dtype() == DType::F32 { t } else { t.cast(DType::F32) };
    f32(a).matmul(f32(b))
}

/// Whether the forward and both backward products of `x` (m, k) · `w` (n, k)ᵀ all run on the
/// tensor cores: then x and w are cast to f16 once, in the forward, and kept so for the backward
/// (half the saved activation memory, a third of the casts).
fn all_on_tensor_cores(m: usize, n: usize, k: usize, plan: Plan) -> bool {
    plan.mixed && coop_dims(m, n, k).is_some() && coop_dims(m, k, n).is_some() && coop_dims(n, k, m).is_some()
}

/// Whether [`linear`] of x (m, k) and w (n, k) on `device` runs its forward and both backward
/// products on the tensor cores with x and dy cast to f16. The kernel producing x (or dy) may
/// then write it in f16 itself: the same rounding as the cast it saves (a Mamba-130m step's casts
/// moved ~44 GB, BENCHMARKS.md §5). `RANKMAMBA_FUSED_CASTS=0` keeps the casts (a benchmark knob).
pub fn takes_f16(device: &Device, m: usize, n: usize, k: usize, mixed: bool) -> bool {
    static KNOB: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let fused = *KNOB.get_or_init(|| std::env::var("RANKMAMBA_FUSED_CASTS").as_deref() != Ok("0"));
    fused
        && mixed
        && crate::ops::kernel::is_wgsl_device(device)
        && !crate::ops::reference_ops()
        && coop_matmul_available(device)
        && all_on_tensor_cores(m, n, k, Plan { mixed: true, fast_backward: true })
}

fn forward(x: Tensor<2>, w: Tensor<2>, b: Option<Tensor<1>>, mixed: bool) -> Tensor<2> {
    add_bias(product(x, w.transpose(), mixed), b.as_ref())
}

/// Output tiles of a matmul (burn's and the tensor-core kernel's are at least 64 × 64) that
/// keep a large GPU busy; below this the weight gradient is split along its inner size.
const BUSY_TILES: usize = 1024;
/// The fewest rows a split-K chunk keeps.
const MIN_CHUNK_ROWS: usize = 256;

/// Chunks of the `m` rows for dW (n, k) = dyᵀ (n, m) · x (m, k): a power of two dividing `m`.
fn split_k(m: usize, n: usize, k: usize) -> usize {
    let tiles = n.div_ceil(64) * k.div_ceil(64);
    let mut s = 1;
    while tiles * s < BUSY_TILES && m % (2 * s) == 0 && m / (2 * s) >= MIN_CHUNK_ROWS {
        s *= 2;
    }
    s
}

/// dW = dyᵀ · x for dy (m, n), x (m, k).
fn weight_grad(dy: Tensor<2>, x: Tensor<2>, plan: Plan) -> Tensor<2> {
    let ([m, n], k) = (dy.dims(), x.dims()[1]);
    if plan.mixed && coop_dims(n, k, m).is_some() || !plan.fast_backward {
        return product(dy.transpose(), x, plan.mixed);
    }
    let s = split_k(m, n, k);
    if s == 1 {
        return dy.transpose().matmul(x);
    }
    let parts = dy.reshape([s, m / s, n]).swap_dims(1, 2).matmul(x.reshape([s, m / s, k])); // (s, n, k)
    sum_rows(parts.reshape([s, n * k])).reshape([n, k])
}

mod autodiff {
    //! [`linear`](super::linear) under burn's autodiff: the forward keeps x and w (f32, or f16
    //! when all three products run on the tensor cores); the registered backward computes
    //! dx = dy · w, dw = dyᵀ · x and db = Σ_rows dy.
    use super::{all_on_tensor_cores, forward, product, weight_grad, Plan};
    use crate::ops::sum_rows::sum_rows;
    use crate::ops::kernel::{plain, raw};
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::autodiff::NodeId;
    use burn::backend::wgpu::{CubeBackend, CubeTensor};
    use burn::backend::{Autodiff, DispatchKindConversion, DispatchTensor};
    use burn::tensor::{DType, Tensor};

    #[derive(Debug)]
    struct LinearBackward(Plan);

    #[derive(Debug)]
    struct LinearBiasBackward(Plan);

    type State = (CubeTensor, CubeTensor);

    /// dx and dw into `grads` for the parents that want them (with f16 x and w from the forward,
    /// dy is cast once for both products).
    fn input_grads(plan: Plan, dy: &Tensor<2>, state: State, px: Option<NodeId>, pw: Option<NodeId>, grads: &mut Gradients) {
        let (x, w) = (plain::<2>(state.0), plain::<2>(state.1));
        let dy = &if x.dtype() == DType::F16 { dy.clone().cast(DType::F16) } else { dy.clone() };
        if let Some(id) = px {
            grads.register::<CubeBackend>(id, raw(product(dy.clone(), w, plan.mixed)));
        }
        if let Some(id) = pw {
            grads.register::<CubeBackend>(id, raw(weight_grad(dy.clone(), x, plan)));
        }
    }

    impl Backward<CubeBackend, 2> for LinearBackward {
        type State = State;
        fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
            let dy = plain::<2>(grads.consume::<CubeBackend>(&ops.node));
            let [px, pw] = ops.parents;
            input_grads(self.0, &dy, ops.state, px.map(|n| n.id), pw.map(|n| n.id), grads);
        }
    }

    impl Backward<CubeBackend, 3> for LinearBiasBackward {
        type State = State;
        fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
            let dy = plain::<2>(grads.consume::<CubeBackend>(&ops.node));
            let [px, pw, pb] = ops.parents;
            if let Some(node) = pb {
                // (an f16 dy, from a kernel that wrote it for the products, summed in f32)
                grads.register::<CubeBackend>(node.id, raw(sum_rows(dy.clone().cast(DType::F32))));
            }
            input_grads(self.0, &dy, ops.state, px.map(|n| n.id), pw.map(|n| n.id), grads);
        }
    }

    pub fn linear_autodiff<C: CheckpointStrategy>(x: Tensor<2>, w: Tensor<2>, b: Option<Tensor<1>>, plan: Plan) -> Tensor<2>
    where
        DispatchTensor: DispatchKindConversion<Autodiff<CubeBackend, C>>,
    {
        type Ad<C> = Autodiff<CubeBackend, C>;
        let x = x.try_into_primitive::<Ad<C>>().expect("x on the autodiff device");
        let w = w.try_into_primitive::<Ad<C>>().expect("w on the autodiff device");
        let b = b.map(|b| b.try_into_primitive::<Ad<C>>().expect("b on the autodiff device"));
        let (xn, wn) = (x.node(), w.node());
        let (x, w) = (x.into_primitive(), w.into_primitive());
        let ([m, k], n) = (x.meta.shape().dims::<2>(), w.meta.shape()[0]);
        let (x, w) = if all_on_tensor_cores(m, n, k, plan) {
            (raw(plain::<2>(x).cast(DType::F16)), raw(plain::<2>(w).cast(DType::F16)))
        } else {
            (x, w)
        };
        let out = |bias: Option<CubeTensor>| raw(forward(plain(x.clone()), plain::<2>(w.clone()), bias.map(plain::<1>), plan.mixed));
        let res = match b {
            None => match LinearBackward(plan).prepare::<C>([xn, wn]).compute_bound().stateful() {
                OpsKind::Tracked(prep) => prep.finish((x.clone(), w.clone()), out(None)),
                OpsKind::UnTracked(prep) => prep.finish(out(None)),
            },
            Some(b) => {
                let bn = b.node();
                let b = b.into_primitive();
                match LinearBiasBackward(plan).prepare::<C>([xn, wn, bn]).compute_bound().stateful() {
                    OpsKind::Tracked(prep) => prep.finish((x.clone(), w.clone()), out(Some(b))),
                    OpsKind::UnTracked(prep) => prep.finish(out(Some(b))),
                }
            }
        };
        Tensor::<2>::from_primitive::<Ad<C>>(res)
    }
}

#[cfg(test)]
mod tests {
    use super::{coop_dims, split_k};

    #[test]
    fn padding_only_where_it_stays_cheap() {
        // Mamba-130m at 64 × 512: x_proj's forward, dx, dW; dt_proj's forward, dx, dW
        // (in blocks of their narrow side, `CoopShape::for_product`: no padding)
        assert_eq!(coop_dims(32768, 80, 1536), Some((32768, 80, 1536)));
        assert_eq!(coop_dims(32768, 1536, 80), Some((32768, 1536, 80)));
        assert_eq!(coop_dims(80, 1536, 32768), Some((80, 1536, 32768)));
        assert_eq!(coop_dims(32768, 1536, 48), Some((32768, 1536, 48)));
        assert_eq!(coop_dims(32768, 48, 1536), Some((32768, 48, 1536)));
        // already on the blocks
        assert_eq!(coop_dims(256, 128, 64), Some((256, 128, 64)));
        // a tiny model's rank-4 Δ projection: 16× the work, burn's matmul instead
        assert_eq!(coop_dims(32768, 128, 4), None);
        assert_eq!(coop_dims(0, 128, 64), None);
    }

    #[test]
    fn split_k_only_for_small_outputs_and_divides_the_rows() {
        // a 64 × 512 Mamba-130m step: x_proj's and dt_proj's weight gradients split, in_proj's
        // hardly
        assert_eq!(split_k(32768, 80, 1536), 32);
        assert_eq!(split_k(32768, 1536, 48), 64);
        assert_eq!(split_k(32768, 3072, 768), 2);
        assert_eq!(split_k(100, 5, 7), 1);
        for &(m, n, k) in &[(32768, 80, 1536), (4096 * 3, 10, 10), (1000, 3, 3), (1, 1, 1)] {
            let s = split_k(m, n, k);
            assert!(m % s == 0 && (s == 1 || m / s >= super::MIN_CHUNK_ROWS), "{m}×{n}×{k}: {s}");
        }
    }
}
