//! The embedding lookup `weight[ids]` of the models' token embeddings, with a training backward
//! that does not go through burn's select-assign.
//!
//! burn's backward of `select` adds each token's gradient row into a zeroed (vocab, d) table with
//! a select-assign kernel: 8 ms per micro-batch of 64 × 512 tokens into Mamba-130m's 50280 rows
//! on the H200 (BENCHMARKS.md §5). The token ids come from the host, so the host also groups the
//! positions by id ([`TokenSegments`], uploaded with the batch), and on wgpu the backward
//! (`shaders/embedding_backward.wgsl`) sums each id's rows in one pass, in position order. The
//! reference (any other device, no segments, `RANKMAMBA_REFERENCE_OPS=1`) is burn's `select`.

use crate::error::{Error, Result};
use crate::ops::kernel::{arguments, cube, f32_lanes, is_wgsl_device, kernel_id, plain};
use burn::backend::wgpu::{CubeDim, CubeTensor, KernelSource, SourceKernel, SourceTemplate};
use burn::cubecl::prelude::{CubeCount, KernelId};
use burn::tensor::{DType, Device, Int, Tensor, TensorData};

const BACKWARD_WGSL: &str = include_str!("../../shaders/embedding_backward.wgsl");

/// A batch's token positions grouped by id: segment u is `order[starts[u]..starts[u + 1]]`, all
/// of token `ids[u]`. Every tensor has the batch's token count (`starts` one more) whatever the
/// number of distinct ids, the empty segments last, so batches of one shape give tensors of one
/// shape (a captured training step refreshes them in place).
#[derive(Clone, Debug)]
pub struct TokenSegments {
    /// (tokens)
    pub order: Tensor<1, Int>,
    /// (tokens + 1)
    pub starts: Tensor<1, Int>,
    /// (tokens)
    pub ids: Tensor<1, Int>,
}

/// [`TokenSegments`] on the host, as i32 data: (order, starts, ids).
pub fn host_segments(ids: &[i64]) -> Result<[TensorData; 3]> {
    let n = ids.len();
    if i32::try_from(n).is_err() {
        return Err(Error::Input(format!("a batch of {n} tokens is too large to index with i32")));
    }
    if let Some(bad) = ids.iter().find(|&&id| i32::try_from(id).map_or(true, |v| v < 0)) {
        return Err(Error::Input(format!("token id {bad} is not a valid row of an embedding table")));
    }
    let mut order: Vec<i32> = (0..n as i32).collect();
    // stable: the positions of one id stay in order, so the sums are in position order
    order.sort_by_key(|&p| ids[p as usize]);
    let (mut starts, mut seg_ids) = (Vec::with_capacity(n + 1), Vec::with_capacity(n));
    for (i, &p) in order.iter().enumerate() {
        let id = ids[p as usize] as i32;
        if seg_ids.last() != Some(&id) {
            starts.push(i as i32);
            seg_ids.push(id);
        }
    }
    starts.resize(n + 1, n as i32);
    seg_ids.resize(n, 0);
    Ok([TensorData::new(order, [n]), TensorData::new(starts, [n + 1]), TensorData::new(seg_ids, [n])])
}

impl TokenSegments {
    pub fn upload(host: &[TensorData; 3], device: &Device) -> Self {
        let t = |d: &TensorData| Tensor::<1, Int>::from_data(d.clone(), device);
        TokenSegments { order: t(&host[0]), starts: t(&host[1]), ids: t(&host[2]) }
    }
}

/// `weight[ids]` for `weight` (vocab, d) and `ids` (tokens): (tokens, d). With `segments` (of
/// these ids) on a wgpu autodiff device, the gradient of `weight` runs the WGSL segment sum.
pub fn embedding(weight: Tensor<2>, ids: Tensor<1, Int>, segments: Option<&TokenSegments>) -> Tensor<2> {
    use burn::backend::autodiff::checkpoint::strategy::{BalancedCheckpointing, NoCheckpointing};
    use burn::backend::GradientCheckpointingStrategy as Strategy;
    let device = weight.device();
    if let Some(s) = segments {
        if segment_backward_runs(&device, weight.dtype(), s) {
            match device.gradient_checkpointing_strategy() {
                Some(Strategy::Balanced) => return autodiff::lookup::<BalancedCheckpointing>(weight, ids, s),
                Some(_) => return autodiff::lookup::<NoCheckpointing>(weight, ids, s),
                // no autodiff: nothing to differentiate
                None => {}
            }
        }
    }
    weight.select(0, ids)
}

/// Whether [`embedding`] of an f32 table on `device` with these segments runs the WGSL backward
/// (wgpu, 32-bit ids, not `RANKMAMBA_REFERENCE_OPS=1`); else burn's select.
pub fn segment_backward_runs(device: &Device, dtype: DType, s: &TokenSegments) -> bool {
    let int_ok = [s.order.dtype(), s.starts.dtype(), s.ids.dtype()].iter().all(|&d| int_type(d).is_some());
    is_wgsl_device(device) && dtype == DType::F32 && int_ok && !crate::ops::reference_ops()
}

