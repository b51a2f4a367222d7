//! A tensor-core matmul in hand-written WGSL (`shaders/matmul_coop.wgsl`): f16 products, f32
//! accumulation, on wgpu's experimental cooperative matrices. burn's own WGSL matmul cannot reach
//! the tensor cores; this kernel runs on the same wgpu device as the scan and attention kernels.
//! `train --precision mixed` runs the linear layers through it where their sizes fit
//! (`ops::linear`, BENCHMARKS.md §5).

use crate::error::{Error, Result};
use crate::ops::kernel::{arguments, client_of, empty_f32, is_wgsl_device, kernel_id, plain, raw};
use crate::ops::sum_rows::sum_rows;
use burn::backend::wgpu::{into_contiguous, CubeDim, CubeTensor, KernelSource, SourceKernel, SourceTemplate};
use burn::cubecl::prelude::{CubeCount, KernelId};
use burn::tensor::{DType, Device, Tensor};

const MATMUL_COOP_WGSL: &str = include_str!("../../shaders/matmul_coop.wgsl");

/// Rows and columns of C one workgroup computes (four subgroups of 4 × 4 tiles of 16 × 16), and
/// the K slice staged in workgroup memory per step: the kernel is fastest where the sizes are
/// multiples of these (others are padded with zeros).
pub(crate) const BLOCK_M: usize = 128;
pub(crate) const BLOCK_N: usize = 128;
pub(crate) const STEP_K: usize = 64;

/// Whether `device` runs the kernel: WGSL on wgpu with cooperative matrices, f16 storage and
/// subgroups.
pub fn coop_matmul_available(device: &Device) -> bool {
    is_wgsl_device(device) && crate::device::wgpu_has_shader_f16() && crate::device::wgpu_has_cooperative_matrix() && crate::device::wgpu_has_subgroups()
}

#[derive(Debug)]
struct CoopKernel {
    subgroup: u32,
    /// operands stored transposed (A as (k, m), B as (n, k))
    trans_a: bool,
    trans_b: bool,
    /// sizes off the blocks: loads past the edges read zeros
    edges: bool,
}

