//! A tensor-core matmul in hand-written WGSL (`shaders/matmul_coop.wgsl`): f16 inputs, f32
//! accumulation, on wgpu's experimental cooperative matrices. burn's own WGSL matmul cannot reach
//! the tensor cores; this kernel runs on the same wgpu device as the scan and attention kernels.
//! `train --precision mixed` runs the linear layers through it where their sizes fit
//! (`ops::linear`, BENCHMARKS.md §5).

use crate::error::{Error, Result};
use crate::ops::kernel::{arguments, client_of, empty_f32, is_wgsl_device, kernel_id, plain, raw};
use burn::backend::wgpu::{into_contiguous, CubeDim, CubeTensor, KernelSource, SourceKernel, SourceTemplate};
use burn::cubecl::prelude::{CubeCount, KernelId};
use burn::tensor::{DType, Device, Tensor};

const MATMUL_COOP_WGSL: &str = include_str!("../../shaders/matmul_coop.wgsl");

/// Rows and columns of C one workgroup computes (four subgroups of 4 × 4 tiles of 16 × 16), and
/// the K slice staged in workgroup memory per step.
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
    }
    fn id(&self) -> KernelId {
        kernel_id::<Self>().info((self.subgroup, self.trans_a, self.trans_b))
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
    let ((a, trans_a), (b, trans_b)) = (operand(raw(f16(a))), operand(raw(f16(b))));
    let out = empty_f32(&a, &[m, n]);
    let args = arguments(&[&a, &b, &out], &[m as u32, n as u32, k as u32, 0]);
    let count = CubeCount::Static((n / BLOCK_N) as u32, (m / BLOCK_M) as u32, 1);
    let kernel = CoopKernel { subgroup: sg, trans_a, trans_b };
    client.launch(Box::new(SourceKernel::new(kernel, CubeDim::new_1d(4 * sg))), count, args);
    Ok(plain(out))
}

/// A 2-D operand as the kernel reads it: row-major as it is, a transposed view of a row-major
/// tensor (`dy.transpose()`, `w.transpose()`) as its storage with `true`, anything else copied
/// row-major.
pub(crate) fn operand(t: CubeTensor) -> (CubeTensor, bool) {
    let (shape, strides) = (t.meta.shape(), t.meta.strides());
    let transposed = !t.meta.is_tiled() && shape.num_dims() == 2 && strides[0] == 1 && strides[1] == shape[0];
    if t.is_contiguous() && !t.meta.is_tiled() || !transposed {
        return (into_contiguous(t), false);
    }
    (t, true)
}

#[cfg(test)]
mod tests {
    use super::operand;
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