/// The WGSL type of an int tensor the kernel reads (32-bit only).
fn int_type(d: DType) -> Option<&'static str> {
    match d {
        DType::I32 => Some("i32"),
        DType::U32 => Some("u32"),
        _ => None,
    }
}

#[derive(Debug)]
struct EmbeddingBackwardKernel {
    workgroup: u32,
    /// 4 (vec4 columns) or 1
    width: u32,
    int: &'static str,
}

impl KernelSource for EmbeddingBackwardKernel {
    fn source(&self) -> SourceTemplate {
        SourceTemplate::new(BACKWARD_WGSL)
            .register("wg", self.workgroup.to_string())
            .register("width", self.width.to_string())
            .register("ty", f32_lanes(self.width))
            .register("int", self.int)
    }
    fn id(&self) -> KernelId {
        kernel_id::<Self>().info((self.workgroup, self.width, self.int))
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// dw (vocab, d) from contiguous dy (tokens, d) and the segments of the ids.
fn backward_wgpu(dy: CubeTensor, [order, starts, seg_ids]: [CubeTensor; 3], vocab: usize) -> Tensor<2> {
    let (tokens, d) = (dy.meta.shape()[0], dy.meta.shape()[1]);
    let props = dy.client.properties();
    let width = if d % 4 == 0 { 4 } else { 1 };
    let groups = d / width;
    let workgroup = props.hardware.max_units_per_cube.clamp(32, 256).min(groups.next_power_of_two().max(32) as u32);
    let dy_t = plain::<2>(dy.clone());
    let dw = cube(Tensor::<2>::zeros([vocab, d], &dy_t.device()));
    if tokens > 0 && groups > 0 {
        let int = int_type(order.dtype).expect("checked before the forward");
        let args = arguments(&[&dy, &order, &starts, &seg_ids, &dw], &[tokens as u32, groups as u32, vocab as u32, 0]);
        let rows = tokens.min(props.hardware.max_cube_count.1 as usize) as u32;
        let count = CubeCount::Static((groups as u32).div_ceil(workgroup), rows, 1);
        let kernel = EmbeddingBackwardKernel { workgroup, width: width as u32, int };
        dy.client.launch(Box::new(SourceKernel::new(kernel, CubeDim::new_1d(workgroup))), count, args);
    }
    plain(dw)
}

mod autodiff {
    //! [`embedding`](super::embedding) under burn's autodiff: the forward is burn's select on
    //! the inner tensors; the registered backward runs the WGSL segment sum.
    use super::{backward_wgpu, TokenSegments};
    use crate::ops::kernel::{cube, int_raw, plain, raw};
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::wgpu::{CubeBackend, CubeTensor};
    use burn::backend::{Autodiff, DispatchKindConversion, DispatchTensor};
    use burn::tensor::{Int, Tensor};

    #[derive(Debug)]
    struct EmbeddingBackward;

    impl Backward<CubeBackend, 1> for EmbeddingBackward {
        /// the segments (order, starts, ids) and the table's row count
        type State = ([CubeTensor; 3], usize);
        fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
            let dy = cube(plain::<2>(grads.consume::<CubeBackend>(&ops.node)));
            let (segments, vocab) = ops.state;
            let dw = backward_wgpu(dy, segments, vocab);
            let [pw] = ops.parents;
            if let Some(node) = pw {
                grads.register::<CubeBackend>(node.id, raw(dw));
            }
        }
    }

    pub fn lookup<C: CheckpointStrategy>(weight: Tensor<2>, ids: Tensor<1, Int>, s: &TokenSegments) -> Tensor<2>
    where
        DispatchTensor: DispatchKindConversion<Autodiff<CubeBackend, C>>,
    {
        type Ad<C> = Autodiff<CubeBackend, C>;
        let vocab = weight.dims()[0];
        let w = weight.try_into_primitive::<Ad<C>>().expect("the table on the autodiff device");
        let guards = [w.node()];
        let out = raw(plain::<2>(w.into_primitive()).select(0, ids.inner()));
        let segments = [int_raw(&s.order), int_raw(&s.starts), int_raw(&s.ids)];
        let res = match EmbeddingBackward.prepare::<C>(guards).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((segments, vocab), out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        };
        Tensor::<2>::from_primitive::<Ad<C>>(res)
    }
}

#[cfg(test)]
mod tests {
    use super::host_segments;

    #[test]
    fn segments_group_positions_by_id_in_order_and_pad_to_the_batch() {
        let [order, starts, ids] = host_segments(&[5, 2, 5, 0, 2, 5]).unwrap();
        assert_eq!(order.try_to_vec::<i32>().unwrap(), vec![3, 1, 4, 0, 2, 5]);
        assert_eq!(starts.try_to_vec::<i32>().unwrap(), vec![0, 1, 3, 6, 6, 6, 6]);
        assert_eq!(ids.try_to_vec::<i32>().unwrap(), vec![0, 2, 5, 0, 0, 0]);
        assert!(host_segments(&[1, -1]).unwrap_err().to_string().contains("token id -1"));
        let [o, s, i] = host_segments(&[]).unwrap();
        assert_eq!((o.num_elements(), s.try_to_vec::<i32>().unwrap(), i.num_elements()), (0, vec![0], 0));
    }
}