impl KernelSource for CoopKernel {
    fn source(&self) -> SourceTemplate {
        // workgroup-memory row strides in vec4s: the staged slice's row, padded by two
        let stride = |cols: usize| (cols / 4 + 2).to_string();
        let load = |trans: bool| if trans { "coopLoad" } else { "coopLoadT" };
        SourceTemplate::new(MATMUL_COOP_WGSL)
            .register("sg", self.subgroup.to_string())
            .register("trans_a", self.trans_a.to_string())
            .register("trans_b", self.trans_b.to_string())
            .register("sa", stride(if self.trans_a { BLOCK_M } else { STEP_K }))
            .register("sb", stride(if self.trans_b { STEP_K } else { BLOCK_N }))
            .register("load_a", load(self.trans_a))
            .register("load_b", load(self.trans_b))
            .register("edges", self.edges.to_string())
    }
    fn id(&self) -> KernelId {
        kernel_id::<Self>().info((self.subgroup, self.trans_a, self.trans_b, self.edges))
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// Fewest K steps one split of a split-K product sums.
const MIN_SPLIT_K: usize = 1024;

/// K splits for a product of `blocks` output blocks: enough that the grid has `busy`
/// workgroups, each split at least [`MIN_SPLIT_K`] long.
fn splits_for(blocks: usize, k: usize, busy: usize) -> usize {
    let mut s = 1;
    while blocks * s < busy && k / (2 * s) >= MIN_SPLIT_K {
        s *= 2;
    }
    s
}

/// `a · b` for `a` (m, k) and `b` (k, n) (cast to f16 unless they are; each may be a transposed
/// view, read in place), all sides multiples of 4: f16 products accumulated in f32. Sizes off the kernel's
/// blocks read zeros past the edges (the result is the (m, n) corner of the padded output);
/// products with few output blocks split K across more workgroups and sum the parts.
pub fn matmul_coop(a: Tensor<2>, b: Tensor<2>) -> Result<Tensor<2>> {
    let device = a.device();
    if !coop_matmul_available(&device) {
        return Err(Error::Backend("this adapter has no cooperative matrices with f16 (wgpu EXPERIMENTAL_COOPERATIVE_MATRIX)".into()));
    }
    let ([m, k], [k2, n]) = (a.dims(), b.dims());
    if k != k2 || [m, n, k].iter().any(|s| s % 4 != 0 || *s == 0) {
        return Err(Error::Input(format!("matmul_coop: ({m}, {k}) · ({k2}, {n}) needs equal inner sizes and every side a non-zero multiple of 4")));
    }
    let client = client_of(&device);
    // four subgroups per workgroup; the shader needs every subgroup full, so the adapter's one
    // subgroup size (NVIDIA: 32)
    let props = client.properties();
    let (sg, sg_min) = (props.hardware.plane_size_max.max(1), props.hardware.plane_size_min.max(1));
    if sg != sg_min {
        return Err(Error::Backend(format!("matmul_coop: subgroup size varies on this adapter ({sg_min}..{sg})")));
    }
    // f16 operands (a cast keeps a transposed view's layout, so it is still read in place)
    let input = |t: Tensor<2>| operand(raw(if t.dtype() == DType::F16 { t } else { t.cast(DType::F16) }));
    let ((a, trans_a), (b, trans_b)) = (input(a), input(b));
    let (m_pad, n_pad) = (m.next_multiple_of(BLOCK_M), n.next_multiple_of(BLOCK_N));
    let edges = (m_pad, n_pad, k.next_multiple_of(STEP_K)) != (m, n, k);
    let busy = props.hardware.num_streaming_multiprocessors.map_or(256, |s| 2 * s as usize);
    let kc = k.div_ceil(splits_for((m_pad / BLOCK_M) * (n_pad / BLOCK_N), k, busy)).next_multiple_of(STEP_K);
    let splits = k.div_ceil(kc);
    let out = empty_f32(&a, &[splits, m_pad, n_pad]);
    let args = arguments(&[&a, &b, &out], &[m as u32, n as u32, k as u32, kc as u32]);
    let count = CubeCount::Static((n_pad / BLOCK_N) as u32, (m_pad / BLOCK_M) as u32, splits as u32);
    let kernel = CoopKernel { subgroup: sg, trans_a, trans_b, edges };
    client.launch(Box::new(SourceKernel::new(kernel, CubeDim::new_1d(4 * sg))), count, args);
    let parts = plain::<3>(out).reshape([splits, m_pad * n_pad]);
    let c = if splits > 1 { sum_rows(parts) } else { parts.reshape([m_pad * n_pad]) }.reshape([m_pad, n_pad]);
    Ok(if (m_pad, n_pad) == (m, n) { c } else { c.slice([0..m, 0..n]) })
}

/// A 2-D operand as the kernel reads it: row-major as it is, a transposed view of a row-major
/// tensor (`dy.transpose()`, `w.transpose()`) as its storage with `true`, anything else copied
/// row-major.
pub(crate) fn operand(t: CubeTensor) -> (CubeTensor, bool) {
    let (shape, strides) = (t.meta.shape(), t.meta.strides());
    let transposed = !t.meta.is_tiled() && shape.num_dims() == 2 && strides[0] == 1 && strides[1] == shape[0];
    if transposed && !t.is_contiguous() { (t, true) } else { (into_contiguous(t), false) }
}

#[cfg(test)]
mod tests {
    use super::{operand, splits_for};

    #[test]
    fn k_is_split_only_for_few_blocks_and_long_sums() {
        // weight gradients of a 64 × 512 Mamba-130m step (K = 32768 tokens): x_proj's 1 × 12
        // blocks, in_proj's half 12 × 6; a forward's 256 × 12 blocks; a short K
        assert_eq!(splits_for(12, 32768, 264), 32);
        assert_eq!(splits_for(72, 32768, 264), 4);
        assert_eq!(splits_for(3072, 768, 264), 1);
        assert_eq!(splits_for(1, 1536, 264), 1);
    }
    use crate::ops::kernel::raw;
    use burn::tensor::{Distribution, Tensor};

    #[test]
    fn transposed_views_are_read_in_place_and_others_copied() {
        if std::env::var("RANKMAMBA_SKIP_WGPU").as_deref() == Ok("1") {
            return;
        }
        let dev = crate::DeviceChoice::Wgpu.device().unwrap();
        let t = Tensor::<2>::random([64, 48], Distribution::Default, &dev);
        let kind = |t: Tensor<2>| {
            let (c, trans) = operand(raw(t));
            (trans, c.is_contiguous())
        };
        assert_eq!(kind(t.clone()), (false, true));
        assert_eq!(kind(t.clone().transpose()), (true, false));
        // a column slice is neither: made contiguous
        assert_eq!(kind(t.clone().narrow(1, 0, 16)), (false, true));
        // a row slice of a transposed view (its stored rows are longer than the view): copied
        assert_eq!(kind(t.transpose().narrow(0, 0, 16)), (false, true));
    }
}
